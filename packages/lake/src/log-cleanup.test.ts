import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CuratedTable } from "./curated-table.js";
import { commitDelta, type DeltaMetadata, type DeltaSnapshot, readDeltaSnapshot } from "./delta-log.js";
import { expiredLogCleanupEnabled, logRetentionMs } from "./delta-properties.js";
import { cleanupDeltaLog } from "./log-cleanup.js";
import { ParquetWriter } from "./parquet-writer.js";
import { curatedTableDir, deltaCheckpointFileName, deltaCommitFileName, deltaLogDir } from "./paths.js";
import { tableHistory } from "./table-history.js";
import { click, openClicksTable } from "./test-lake.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 24, 12);

function metadata(configuration: Record<string, string>): DeltaMetadata {
  return {
    id: "t",
    format: { provider: "parquet", options: {} },
    schemaString: "{}",
    partitionColumns: [],
    configuration,
  };
}

describe("the log's retention properties", () => {
  it("reads delta.logRetentionDuration as an interval, 30 days when absent or unreadable", () => {
    expect(logRetentionMs(metadata({ "delta.logRetentionDuration": "interval 2 days" }))).toBe(2 * DAY);
    expect(logRetentionMs(metadata({ "delta.logRetentionDuration": "interval 1 week" }))).toBe(7 * DAY);
    expect(logRetentionMs(metadata({ "delta.logRetentionDuration": "two days" }))).toBe(30 * DAY);
    expect(logRetentionMs(metadata({}))).toBe(30 * DAY);
  });

  it("keeps the log whole only when delta.enableExpiredLogCleanup says false", () => {
    expect(expiredLogCleanupEnabled(metadata({ "delta.enableExpiredLogCleanup": "false" }))).toBe(false);
    expect(expiredLogCleanupEnabled(metadata({ "delta.enableExpiredLogCleanup": " FALSE " }))).toBe(false);
    expect(expiredLogCleanupEnabled(metadata({ "delta.enableExpiredLogCleanup": "true" }))).toBe(true);
    expect(expiredLogCleanupEnabled(metadata({}))).toBe(true);
  });
});

