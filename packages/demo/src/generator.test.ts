import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type AvroType, createAvroType, loadDatasets, validateEvent } from "@inlet/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { createGenerator, DEMO_DATASETS, type DemoDataset } from "./generator.js";
import { DEVICE_IDS, MERCHANT_IDS, UNKNOWN_DEVICE_IDS, UNKNOWN_MERCHANT_IDS } from "./reference-ids.js";

const configDir = fileURLToPath(new URL("../../../config", import.meta.url));
const NOW = Date.UTC(2024, 4, 1, 12);
const clock = () => NOW;

let types: Map<string, AvroType>;

beforeAll(async () => {
  types = new Map();
  for (const d of await loadDatasets(configDir)) {
    for (const v of d.versions) types.set(`${d.name}@${v.version}`, createAvroType(v.schema));
  }
});

function typeOf(id: string): AvroType {
  const type = types.get(id);
  if (type === undefined) throw new Error(`no schema ${id} in config/datasets`);
  return type;
}

describe("createGenerator", () => {
  it("gives the same events for the same seed and clock", () => {
    for (const dataset of DEMO_DATASETS) {
      const a = createGenerator(dataset, { seed: 11, now: clock }).batch(50);
      const b = createGenerator(dataset, { seed: 11, now: clock }).batch(50);
      const c = createGenerator(dataset, { seed: 12, now: clock }).batch(50);
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
    }
  });

  it.each(DEMO_DATASETS.map((d) => [d]))("makes %s events that are valid under the v1 schema", (dataset) => {
    const type = typeOf(`${dataset}@1`);
    for (const event of createGenerator(dataset as DemoDataset, { seed: 2, now: clock }).batch(5_000)) {
      expect(validateEvent(type, event, `${dataset}@1`)).toEqual([]);
    }
  });

  it("makes clicks for v2 with a campaign, valid under clicks@2 but not clicks@1", () => {
    const events = createGenerator("clicks", { seed: 3, now: clock, version: 2 }).batch(2_000);
    expect(events.some((e) => typeof e.campaign === "string")).toBe(true);
    expect(events.some((e) => e.campaign === null)).toBe(true);
    for (const event of events) expect(validateEvent(typeOf("clicks@2"), event, "clicks@2")).toEqual([]);
    expect(validateEvent(typeOf("clicks@1"), events[0], "clicks@1")[0]?.field).toBe("campaign");
  });

  it("writes timestamps as ms, ISO strings or both, close to the clock with a few late ones", () => {
    const ms = createGenerator("clicks", { seed: 4, now: clock, timestamps: "ms" }).batch(2_000);
    expect(ms.every((e) => typeof e.ts === "number")).toBe(true);
    const iso = createGenerator("clicks", { seed: 4, now: clock, timestamps: "iso" }).batch(100);
    expect(iso.every((e) => typeof e.ts === "string" && !Number.isNaN(Date.parse(e.ts)))).toBe(true);
    const mixed = createGenerator("clicks", { seed: 4, now: clock })
      .batch(100)
      .map((e) => typeof e.ts);
    expect(new Set(mixed)).toEqual(new Set(["number", "string"]));

    const lags = ms.map((e) => NOW - (e.ts as number));
    expect(lags.every((lag) => lag >= 0 && lag <= 7_200_000)).toBe(true);
    const late = lags.filter((lag) => lag > 2_000).length;
    expect(late).toBeGreaterThan(5);
    expect(late).toBeLessThan(50);
  });

  it("keeps events around 250 bytes as JSON", () => {
    for (const dataset of DEMO_DATASETS) {
      const events = createGenerator(dataset, { seed: 5, now: clock }).batch(1_000);
      const mean = events.reduce((sum, e) => sum + JSON.stringify(e).length, 0) / events.length;
      expect(mean, dataset).toBeGreaterThan(100);
      expect(mean, dataset).toBeLessThan(350);
    }
  });

  it("refuses an unknown dataset", () => {
    expect(() => createGenerator("orders" as DemoDataset)).toThrow(/unknown demo dataset "orders"/);
  });
});

describe("reference ids", () => {
  it("match the keys of config/reference/merchants.json and devices.json", async () => {
    const merchants = JSON.parse(await readFile(`${configDir}/reference/merchants.json`, "utf8"));
    const devices = JSON.parse(await readFile(`${configDir}/reference/devices.json`, "utf8"));
    expect(Object.keys(merchants)).toEqual(MERCHANT_IDS);
    expect(Object.keys(devices)).toEqual(DEVICE_IDS);
    for (const id of UNKNOWN_MERCHANT_IDS) expect(merchants[id]).toBeUndefined();
    for (const id of UNKNOWN_DEVICE_IDS) expect(devices[id]).toBeUndefined();
  });
});

describe("the events that exercise later stages", () => {
  const N = 40_000;

  function share(
    events: Array<Record<string, unknown>>,
    test: (e: Record<string, unknown>) => boolean,
  ): number {
    return events.filter(test).length / events.length;
  }

  it("sends about 2% of transactions to unknown merchants, 0.5% above 10,000 and about 1% as tests", () => {
    const events = createGenerator("transactions", { seed: 6, now: clock }).batch(N);
    const known = new Set(MERCHANT_IDS);
    expect(share(events, (e) => !known.has(e.merchant_id as string))).toBeCloseTo(0.02, 2);
    expect(share(events, (e) => (e.amount as number) > 10_000)).toBeGreaterThan(0.003);
    expect(share(events, (e) => (e.amount as number) > 10_000)).toBeLessThan(0.007);
    expect(share(events, (e) => e.is_test === true)).toBeCloseTo(0.01, 2);
    expect(share(events, (e) => (e.amount as number) <= 0)).toBe(0);
  });

  it("has a few crawlers among the clicks", () => {
    const events = createGenerator("clicks", { seed: 7, now: clock }).batch(N);
    expect(share(events, (e) => /bot/i.test(e.user_agent as string))).toBeCloseTo(0.03, 2);
  });

  it("has temperature outliers and unknown devices among the sensor readings", () => {
    const events = createGenerator("sensor_readings", { seed: 8, now: clock }).batch(N);
    const outliers = share(
      events,
      (e) => (e.temperature_c as number) < -30 || (e.temperature_c as number) > 60,
    );
    expect(outliers).toBeGreaterThan(0.003);
    expect(outliers).toBeLessThan(0.007);
    const known = new Set(DEVICE_IDS);
    expect(share(events, (e) => !known.has(e.device_id as string))).toBeCloseTo(0.02, 2);
    expect(share(events, (e) => e.battery_pct === null)).toBeGreaterThan(0.2);
  });

  it("gives each device a stable battery kind", () => {
    const events = createGenerator("sensor_readings", { seed: 9, now: clock }).batch(5_000);
    const mains = new Map<string, boolean>();
    for (const e of events) {
      const isMains = e.battery_pct === null;
      const seen = mains.get(e.device_id as string);
      if (seen !== undefined) expect(isMains).toBe(seen);
      mains.set(e.device_id as string, isMains);
    }
  });
});
