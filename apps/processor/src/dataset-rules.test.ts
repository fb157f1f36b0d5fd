import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import avsc from "avsc";
import { describe, expect, it } from "vitest";
import { compileRules, hasRules } from "./dataset-rules.js";
import { loadPipelineConfig, parsePipelineConfig } from "./pipeline-config.js";
import { PipelineErrorCode } from "./pipeline-error.js";

const CONFIG = fileURLToPath(new URL("../../../config/", import.meta.url));

const transactions = avsc.Type.forSchema(
  {
    type: "record",
    name: "transactions",
    fields: [
      { name: "amount", type: "double" },
      { name: "currency", type: "string" },
      { name: "is_test", type: "boolean" },
    ],
  },
  { wrapUnions: false },
) as avsc.types.RecordType;

const config = parsePipelineConfig(
  {
    datasets: {
      transactions: {
        filter: [{ field: "is_test", op: "ne", value: true }],
        transform: [{ field: "currency", op: "uppercase" }],
      },
      quiet: {},
    },
    alerts: [
      {
        name: "large_transaction",
        dataset: "transactions",
        when: [{ field: "amount", op: "gt", value: 10000 }],
      },
      { name: "euro", dataset: "transactions", when: [{ field: "currency", op: "eq", value: "EUR" }] },
      { name: "other", dataset: "clicks", when: [{ field: "page", op: "exists" }] },
    ],
  },
  "p.json",
);

describe("hasRules", () => {
  it("is true for datasets with filters, transforms or alerts only", () => {
    expect(hasRules(config, "transactions")).toBe(true);
    expect(hasRules(config, "clicks")).toBe(true);
    expect(hasRules(config, "quiet")).toBe(false);
    expect(hasRules(config, "sensor_readings")).toBe(false);
  });
});

describe("compileRules", () => {
  it("compiles the dataset's filter, transforms and its own alerts", () => {
    const rules = compileRules(config, "transactions", transactions);
    expect(rules.alerts.map((a) => a.name)).toEqual(["large_transaction", "euro"]);
    expect(rules.keep({ is_test: true })).toBe(false);
    const event = { amount: 20000, currency: "eur", is_test: false };
    expect(rules.keep(event)).toBe(true);
    rules.transform(event);
    expect(event.currency).toBe("EUR");
    expect(rules.alerts.map((a) => a.matches(event))).toEqual([true, true]);
  });

  it("names the alert when an alert condition does not fit the schema", () => {
    const bad = parsePipelineConfig(
      { alerts: [{ name: "big", dataset: "transactions", when: [{ field: "total", op: "gt", value: 1 }] }] },
      "p.json",
    );
    expect(() => compileRules(bad, "transactions", transactions)).toThrow(
      expect.objectContaining({
        code: PipelineErrorCode.UnknownField,
        message: expect.stringMatching(/^alert "big": dataset "transactions": rule "gt" names field "total"/),
      }),
    );
  });

  it("compiles the demo rules against every version of the demo schemas", async () => {
    const demo = await loadPipelineConfig(`${CONFIG}pipeline.json`);
    let compiled = 0;
    for (const dataset of Object.keys(demo.datasets)) {
      const dir = `${CONFIG}datasets/${dataset}/`;
      for (const file of (await readdir(dir)).filter((f) => f.endsWith(".avsc"))) {
        const schema = JSON.parse(await readFile(dir + file, "utf8"));
        const record = avsc.Type.forSchema(schema, { wrapUnions: false }) as avsc.types.RecordType;
        expect(() => compileRules(demo, dataset, record), `${dataset}/${file}`).not.toThrow();
        compiled++;
      }
    }
    expect(compiled).toBeGreaterThanOrEqual(3);
  });
});
