import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commitDelta } from "./delta-log.js";
import { tableHistory } from "./table-history.js";

const SIMPLE_TABLE = fileURLToPath(new URL("../test/fixtures/delta/simple_table", import.meta.url));

describe("tableHistory", () => {
  let tableDir: string;
  beforeEach(async () => {
    tableDir = await mkdtemp(join(tmpdir(), "inlet-history-"));
  });
  afterEach(async () => {
    await rm(tableDir, { recursive: true, force: true });
  });

  it("lists a Spark table's commits newest first, from their commitInfo", async () => {
    const history = await tableHistory(SIMPLE_TABLE);
    expect(history.map((h) => [h.version, h.operation])).toEqual([
      [4, "DELETE"],
      [3, "UPDATE"],
      [2, "WRITE"],
      [1, "MERGE"],
      [0, "WRITE"],
    ]);
    expect(history[4]).toMatchObject({
      timestamp: 1587968586154,
      operationParameters: { mode: "ErrorIfExists" },
    });
    expect(history.slice(0, 2).map((h) => h.numRemovedFiles)).toEqual([2, 2]);
    expect(await tableHistory(SIMPLE_TABLE, { limit: 2 })).toEqual(history.slice(0, 2));
  });

  it("counts each commit's files and rows and names its txns", async () => {
    const stats = (numRecords: number) => ({ numRecords, minValues: {}, maxValues: {}, nullCount: {} });
    const add = (path: string, rows: number) => ({
      add: { path, partitionValues: {}, size: 1, modificationTime: 1, dataChange: true, stats: stats(rows) },
    });
    await commitDelta(tableDir, 0, [
      { commitInfo: { timestamp: 1000, operation: "WRITE", operationParameters: { mode: "Append" } } },
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: {
          id: "x",
          format: { provider: "parquet", options: {} },
          schemaString: '{"type":"struct","fields":[]}',
          partitionColumns: [],
          configuration: {},
        },
      },
      add("a.parquet", 3),
      add("b.parquet", 4),
      { txn: { appId: "lake-writer-clicks", version: 17 } },
    ]);
    await commitDelta(tableDir, 1, [{ remove: { path: "a.parquet", dataChange: true } }]);
    const history = await tableHistory(tableDir);
    expect(history[1]).toEqual({
      version: 0,
      timestamp: 1000,
      operation: "WRITE",
      operationParameters: { mode: "Append" },
      numFiles: 2,
      numRecords: 7,
      numRemovedFiles: 0,
      txns: [{ appId: "lake-writer-clicks", version: 17 }],
    });
    // No commitInfo: the operation is unknown and the time is the commit file's.
    expect(history[0]).toMatchObject({ version: 1, operation: "UNKNOWN", numFiles: 0, numRemovedFiles: 1 });
    expect(Math.abs(history[0]!.timestamp - Date.now())).toBeLessThan(60_000);
    expect(await tableHistory(join(tableDir, "missing"))).toEqual([]);
  });
});
