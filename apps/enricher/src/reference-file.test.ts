import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { EnrichmentErrorCode } from "./enrichment-error.js";
import { isKvKey, readReferenceFile } from "./reference-file.js";

const REFERENCE = fileURLToPath(new URL("../../../config/reference/", import.meta.url));

async function file(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reference-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "table.json");
  await writeFile(path, content);
  return path;
}

describe("readReferenceFile", () => {
  it("reads the demo tables as id → row", async () => {
    for (const name of ["merchants.json", "devices.json"]) {
      const entries = await readReferenceFile(REFERENCE + name);
      expect(entries.length, name).toBeGreaterThan(0);
    }
    const devices = new Map(await readReferenceFile(`${REFERENCE}devices.json`));
    expect(devices.get("dev-0001")).toEqual({ site: "berlin-plant", model: "EnviroSense E3" });
  });

  it("refuses a file that is not an object of objects, naming the entry", async () => {
    await expect(readReferenceFile(await file("[1, 2]"))).rejects.toThrow(/expected an object keyed by id/);
    await expect(readReferenceFile(await file('{ "a": 1 }'))).rejects.toThrow(
      /entry "a" must be an object of columns/,
    );
    await expect(readReferenceFile(await file('{ "a b": {} }'))).rejects.toThrow(
      expect.objectContaining({
        code: EnrichmentErrorCode.InvalidReference,
        message: expect.stringContaining('"a b" cannot be a KV key'),
      }),
    );
  });
});

describe("isKvKey", () => {
  it("accepts NATS KV keys only", () => {
    expect(["m-0001", "dev_1", "a.b", "x/y=z"].map(isKvKey)).toEqual([true, true, true, true]);
    expect(["", "a b", ".a", "a.", "a*", "a>"].map(isKvKey)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
