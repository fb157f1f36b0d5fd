import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AvroSchema } from "./avro-columns.js";
import { compactTable } from "./compact-table.js";
import { type CuratedRow, CuratedTable, type CuratedTableOptions, PartitionBy } from "./curated-table.js";
import { commitDelta, type DeltaAddFile, readCommit, readDeltaSnapshot } from "./delta-log.js";
import { ParquetWriter } from "./parquet-writer.js";
import { SqlEngine } from "./sql-engine.js";
import { tableHistory } from "./table-history.js";

const eventsV1 = {
  type: "record",
  name: "events",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "user_id", type: "string" },
    { name: "amount", type: "double" },
    { name: "n", type: "int" },
  ],
} as AvroSchema;

const eventsV2 = {
  ...(eventsV1 as object),
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "user_id", type: "string" },
    { name: "amount", type: "double" },
    { name: "n", type: "long" },
    { name: "country", type: ["null", "string"], default: null },
  ],
} as AvroSchema;

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 4, 1, 10);
const DAYS = 4;

// Event `i`: on day i % DAYS, with values that tell rows apart.
function event(i: number, version = 1): CuratedRow {
  return {
    event: {
      ts: T0 + (i % DAYS) * DAY + i,
      user_id: `user-${i % 37}`,
      amount: i / 8,
      n: i,
      ...(version === 2 ? { country: i % 2 === 0 ? "FR" : null } : {}),
    },
    eventId: `e${i}`,
    ingestedAt: T0 + i,
    traceId: i % 3 === 0 ? "" : "0af7651916cd43dd8448eb211c80319c",
    schemaVersion: version,
  };
}

