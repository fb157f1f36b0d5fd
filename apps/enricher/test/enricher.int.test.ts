import { fileURLToPath } from "node:url";
import {
  type Bus,
  connectBus,
  createSubjects,
  DlqKind,
  DurableName,
  decodeFrame,
  Header,
  publishFrame,
  readFrame,
  StreamName,
  streamName,
} from "@inlet/bus";
import { loadDatasets, registerDatasets, SchemaRegistry } from "@inlet/schema";
import { createLogger, initTelemetry, traceIdFromTraceparent } from "@inlet/telemetry";
import { uniqueName, waitFor } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { metrics } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type EnrichmentConfig, loadEnrichmentConfig } from "../src/enrichment-config.js";
import { EnrichmentErrorCode } from "../src/enrichment-error.js";
import { createEnricher, type Enricher, type EnricherDeps } from "../src/service.js";

const CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const logger = createLogger({ service: "enricher-test", level: "silent" });
const telemetry = initTelemetry({ serviceName: "enricher-test" });
afterAll(() => telemetry.shutdown());

let demo: EnrichmentConfig;
beforeAll(async () => {
  demo = await loadEnrichmentConfig(`${CONFIG_DIR}enrichment.json`);
});

/** One enricher on its own streams, schema bucket and reference buckets. */
interface Harness {
  bus: Bus;
  prefix: string;
  bucketPrefix: string;
  subjects: ReturnType<typeof createSubjects>;
  registry: SchemaRegistry;
  enricher: Enricher;
  /** Publishes a frame to PROCESSED as the processor would; returns its seq. */
  publish(dataset: string, events: Array<{ id: string; event: Record<string, unknown> }>): Promise<number>;
  /** The next message of `stream` (one ordered consumer per stream), or fails after 5 s. */
  next(stream: StreamName): Promise<JsMsg>;
  /** The events of a CURATED frame, decoded. */
  decode(msg: JsMsg): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

type Options = Partial<Pick<EnricherDeps, "enrichment" | "maxReferenceEntries" | "loadReference">>;

const test = natsTest.extend<{ harness: (options?: Options) => Promise<Harness> }>({
  harness: async ({ nats }, use) => {
    const opened: Harness[] = [];
    await use(async (options = {}) => {
      const bus = await connectBus({ servers: nats.url, name: "enricher-test" });
      const prefix = uniqueName("e");
      const bucketPrefix = `${uniqueName("ref")}_`;
      const subjects = createSubjects(prefix);
      const registry = await SchemaRegistry.create(bus.nc, { bucket: uniqueName("schemas") });
      await registerDatasets(registry, await loadDatasets(CONFIG_DIR));
      const enricher = createEnricher({
        bus,
        registry,
        enrichment: demo,
        configDir: CONFIG_DIR,
        logger,
        tracer: telemetry.tracer,
        meter: metrics.getMeter("enricher-test"),
        replicas: 1,
        streamPrefix: prefix,
        referenceBucketPrefix: bucketPrefix,
        ...options,
      });
      const readers = new Map<string, Awaited<ReturnType<typeof bus.js.consumers.get>>>();
      const harness: Harness = {
        bus,
        prefix,
        bucketPrefix,
        subjects,
        registry,
        enricher,
        async publish(dataset, events) {
          const { type } = await registry.get(`${dataset}@1`);
          const ack = await publishFrame(bus.js, subjects.processed(dataset), {
            events: events.map(({ id, event }) => ({
              id,
              ingestedAt: 1_700_000_000_000,
              payload: type.toBuffer(type.clone(event)),
            })),
            schemaId: `${dataset}@1`,
            msgId: uniqueName("frame"),
            traceparent: TRACEPARENT,
          });
          return ack.seq;
        },
        async next(stream) {
          const name = streamName(stream, prefix);
          let reader = readers.get(name);
          if (reader === undefined) {
            reader = await bus.js.consumers.get(name);
            readers.set(name, reader);
          }
          const msg = await reader.next({ expires: 5_000 });
          if (msg === null) throw new Error(`no message on ${name} within 5 s`);
          return msg;
        },
        async decode(msg) {
          const frame = readFrame(msg);
          const { type } = await registry.get(frame.schemaId);
          return decodeFrame(frame.body).map((e) => ({ ...type.fromBuffer(Buffer.from(e.payload)) }));
        },
        async close() {
          await enricher.stop();
          await bus.close();
        },
      };
      opened.push(harness);
      return harness;
    });
    for (const h of opened) await h.close();
  },
});

const txn = (merchantId: string, over: Record<string, unknown> = {}) => ({
  ts: 1_700_000_000_000,
  transaction_id: `t-${merchantId}`,
  account_id: "a-1",
  merchant_id: merchantId,
  amount: 10,
  currency: "EUR",
  status: "captured",
  is_test: false,
  ...over,
});

describe("enricher", () => {
  test("seeds the reference buckets from their files and is ready only once they are loaded", async ({
    harness,
  }) => {
    const h = await harness();
    expect(h.enricher.ready()).toBe(false);
    await h.enricher.start();
    expect(h.enricher.ready()).toBe(true);
    expect(h.enricher.tables.get("merchants")?.get("m-0001")).toMatchObject({ name: "Golden Oak Cinema" });
    expect(h.enricher.tables.get("devices")?.get("dev-0001")).toEqual({
      site: "berlin-plant",
      model: "EnviroSense E3",
    });
    const kv = await new Kvm(h.bus.nc).open(`${h.bucketPrefix}merchants`);
    expect((await kv.status()).values).toBe(h.enricher.tables.get("merchants")?.size);
  });

  test("joins hits, marks misses, and publishes one CURATED frame per input frame", async ({ harness }) => {
    const h = await harness();
    await h.enricher.start();
    const seq = await h.publish("transactions", [
      { id: "e1", event: txn("m-0001") },
      { id: "e2", event: txn("m-9999", { merchant_name: "stale" }) },
    ]);
    const msg = await h.next(StreamName.Curated);
    expect(msg.subject).toBe(h.subjects.curated("transactions"));
    expect(msg.headers?.get(Header.MsgId)).toBe(`enricher:transactions:${seq}`);
    expect(traceIdFromTraceparent(msg.headers?.get(Header.Traceparent))).toBe(
      "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    expect(decodeFrame(readFrame(msg).body).map((e) => e.id)).toEqual(["e1", "e2"]);
    const [hit, miss] = await h.decode(msg);
    expect(hit).toMatchObject({
      merchant_id: "m-0001",
      merchant_name: "Golden Oak Cinema",
      merchant_category: "entertainment",
      merchant_country: "ES",
      merchant_found: true,
    });
    expect(miss).toMatchObject({
      merchant_id: "m-9999",
      merchant_name: null,
      merchant_category: null,
      merchant_country: null,
      merchant_found: false,
    });
    // The lake-writer's consumer was there before the frame, so interest retention kept it.
    const reader = await h.bus.jsm.consumers.info(
      streamName(StreamName.Curated, h.prefix),
      DurableName.lakeWriter("transactions"),
    );
    expect(reader.num_pending).toBe(1);
  });

  test("picks up reference updates and deletes live, without a restart", async ({ harness }) => {
    const h = await harness();
    await h.enricher.start();
    const kv = await new Kvm(h.bus.nc).open(`${h.bucketPrefix}merchants`);
    await kv.put("m-7777", JSON.stringify({ name: "Fresh Bakery", category: "food", country: "FR" }));
    await kv.put(
      "m-0001",
      JSON.stringify({ name: "Renamed Cinema", category: "entertainment", country: "ES" }),
    );
    await kv.delete("m-0002");
    const merchants = h.enricher.tables.get("merchants");
    await waitFor(() => merchants?.get("m-7777") !== undefined && merchants.get("m-0002") === undefined);

    await h.publish("transactions", [
      { id: "n1", event: txn("m-7777") },
      { id: "n2", event: txn("m-0001") },
      { id: "n3", event: txn("m-0002") },
    ]);
    const events = await h.decode(await h.next(StreamName.Curated));
    expect(events.map((e) => [e.merchant_name, e.merchant_found])).toEqual([
      ["Fresh Bakery", true],
      ["Renamed Cinema", true],
      [null, false],
    ]);
  });

  test("passes frames of a dataset without enrichment through, bytes unchanged", async ({ harness }) => {
    const h = await harness();
    await h.enricher.start();
    const click = {
      ts: 1_700_000_000_000,
      user_id: "u-1",
      session_id: "s-1",
      page: "/home",
      referrer: null,
      country: "DE",
      device: "desktop",
      user_agent: "Mozilla/5.0",
      duration_ms: 100,
    };
    const seq = await h.publish("clicks", [{ id: "c1", event: click }]);
    const input = await h.bus.jsm.streams.getMessage(streamName(StreamName.Processed, h.prefix), { seq });
    const output = await h.next(StreamName.Curated);
    expect(Buffer.from(output.data).equals(Buffer.from(input?.data ?? []))).toBe(true);
    expect(output.headers?.get(Header.MsgId)).toBe(`enricher:clicks:${seq}`);
  });

  test("dead-letters an event whose reference value does not fit its field, keeping the rest", async ({
    harness,
  }) => {
    const h = await harness();
    await h.enricher.start();
    const kv = await new Kvm(h.bus.nc).open(`${h.bucketPrefix}merchants`);
    await kv.put("m-bad", JSON.stringify({ name: 42, category: "odd", country: "XX" }));
    await waitFor(() => h.enricher.tables.get("merchants")?.get("m-bad") !== undefined);

    await h.publish("transactions", [
      { id: "ok", event: txn("m-0001") },
      { id: "bad", event: txn("m-bad") },
    ]);
    expect(decodeFrame(readFrame(await h.next(StreamName.Curated)).body).map((e) => e.id)).toEqual(["ok"]);
    const dead = await h.next(StreamName.Dlq);
    expect(dead.subject).toBe(h.subjects.dlq("enricher", "transactions"));
    expect(dead.headers?.get(Header.DlqKind)).toBe(DlqKind.Event);
    expect(dead.headers?.get(Header.EventId)).toBe("bad");
    expect(dead.headers?.get(Header.Error)).toBe(
      'dataset "transactions": field "merchant_name" expected null or string, got 42',
    );
  });

  test("refuses to start when a reference table is larger than the bound", async ({ harness }) => {
    const h = await harness({ maxReferenceEntries: 5 });
    await expect(h.enricher.start()).rejects.toThrow(
      expect.objectContaining({ code: EnrichmentErrorCode.TooManyEntries }),
    );
    expect(h.enricher.ready()).toBe(false);
  });

  test("starts with empty tables when loading reference files is off, and marks every event not found", async ({
    harness,
  }) => {
    const h = await harness({ loadReference: false });
    await h.enricher.start();
    expect(h.enricher.tables.get("merchants")?.size).toBe(0);
    await h.publish("transactions", [{ id: "e1", event: txn("m-0001") }]);
    const [event] = await h.decode(await h.next(StreamName.Curated));
    expect(event).toMatchObject({ merchant_name: null, merchant_found: false });
  });
});
