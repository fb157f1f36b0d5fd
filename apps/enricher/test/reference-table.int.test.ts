import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@inlet/telemetry";
import { uniqueName, waitFor } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { describe, expect, onTestFinished } from "vitest";
import { EnrichmentErrorCode } from "../src/enrichment-error.js";
import { ReferenceTable, type ReferenceTableOptions } from "../src/reference-table.js";

const logger = createLogger({ service: "enricher-test", level: "silent" });

async function referenceFile(rows: Record<string, object>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reference-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "merchants.json");
  await writeFile(path, JSON.stringify(rows));
  return path;
}

function options(overrides: Partial<ReferenceTableOptions> = {}): ReferenceTableOptions {
  return {
    table: "merchants",
    bucket: uniqueName("ref"),
    replicas: 1,
    maxEntries: 100,
    logger,
    ...overrides,
  };
}

describe("ReferenceTable", () => {
  test("loads its file into an empty bucket and answers from memory once open", async ({ nats }) => {
    const nc = await connect({ servers: nats.url });
    try {
      const seedFile = await referenceFile({ "m-1": { name: "Corner Shop" }, "m-2": { name: "Cinema" } });
      const opts = options({ seedFile });
      const table = await ReferenceTable.open(nc, opts);
      expect(table.size).toBe(2);
      expect(table.get("m-1")).toEqual({ name: "Corner Shop" });
      expect(table.get("m-3")).toBeUndefined();
      const kv = await new Kvm(nc).open(opts.bucket);
      expect((await kv.get("m-2"))?.json()).toEqual({ name: "Cinema" });
      await table.close();
    } finally {
      await nc.close();
    }
  });

  test("leaves a bucket that already holds entries alone", async ({ nats }) => {
    const nc = await connect({ servers: nats.url });
    try {
      const opts = options({ seedFile: await referenceFile({ "m-1": { name: "From File" } }) });
      const kv = await new Kvm(nc).create(opts.bucket);
      await kv.put("m-9", JSON.stringify({ name: "Maintained Elsewhere" }));
      const table = await ReferenceTable.open(nc, opts);
      expect(table.size).toBe(1);
      expect(table.get("m-1")).toBeUndefined();
      expect(table.get("m-9")).toEqual({ name: "Maintained Elsewhere" });
      await table.close();
    } finally {
      await nc.close();
    }
  });

  test("applies puts and deletes live, and ignores values that are not JSON objects", async ({ nats }) => {
    const nc = await connect({ servers: nats.url });
    try {
      const opts = options();
      const table = await ReferenceTable.open(nc, opts);
      expect(table.size).toBe(0);
      const kv = await new Kvm(nc).open(opts.bucket);
      await kv.put("m-1", JSON.stringify({ name: "New" }));
      await waitFor(() => table.get("m-1")?.name === "New");
      await kv.put("m-1", JSON.stringify({ name: "Renamed" }));
      await waitFor(() => table.get("m-1")?.name === "Renamed");
      await kv.delete("m-1");
      await waitFor(() => table.get("m-1") === undefined);
      await kv.put("m-2", "not json");
      await kv.put("m-3", JSON.stringify({ name: "After" }));
      await waitFor(() => table.get("m-3") !== undefined);
      expect(table.get("m-2")).toBeUndefined();
      await table.close();
    } finally {
      await nc.close();
    }
  });

  test("refuses to open a table larger than maxEntries, and once open ignores keys past the bound", async ({
    nats,
  }) => {
    const nc = await connect({ servers: nats.url });
    try {
      const rows = { a: { n: 1 }, b: { n: 2 }, c: { n: 3 } };
      await expect(
        ReferenceTable.open(nc, options({ maxEntries: 2, seedFile: await referenceFile(rows) })),
      ).rejects.toThrow(expect.objectContaining({ code: EnrichmentErrorCode.TooManyEntries }));

      const opts = options({ maxEntries: 3 });
      const kv = await new Kvm(nc).create(opts.bucket);
      for (const [key, row] of Object.entries(rows)) await kv.put(key, JSON.stringify(row));
      await kv.put("d", JSON.stringify({ n: 4 }));
      await expect(ReferenceTable.open(nc, opts)).rejects.toThrow(/holds more than 3 entries/);

      await kv.delete("d");
      const table = await ReferenceTable.open(nc, opts);
      expect(table.size).toBe(3);
      await kv.put("e", JSON.stringify({ n: 5 }));
      await kv.put("a", JSON.stringify({ n: 10 }));
      await waitFor(() => table.get("a")?.n === 10);
      expect(table.get("e")).toBeUndefined();
      expect(table.size).toBe(3);
      await table.close();
    } finally {
      await nc.close();
    }
  });
});
