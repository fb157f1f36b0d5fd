import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { loadEnrichmentConfig, parseEnrichmentConfig } from "./enrichment-config.js";
import { EnrichmentErrorCode } from "./enrichment-error.js";

const DEMO = fileURLToPath(new URL("../../../config/enrichment.json", import.meta.url));

describe("parseEnrichmentConfig", () => {
  it("lists every problem with its path and the file name", () => {
    const attempt = () =>
      parseEnrichmentConfig(
        {
          tables: { merchants: { file: "reference/merchants.json" }, "Bad-Name": {} },
          datasets: {
            transactions: [{ table: "shops", key: "merchant_id", set: {}, foundField: "merchant_found" }],
            clicks: [],
          },
        },
        "config/enrichment.json",
      );
    expect(attempt).toThrow(expect.objectContaining({ code: EnrichmentErrorCode.InvalidConfig }));
    expect(attempt).toThrow(/^config\/enrichment\.json: invalid enrichment config:/);
    expect(attempt).toThrow(/tables\.Bad-Name/);
    expect(attempt).toThrow(/datasets\.transactions\.0\.set: expected at least one field/);
    expect(attempt).toThrow(/datasets\.clicks/);
  });

  it("refuses a join with a table that is not declared", () => {
    expect(() =>
      parseEnrichmentConfig(
        { tables: {}, datasets: { d: [{ table: "shops", key: "k", set: { a: "b" } }] } },
        "e.json",
      ),
    ).toThrow('datasets.d.0.table: table "shops" is not declared under "tables"');
  });
});

describe("loadEnrichmentConfig", () => {
  it("reads the demo config", async () => {
    const config = await loadEnrichmentConfig(DEMO);
    expect(Object.keys(config.tables).sort()).toEqual(["devices", "merchants"]);
    expect(config.datasets.transactions?.[0]?.foundField).toBe("merchant_found");
    expect(config.datasets.sensor_readings?.[0]?.set).toEqual({ site: "site", device_model: "model" });
  });

  it("names the path when the file is missing or not JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "enrichment-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await expect(loadEnrichmentConfig(join(dir, "none.json"))).rejects.toThrow(/none\.json: cannot read/);
    await writeFile(join(dir, "bad.json"), "{");
    await expect(loadEnrichmentConfig(join(dir, "bad.json"))).rejects.toThrow(/bad\.json: not valid JSON/);
  });
});
