import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupDeltaLog,
  type DeltaSnapshot,
  readDeltaSnapshot,
  snapshotScanSql,
  writeCheckpoint,
} from "../src/index.js";

// Tables written by Spark (Delta 0.8) and delta-rs, from delta-rs's test data (Apache-2.0).
const FIXTURES = fileURLToPath(new URL("./fixtures/delta/", import.meta.url));

describe("Delta tables written by other engines", () => {
  let instance: DuckDBInstance;
  let db: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(":memory:");
    db = await instance.connect();
  });
  afterAll(() => {
    db.closeSync();
    instance.closeSync();
  });

  async function rows(table: string, select: string, version?: number): Promise<unknown[][]> {
    const snapshot = await readDeltaSnapshot(join(FIXTURES, table), version === undefined ? {} : { version });
    const reader = await db.runAndReadAll(
      `SELECT ${select} FROM (${snapshotScanSql(snapshot!)}) ORDER BY ALL`,
    );
    return reader.getRows();
  }

  it("simple_table: replays adds and removes to the live rows 5, 7, 9", async () => {
    expect(await rows("simple_table", "id")).toEqual([[5n], [7n], [9n]]);
    const snapshot = await readDeltaSnapshot(join(FIXTURES, "simple_table"));
    expect(snapshot!.version).toBe(4);
    expect(snapshot!.files).toHaveLength(5);
  });

  it("simple_table: time travels to an older version", async () => {
    // Version 2 overwrote the table with 5..9; version 3 (an UPDATE) rewrote 6 and 8 as 106 and 108.
    expect(await rows("simple_table", "id", 2)).toEqual([[5n], [6n], [7n], [8n], [9n]]);
    expect(await rows("simple_table", "id", 3)).toEqual([[5n], [7n], [9n], [106n], [108n]]);
  });

  it("simple_table_with_checkpoint: starts from the Parquet checkpoint", async () => {
    const expected = [[0], [0], [1], [2], [3], [4], [5], [6], [7], [8], [9]];
    expect(await rows("simple_table_with_checkpoint", "version")).toEqual(expected);
    // Without the commits before the checkpoint the table still reads: the checkpoint holds them.
    const copy = await mkdtemp(join(tmpdir(), "inlet-checkpoint-"));
    try {
      await cp(join(FIXTURES, "simple_table_with_checkpoint"), copy, { recursive: true });
      for (const name of await readdir(join(copy, "_delta_log"))) {
        if (/^0{18}0\d\.json$/.test(name)) await rm(join(copy, "_delta_log", name));
      }
      const snapshot = await readDeltaSnapshot(copy);
      expect(snapshot!.version).toBe(10);
      expect(snapshot!.files).toHaveLength(11);
      const reader = await db.runAndReadAll(
        `SELECT version FROM (${snapshotScanSql(snapshot!)}) ORDER BY ALL`,
      );
      expect(reader.getRows()).toEqual(expected);
      // Versions before the checkpoint cannot be rebuilt any more.
      expect(await readDeltaSnapshot(copy, { version: 5 })).toBeUndefined();
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it("simple_table_with_checkpoint: log cleanup begins the log with its checkpoint, and the table reads the same", async () => {
    const copy = await mkdtemp(join(tmpdir(), "inlet-log-cleanup-"));
    try {
      await cp(join(FIXTURES, "simple_table_with_checkpoint"), copy, { recursive: true });
      const before = await readDeltaSnapshot(copy);
      // A year from now, every commit is past the 30 days the table keeps by default.
      const result = await cleanupDeltaLog({ tableDir: copy, now: Date.now() + 365 * 86_400_000 });
      expect(result.keptFrom).toBe(10);
      expect(result.deleted).toEqual([...Array(10).keys()].map((v) => `${String(v).padStart(20, "0")}.json`));
      expect((await readdir(join(copy, "_delta_log"))).sort()).toEqual([
        "00000000000000000010.checkpoint.parquet",
        "00000000000000000010.json",
        "_last_checkpoint",
      ]);
      const after = await readDeltaSnapshot(copy);
      expect(after!.files.map((f) => f.path).sort()).toEqual(before!.files.map((f) => f.path).sort());
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it("delta-0.8.0-partitioned: adds the partition columns from the log", async () => {
    expect(await rows("delta-0.8.0-partitioned", "value, year, month, day")).toEqual([
      ["1", "2020", "1", "1"],
      ["2", "2020", "2", "3"],
      ["3", "2020", "2", "5"],
      ["4", "2021", "4", "5"],
      ["5", "2021", "12", "4"],
      ["6", "2021", "12", "20"],
      ["7", "2021", "12", "20"],
    ]);
  });

  it("delta-0.8.0-null-partition: reads a null partition value as NULL", async () => {
    expect(await rows("delta-0.8.0-null-partition", "k, v")).toEqual([
      ["A", 1n],
      [null, 2n],
    ]);
  });

  it("delta-0.8.0-special-partition: decodes escaped paths and keeps the raw partition values", async () => {
    expect(await rows("delta-0.8.0-special-partition", "x, y")).toEqual([
      ["A/A", 1n],
      ["B B", 2n],
    ]);
  });

  // Each fixture's expected rows, as the tests above state them.
  const expectations: [string, string, unknown[][]][] = [
    ["simple_table", "id", [[5n], [7n], [9n]]],
    ["simple_table_with_checkpoint", "count(*)", [[11n]]],
    ["delta-0.8.0-partitioned", "count(*), sum(value::INTEGER)", [[7n, 28n]]],
    [
      "delta-0.8.0-null-partition",
      "k, v",
      [
        ["A", 1n],
        [null, 2n],
      ],
    ],
    [
      "delta-0.8.0-special-partition",
      "x, y",
      [
        ["A/A", 1n],
        ["B B", 2n],
      ],
    ],
  ];

  it.each(expectations)(
    "%s: our checkpoint alone rebuilds the same snapshot and rows",
    async (table, select, expected) => {
      const copy = await mkdtemp(join(tmpdir(), "inlet-our-checkpoint-"));
      try {
        await cp(join(FIXTURES, table), copy, { recursive: true });
        const replayed = await readDeltaSnapshot(copy);
        const written = await writeCheckpoint(copy, replayed!, { connection: db });
        // Only our checkpoint remains to read from: every JSON commit and older checkpoint goes.
        for (const name of await readdir(join(copy, "_delta_log"))) {
          if (name !== "_last_checkpoint" && join(copy, "_delta_log", name) !== written.path)
            await rm(join(copy, "_delta_log", name), { recursive: true });
        }
        const rebuilt = await readDeltaSnapshot(copy, { connection: db });
        const sorted = (s: DeltaSnapshot | undefined) => ({
          ...s,
          files: [...(s?.files ?? [])].sort((a, b) => a.path.localeCompare(b.path)),
          tombstones: [...(s?.tombstones ?? [])].sort((a, b) => a.path.localeCompare(b.path)),
        });
        expect(sorted(rebuilt)).toEqual(sorted(replayed));
        const reader = await db.runAndReadAll(
          `SELECT ${select} FROM (${snapshotScanSql(rebuilt!)}) ORDER BY ALL`,
        );
        expect(reader.getRows()).toEqual(expected);
      } finally {
        await rm(copy, { recursive: true, force: true });
      }
    },
  );
});