describe("compactTable", () => {
  let lakeDir: string;
  let tableDir: string;
  let writer: ParquetWriter;
  let appendWriter: ParquetWriter;

  beforeAll(async () => {
    writer = await ParquetWriter.create({ threads: 2 });
    appendWriter = await ParquetWriter.create({ threads: 1 });
  });
  afterAll(async () => {
    await writer.close();
    await appendWriter.close();
  });
  beforeEach(async () => {
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-compact-"));
    tableDir = join(lakeDir, "curated", "events");
  });
  afterEach(async () => {
    await rm(lakeDir, { recursive: true, force: true });
  });

  const open = (overrides: Partial<CuratedTableOptions> = {}) =>
    CuratedTable.open({
      lakeDir,
      dataset: "events",
      avroSchema: eventsV1,
      schemaVersion: 1,
      eventTimeField: "ts",
      appId: "lake-writer-events",
      writer: appendWriter,
      ...overrides,
    });

  // `batches` appends of `perBatch` events each, every batch one small file per day.
  async function fill(table: CuratedTable, batches: number, perBatch: number, from = 0): Promise<number> {
    let next = from;
    for (let b = 0; b < batches; b++) {
      const rows = Array.from({ length: perBatch }, () => event(next++));
      await table.append(rows, next);
    }
    return next;
  }

  async function allRows(engine: SqlEngine, versions?: Record<string, number>) {
    const result = await engine.rows("SELECT * FROM events ORDER BY ALL", { versions });
    return result.rows;
  }

  async function counts(engine: SqlEngine): Promise<[string | null, string | null]> {
    const result = await engine.rows("SELECT count(*), count(DISTINCT _event_id) FROM events");
    return result.rows[0] as [string | null, string | null];
  }

  it("rewrites 1,000 small files into one per partition in one commit, the rows identical", async () => {
    const table = await open();
    await fill(table, 250, 8); // 250 commits × 4 days = 1,000 files, 2,000 rows
    const before = await readDeltaSnapshot(tableDir);
    expect(before!.files).toHaveLength(1000);
    const engine = await SqlEngine.create({ lakeDir });
    try {
      const rowsBefore = await allRows(engine);
      expect(rowsBefore).toHaveLength(2000);

      const result = await compactTable({ tableDir, writer, appId: "compactor" });
      expect(result).toMatchObject({ version: before!.version + 1, removed: 1000, added: 4 });
      expect(result.partitions).toHaveLength(DAYS);
      for (const partition of result.partitions) {
        expect(partition).toMatchObject({ removed: 250, added: 1, rows: 500 });
        expect(partition.aborted).toBeUndefined();
      }

      const after = await readDeltaSnapshot(tableDir);
      expect(after!.files.length).toBeLessThanOrEqual(DAYS * 2);
      expect(after!.files.map((f) => f.partitionValues.event_date).sort()).toEqual([
        "2024-05-01",
        "2024-05-02",
        "2024-05-03",
        "2024-05-04",
      ]);
      expect(await allRows(engine)).toEqual(rowsBefore);

      // One commit: a remove per small file, an add per new one, none of them a data change.
      const actions = await readCommit(tableDir, result.version!);
      const info = actions.find((a) => "commitInfo" in a);
      expect(info).toMatchObject({ commitInfo: { operation: "OPTIMIZE", appId: "compactor" } });
      const removes = actions.flatMap((a) => ("remove" in a ? [a.remove] : []));
      const adds = actions.flatMap((a) => ("add" in a ? [a.add] : []));
      expect(removes).toHaveLength(1000);
      expect(adds).toHaveLength(4);
      const original = new Map(before!.files.map((f) => [f.path, f]));
      for (const remove of removes) {
        const file = original.get(remove.path)!;
        expect(remove).toEqual({
          path: file.path,
          deletionTimestamp: expect.any(Number),
          dataChange: false,
          extendedFileMetadata: true,
          partitionValues: file.partitionValues,
          size: file.size,
        });
      }
      for (const add of adds) {
        expect(add.dataChange).toBe(false);
        expect(add.path).toMatch(/^event_date=2024-05-0\d\/part-[0-9a-f-]{36}\.zstd\.parquet$/);
        expect(add.stats).toMatchObject({
          numRecords: 500,
          nullCount: { ts: 0, user_id: 0, n: 0, _trace_id: expect.any(Number) },
          minValues: { user_id: "user-0", _schema_version: 1 },
          maxValues: { user_id: "user-9", _schema_version: 1 },
        });
      }
      // Statistics equal those the writer computed for the small files, merged.
      const day1 = before!.files.filter((f) => f.partitionValues.event_date === "2024-05-01");
      const add1 = adds.find((a) => a.partitionValues.event_date === "2024-05-01")!;
      expect(add1.stats!.minValues!.n).toBe(Math.min(...day1.map((f) => f.stats!.minValues!.n as number)));
      expect(add1.stats!.maxValues!.ts).toBe(
        day1
          .map((f) => f.stats!.maxValues!.ts as string)
          .sort()
          .at(-1),
      );

      // Time travel to before the compaction reads the old files, still there until vacuumed.
      expect(await allRows(engine, { events: before!.version })).toEqual(rowsBefore);
      const [latest] = await tableHistory(tableDir, { limit: 1 });
      expect(latest).toMatchObject({ version: result.version, operation: "OPTIMIZE", numFiles: 4 });
      expect(latest).toMatchObject({ numRemovedFiles: 1000, numRecords: 2000 });

      // Nothing is left to compact.
      expect(await compactTable({ tableDir, writer })).toEqual({ removed: 0, added: 0, partitions: [] });
    } finally {
      await engine.close();
    }
  });

  it("packs small files into files of at most the target size and leaves large files alone", async () => {
    const table = await open({ partitionBy: "none", eventTimeField: undefined });
    await fill(table, 20, 50);
    const before = await readDeltaSnapshot(tableDir);
    const size = Math.max(...before!.files.map((f) => f.size));
    const engine = await SqlEngine.create({ lakeDir });
    try {
      const rowsBefore = await allRows(engine);
      // Groups of at most 5 of the largest file's bytes: 20 files → 3 to 5 new files (a group of
      // one file left over is not rewritten).
      const first = await compactTable({ tableDir, writer, targetFileBytes: size * 5 });
      expect(first.removed).toBeGreaterThanOrEqual(18);
      expect(first.added).toBeGreaterThanOrEqual(3);
      expect(first.added).toBeLessThanOrEqual(5);
      expect(await allRows(engine)).toEqual(rowsBefore);
      // With a target at most twice their size the new files are large: left alone.
      const middle = await readDeltaSnapshot(tableDir);
      const added = middle!.files.filter((f) => f.dataChange === false);
      expect(added).toHaveLength(first.added);
      const large = Math.min(...added.map((f) => f.size)) * 2;
      await compactTable({ tableDir, writer, targetFileBytes: large, minFiles: 2 });
      const after = await readDeltaSnapshot(tableDir);
      for (const file of added) expect(after!.files.map((f) => f.path)).toContain(file.path);
      expect(await allRows(engine)).toEqual(rowsBefore);
    } finally {
      await engine.close();
    }
  });

  it("rewrites older files into the current schema: new columns NULL, int widened to long", async () => {
    const v1 = await open();
    const next = await fill(v1, 3, 4);
    const v2 = await open({ avroSchema: eventsV2, schemaVersion: 2 });
    await v2.append([event(next, 2), event(next + 1, 2), event(next + 2, 2), event(next + 3, 2)], 1000);
    const engine = await SqlEngine.create({ lakeDir });
    try {
      const rowsBefore = await allRows(engine);
      const result = await compactTable({ tableDir, writer });
      expect(result.added).toBe(DAYS);
      expect(await allRows(engine)).toEqual(rowsBefore);
      const types = await engine.rows("SELECT typeof(n), typeof(country) FROM events LIMIT 1");
      expect(types.rows).toEqual([["BIGINT", "VARCHAR"]]);
      const countries = await engine.rows("SELECT count(country), count(*) FROM events");
      expect(countries.rows).toEqual([["2", "16"]]);
    } finally {
      await engine.close();
    }
  });

  it("keeps decimals exact and DECIMAL through a rewrite", async () => {
    const ledger = {
      type: "record",
      name: "events",
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 38, scale: 4 } },
      ],
    } as AvroSchema;
    const table = await open({ avroSchema: ledger, partitionBy: PartitionBy.None });
    const amounts = ["1234567890123456789012345678901234.5678", "-0.0001", "0.1000"];
    for (const [i, amount] of amounts.entries()) {
      await table.append(
        [{ event: { ts: DAY, amount }, eventId: `e${i}`, ingestedAt: DAY, traceId: "", schemaVersion: 1 }],
        i + 1,
      );
    }
    const result = await compactTable({ tableDir, writer });
    expect(result).toMatchObject({ removed: 3, added: 1 });
    const engine = await SqlEngine.create({ lakeDir });
    try {
      const back = await engine.rows("SELECT typeof(amount), amount::VARCHAR FROM events ORDER BY _event_id");
      expect(back.rows).toEqual(amounts.map((a) => ["DECIMAL(38,4)", a]));
    } finally {
      await engine.close();
    }
  });

  it("retries at the next version when an append commits during compaction, with the same files", async () => {
    const table = await open();
    let next = await fill(table, 10, 8);
    const racer = await open({ appId: "lake-writer-events-2", writer: appendWriter });
    const start = await readDeltaSnapshot(tableDir);
    let raced = false;
    // The append lands after compaction read the log and before it commits.
    const racing = beforeFirstRewrite(writer, async () => {
      await racer.append([event(next++), event(next++)], 1);
      raced = true;
    });
    const result = await compactTable({ tableDir, writer: racing });
    expect(raced).toBe(true);
    expect(result.version).toBe(start!.version + 2);
    expect(result.removed).toBe(40);
    const snapshot = await readDeltaSnapshot(tableDir);
    // The racer's two files (one per day of its events) and one compacted file per day.
    expect(snapshot!.files).toHaveLength(DAYS + 2);
    const engine = await SqlEngine.create({ lakeDir });
    try {
      expect(await counts(engine)).toEqual(["82", "82"]);
    } finally {
      await engine.close();
    }
  });

  it("aborts a partition whose input another compaction removed first, deleting its new files", async () => {
    const table = await open();
    await fill(table, 10, 8);
    const start = await readDeltaSnapshot(tableDir);
    let inner: Awaited<ReturnType<typeof compactTable>> | undefined;
    const racing = beforeFirstRewrite(writer, async () => {
      inner = await compactTable({ tableDir, writer, partitions: [{ event_date: "2024-05-01" }] });
    });
    const outer = await compactTable({ tableDir, writer: racing });
    expect(inner).toMatchObject({ version: start!.version + 1, removed: 10, added: 1 });
    expect(outer.version).toBe(start!.version + 2);
    const day1 = outer.partitions.find((p) => p.partitionValues.event_date === "2024-05-01");
    expect(day1).toMatchObject({ removed: 0, added: 0 });
    expect(day1!.aborted).toMatch(/^version \d+ removed event_date=2024-05-01\/part-.* first$/);
    expect(outer.partitions.filter((p) => p.aborted === undefined)).toHaveLength(DAYS - 1);
    // The aborted partition's rewrite was deleted: its directory holds the 10 small files and the
    // inner compaction's one file, nothing else.
    expect(await readdir(join(tableDir, "event_date=2024-05-01"))).toHaveLength(11);
    const engine = await SqlEngine.create({ lakeDir });
    try {
      expect(await counts(engine)).toEqual(["80", "80"]);
      expect((await readDeltaSnapshot(tableDir))!.files).toHaveLength(DAYS);
    } finally {
      await engine.close();
    }
  });

  it("loses and duplicates nothing while a second writer keeps appending", async () => {
    const table = await open();
    let next = await fill(table, 50, 8);
    const racer = await open({ appId: "lake-writer-events-2", writer: appendWriter });
    let compacting = true;
    let seq = 0;
    let appended = 0;
    const appends = (async () => {
      // Appends throughout the compaction, and a few after it.
      for (let after = 0; compacting || after < 3; after += compacting ? 0 : 1) {
        const rows = [event(next++), event(next++), event(next++)];
        await racer.append(rows, ++seq);
        appended += rows.length;
      }
    })();
    const compactor = await ParquetWriter.create({ threads: 1 });
    try {
      const result = await compactTable({ tableDir, writer: compactor, targetFileBytes: 64 * 1024 });
      expect(result.version).toBeDefined();
      expect(result.partitions.every((p) => p.aborted === undefined)).toBe(true);
    } finally {
      compacting = false;
      await appends;
      await compactor.close();
    }
    const engine = await SqlEngine.create({ lakeDir });
    try {
      const total = String(400 + appended);
      expect(await counts(engine)).toEqual([total, total]);
    } finally {
      await engine.close();
    }
  });

  it("leaves a partition alone when its rewrite does not count the rows its statistics promise", async () => {
    const table = await open();
    await fill(table, 3, 4);
    const snapshot = await readDeltaSnapshot(tableDir);
    // Another engine's commit re-adding one file with a wrong row count in its statistics.
    const wrong = snapshot!.files.find((f) => f.partitionValues.event_date === "2024-05-02")!;
    const lying: DeltaAddFile = { ...wrong, stats: { ...wrong.stats!, numRecords: 99 } };
    await commitDelta(tableDir, snapshot!.version + 1, [{ add: lying }]);
    const result = await compactTable({ tableDir, writer });
    const day2 = result.partitions.find((p) => p.partitionValues.event_date === "2024-05-02");
    expect(day2?.aborted).toMatch(/^rewrote 3 rows from 3 files whose statistics count 101$/);
    expect(result.removed).toBe(9);
    expect(await readdir(join(tableDir, "event_date=2024-05-02"))).toHaveLength(3);
  });
});

// A writer that runs `hook` once, just before compaction's first rewrite: by then compaction has
// read the log. Only the two members compaction uses are passed on.
function beforeFirstRewrite(writer: ParquetWriter, hook: () => Promise<void>): ParquetWriter {
  let pending: Promise<void> | undefined;
  return {
    rowGroupSize: writer.rowGroupSize,
    withConnection: async (task: Parameters<ParquetWriter["withConnection"]>[0]) => {
      pending ??= hook();
      await pending;
      return writer.withConnection(task);
    },
  } as unknown as ParquetWriter;
}
