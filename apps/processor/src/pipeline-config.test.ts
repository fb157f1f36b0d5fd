import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { loadPipelineConfig, parsePipelineConfig } from "./pipeline-config.js";
import { PipelineError, PipelineErrorCode } from "./pipeline-error.js";

const DEMO = fileURLToPath(new URL("../../../config/pipeline.json", import.meta.url));

describe("parsePipelineConfig", () => {
  it("fills defaults: no filter, no transforms, no alerts", () => {
    const config = parsePipelineConfig({ datasets: { clicks: {} } }, "p.json");
    expect(config).toEqual({ datasets: { clicks: { filter: [], transform: [] } }, alerts: [] });
    expect(parsePipelineConfig({}, "p.json")).toEqual({ datasets: {}, alerts: [] });
  });

  it("defaults round digits to 0 and scale to multiply 1, add 0", () => {
    const config = parsePipelineConfig(
      {
        datasets: {
          d: {
            transform: [
              { field: "a", op: "round" },
              { field: "a", op: "scale", add: 1 },
            ],
          },
        },
      },
      "p.json",
    );
    expect(config.datasets.d?.transform).toEqual([
      { field: "a", op: "round", digits: 0 },
      { field: "a", op: "scale", multiply: 1, add: 1 },
    ]);
  });

  it("lists every problem with its path and the file name", () => {
    const attempt = () =>
      parsePipelineConfig(
        {
          datasets: {
            Clicks: {},
            clicks: { filter: [{ field: "page", op: "startswith", value: "/" }] },
            sensors: { filter: [{ field: "t", op: "between", min: 10, max: 0 }], transfrom: [] },
          },
          alerts: [{ name: "big", dataset: "transactions", when: [] }],
        },
        "config/pipeline.json",
      );
    expect(attempt).toThrow(PipelineError);
    let message = "";
    try {
      attempt();
    } catch (error) {
      message = (error as PipelineError).message;
      expect((error as PipelineError).code).toBe(PipelineErrorCode.InvalidConfig);
    }
    expect(message).toMatch(/^config\/pipeline\.json: invalid pipeline rules:/);
    expect(message).toContain("datasets.Clicks");
    expect(message).toContain("datasets.clicks.filter.0.op");
    expect(message).toContain("datasets.sensors.filter.0.max: expected min <= max");
    expect(message).toContain("datasets.sensors");
    expect(message).toContain("transfrom");
    expect(message).toContain("alerts.0.when");
  });

  it("refuses two alerts with the same name", () => {
    const big = { name: "big", dataset: "transactions", when: [{ field: "amount", op: "gt", value: 1 }] };
    expect(() => parsePipelineConfig({ alerts: [big, big] }, "p.json")).toThrow(
      'alerts.1.name: duplicate alert name "big"',
    );
  });

  it("refuses alert names that cannot be a subject token", () => {
    expect(() =>
      parsePipelineConfig(
        { alerts: [{ name: "big.one", dataset: "d", when: [{ field: "a", op: "exists" }] }] },
        "p",
      ),
    ).toThrow(/alerts\.0\.name/);
  });
});

describe("loadPipelineConfig", () => {
  it("reads the demo rules", async () => {
    const config = await loadPipelineConfig(DEMO);
    expect(Object.keys(config.datasets).sort()).toEqual(["clicks", "sensor_readings", "transactions"]);
    expect(config.alerts.map((a) => a.name)).toEqual(["large_transaction"]);
  });

  it("names the path when the file is missing or not JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pipeline-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await expect(loadPipelineConfig(join(dir, "missing.json"))).rejects.toThrow(
      /missing\.json: cannot read the pipeline rules/,
    );
    await writeFile(join(dir, "bad.json"), "{ datasets: }");
    await expect(loadPipelineConfig(join(dir, "bad.json"))).rejects.toThrow(/bad\.json: not valid JSON/);
  });
});
