import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkCompatibility } from "./compatibility.js";
import { loadDatasets } from "./datasets.js";
import { SchemaErrorCode } from "./schema-error.js";

const repoConfig = fileURLToPath(new URL("../../../config", import.meta.url));

describe("loadDatasets on the repository's config", () => {
  it("finds the three demo datasets with their versions in order", async () => {
    const datasets = await loadDatasets(repoConfig);
    expect(datasets.map((d) => [d.name, d.versions.map((v) => v.version)])).toEqual([
      ["clicks", [1, 2]],
      ["sensor_readings", [1]],
      ["transactions", [1]],
    ]);
    for (const d of datasets) {
      expect(d.settings).toMatchObject({ eventTimeField: "ts", partitionBy: "event_date" });
      expect(d.settings.description).toEqual(expect.any(String));
    }
  });

  it("holds a clicks v2 that is a BACKWARD-compatible evolution of v1", async () => {
    const clicks = (await loadDatasets(repoConfig)).find((d) => d.name === "clicks")!;
    const [v1, v2] = clicks.versions;
    expect(checkCompatibility(v2!.schema, v1!.schema)).toEqual({ compatible: true });
  });
});

describe("loadDatasets errors", () => {
  let dir: string;
  const settings = JSON.stringify({ eventTimeField: "ts", partitionBy: "event_date" });
  const schema = (name: string) =>
    JSON.stringify({
      type: "record",
      name,
      fields: [{ name: "ts", type: { type: "long", logicalType: "timestamp-millis" } }],
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "inlet-datasets-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function dataset(name: string, files: Record<string, string>): Promise<void> {
    await mkdir(join(dir, "datasets", name), { recursive: true });
    for (const [file, text] of Object.entries(files))
      await writeFile(join(dir, "datasets", name, file), text);
  }

  async function failure(): Promise<{ code: string; message: string }> {
    try {
      await loadDatasets(dir);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error("expected loadDatasets to fail");
  }

  it("loads a minimal dataset", async () => {
    await dataset("orders", { "dataset.json": settings, "1.avsc": schema("orders") });
    const [orders] = await loadDatasets(dir);
    expect(orders?.name).toBe("orders");
    expect(orders?.versions).toHaveLength(1);
  });

  it("refuses the name of the lake's dead-letter table", async () => {
    await dataset("dead_letters", { "dataset.json": settings, "1.avsc": schema("dead_letters") });
    const err = await failure();
    expect(err.code).toBe(SchemaErrorCode.InvalidDatasetConfig);
    expect(err.message).toMatch(/"dead_letters" is the lake's dead-letter table/);
  });

  it("names the file holding bad JSON", async () => {
    await dataset("orders", { "dataset.json": settings, "1.avsc": "{ not json" });
    const err = await failure();
    expect(err.code).toBe(SchemaErrorCode.InvalidDatasetConfig);
    expect(err.message).toMatch(/orders[/\\]1\.avsc: not valid JSON/);
  });

  it("names the file holding an invalid Avro schema", async () => {
    await dataset("orders", {
      "dataset.json": settings,
      "1.avsc": JSON.stringify({
        type: "record",
        name: "orders",
        fields: [{ name: "ts", type: "timestamp" }],
      }),
    });
    expect((await failure()).message).toMatch(/orders[/\\]1\.avsc: invalid Avro schema/);
  });

  it("requires the record to be named after the dataset", async () => {
    await dataset("orders", { "dataset.json": settings, "1.avsc": schema("order") });
    expect((await failure()).message).toMatch(/1\.avsc: expected an Avro record named "orders"/);
  });

  it("requires dataset.json with the event time field present in the schema", async () => {
    await dataset("orders", { "1.avsc": schema("orders") });
    expect((await failure()).message).toMatch(/orders[/\\]dataset\.json: cannot read \(ENOENT\)/);
    await writeFile(
      join(dir, "datasets", "orders", "dataset.json"),
      JSON.stringify({ eventTimeField: "when", partitionBy: "event_date" }),
    );
    expect((await failure()).message).toMatch(/eventTimeField "when" is not a field of the schema/);
  });

  it("lists every problem in dataset.json", async () => {
    await dataset("orders", {
      "dataset.json": JSON.stringify({ partitionBy: 3, compatibility: "SOMETIMES" }),
      "1.avsc": schema("orders"),
    });
    expect((await failure()).message).toMatch(
      /dataset\.json: eventTimeField must be a field name; partitionBy must be a string; compatibility must be one of BACKWARD, FORWARD, FULL, NONE/,
    );
  });

  it("refuses gaps in versions and badly named schema files", async () => {
    await dataset("orders", {
      "dataset.json": settings,
      "1.avsc": schema("orders"),
      "3.avsc": schema("orders"),
    });
    expect((await failure()).message).toMatch(/without gaps, found 1, 3/);
    await rm(join(dir, "datasets", "orders", "3.avsc"));
    await writeFile(join(dir, "datasets", "orders", "v2.avsc"), schema("orders"));
    expect((await failure()).message).toMatch(/v2\.avsc: schema files must be named <version>\.avsc/);
  });

  it("refuses a directory that is not a dataset name", async () => {
    await dataset("My-Orders", { "dataset.json": settings, "1.avsc": schema("orders") });
    expect((await failure()).message).toMatch(/"My-Orders" is not a dataset name/);
  });

  it("skips hidden folders, as a Kubernetes ConfigMap mount has", async () => {
    await dataset("orders", { "dataset.json": settings, "1.avsc": schema("orders") });
    await dataset("..2026_11_24", { "junk.txt": "not a dataset" });
    const defs = await loadDatasets(dir);
    expect(defs.map((d) => d.name)).toEqual(["orders"]);
  });
});