describe("cleanupDeltaLog", () => {
  let writer: ParquetWriter;
  let lakeDir: string;
  let tableDir: string;
  let logDir: string;
  let table: CuratedTable;
  let seq = 0;

  // Commits versions 0..`count - 1`, one click each, a checkpoint every fifth version.
  const commit = async (count: number) => {
    for (let i = 0; i < count; i++) await table.append([click(++seq)], seq);
  };
  // Gives commit `version` the modification time `at`.
  const age = (version: number, at: number) =>
    utimes(join(logDir, deltaCommitFileName(version)), at / 1000, at / 1000);
  const logFiles = async () => (await readdir(logDir)).sort();
  const contents = (s: DeltaSnapshot | undefined) => ({
    version: s?.version,
    files: s?.files.map((f) => f.path).sort(),
    txns: s?.txns,
  });

  beforeAll(async () => {
    writer = await ParquetWriter.create({ threads: 1 });
  });
  afterAll(async () => {
    await writer.close();
  });
  beforeEach(async () => {
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-log-cleanup-"));
    tableDir = curatedTableDir(lakeDir, "clicks");
    logDir = deltaLogDir(tableDir);
    seq = 0;
    table = await openClicksTable(lakeDir, writer, { checkpointInterval: 5 });
    await commit(13); // versions 0..12, checkpoints at 5 and 10
    for (let v = 0; v <= 12; v++) await age(v, v <= 10 ? NOW - 40 * DAY : NOW - DAY);
  });
  afterEach(async () => {
    await rm(lakeDir, { recursive: true, force: true });
  });

  it("begins the log with the newest checkpoint older than the retention, and every version since loads as before", async () => {
    const before = await readDeltaSnapshot(tableDir);
    const result = await cleanupDeltaLog({ tableDir, now: NOW });

    const older = [...Array(10).keys()].map(deltaCommitFileName);
    expect(result.keptFrom).toBe(10);
    expect(result.deleted).toEqual([...older, deltaCheckpointFileName(5)].sort());
    expect(result.bytesDeleted).toBeGreaterThan(0);
    expect(await logFiles()).toEqual(
      [
        deltaCommitFileName(10),
        deltaCheckpointFileName(10),
        deltaCommitFileName(11),
        deltaCommitFileName(12),
        "_last_checkpoint",
      ].sort(),
    );
    expect(contents(await readDeltaSnapshot(tableDir))).toEqual(contents(before));
    expect((await readDeltaSnapshot(tableDir, { version: 10 }))?.files).toHaveLength(11);
    expect(await readDeltaSnapshot(tableDir, { version: 9 })).toBeUndefined();
    expect((await tableHistory(tableDir)).map((c) => c.version)).toEqual([12, 11, 10]);

    // The writer goes on appending after it, and a second cleanup finds nothing more to delete.
    await commit(1);
    expect((await readDeltaSnapshot(tableDir))?.files).toHaveLength(14);
    expect((await cleanupDeltaLog({ tableDir, now: NOW })).deleted).toEqual([]);
  });

  it("never counts a commit after a younger one as old: a clock that went back deletes less, not more", async () => {
    await age(4, NOW); // written "now", between commits of forty days ago
    const result = await cleanupDeltaLog({ tableDir, now: NOW });
    expect(result).toEqual({ keptFrom: undefined, deleted: [], bytesDeleted: 0 });
    expect(await logFiles()).toHaveLength(13 + 2 + 1);
  });

  it("keeps what a shorter history needs: with a week's retention nothing older than the checkpoint at 5 goes", async () => {
    for (let v = 6; v <= 10; v++) await age(v, NOW - 2 * DAY);
    const result = await cleanupDeltaLog({ tableDir, now: NOW, retentionMs: 7 * DAY });
    expect(result.keptFrom).toBe(5);
    expect(result.deleted).toEqual([...Array(5).keys()].map(deltaCommitFileName));
  });

  it("lists the same files in a dry run and deletes none", async () => {
    const names = await logFiles();
    const dry = await cleanupDeltaLog({ tableDir, now: NOW, dryRun: true });
    expect(dry.deleted).toHaveLength(11);
    expect(await logFiles()).toEqual(names);
    expect((await cleanupDeltaLog({ tableDir, now: NOW })).deleted).toEqual(dry.deleted);
  });

  it("takes its retention from the table's delta.logRetentionDuration, and keeps everything when the table disables cleanup", async () => {
    const snapshot = (await readDeltaSnapshot(tableDir))!;
    const configure = async (configuration: Record<string, string>) => {
      const version = (await readDeltaSnapshot(tableDir))!.version + 1;
      await commitDelta(tableDir, version, [
        {
          metaData: {
            ...snapshot.metadata,
            configuration: { ...snapshot.metadata.configuration, ...configuration },
          },
        },
      ]);
      await age(version, NOW - DAY);
    };
    await configure({ "delta.logRetentionDuration": "interval 50 days" });
    expect((await cleanupDeltaLog({ tableDir, now: NOW })).deleted).toEqual([]);

    await configure({
      "delta.logRetentionDuration": "interval 1 day",
      "delta.enableExpiredLogCleanup": "false",
    });
    const kept = await cleanupDeltaLog({ tableDir, now: NOW });
    expect(kept).toMatchObject({ deleted: [], skipped: "delta.enableExpiredLogCleanup is false" });

    await configure({ "delta.enableExpiredLogCleanup": "true" });
    expect((await cleanupDeltaLog({ tableDir, now: NOW })).keptFrom).toBe(10);
  });

  it("deletes temp files of interrupted writes once older than the retention", async () => {
    const stale = `.${deltaCommitFileName(13)}.0b5d3a6e-8f7c-4d1e-9a2b-3c4d5e6f7a8b.tmp`;
    const fresh = `.${deltaCommitFileName(14)}.1b5d3a6e-8f7c-4d1e-9a2b-3c4d5e6f7a8b.tmp`;
    await writeFile(join(logDir, stale), "{}");
    await writeFile(join(logDir, fresh), "{}");
    await utimes(join(logDir, stale), (NOW - 40 * DAY) / 1000, (NOW - 40 * DAY) / 1000);
    const result = await cleanupDeltaLog({ tableDir, now: NOW });
    expect(result.deleted).toContain(stale);
    expect(result.deleted).not.toContain(fresh);
    expect(await logFiles()).toContain(fresh);
  });

  it("refuses a directory that is not a delta table, and a negative retention", async () => {
    await expect(cleanupDeltaLog({ tableDir: lakeDir })).rejects.toThrow(/is not a delta table/);
    await expect(cleanupDeltaLog({ tableDir, retentionMs: -1 })).rejects.toThrow(/zero or more/);
  });
});
