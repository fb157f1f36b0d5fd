import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readLastCheckpoint, writeCheckpoint } from "./delta-checkpoint.js";
import {
  applyDeltaActions,
  commitDelta,
  type DeltaAction,
  type DeltaAddFile,
  type DeltaMetadata,
  type DeltaSnapshot,
  planDeltaReplay,
  readDeltaSnapshot,
} from "./delta-log.js";
import { DeltaLogError, LakeErrorCode } from "./errors.js";

const metadata: DeltaMetadata = {
  id: "0d5c7c1e-8d5f-4a44-9a59-6f1d3f6b8f10",
  name: "clicks",
  format: { provider: "parquet", options: {} },
  schemaString: JSON.stringify({
    type: "struct",
    fields: [
      { name: "n", type: "long", nullable: true, metadata: {} },
      { name: "event_date", type: "date", nullable: true, metadata: {} },
    ],
  }),
  partitionColumns: ["event_date"],
  configuration: { "inlet.schemaVersion": "1" },
  createdTime: 1_714_521_600_000,
};

const add = (i: number, date: string | null = "2024-05-01"): DeltaAddFile => ({
  path: `event_date=${date ?? "__HIVE_DEFAULT_PARTITION__"}/part-${i}%20a.zstd.parquet`,
  partitionValues: { event_date: date },
  size: 1000 + i,
  modificationTime: 1_714_521_600_000 + i,
  dataChange: true,
  stats: { numRecords: i + 1, minValues: { n: i }, maxValues: { n: i * 2 }, nullCount: { n: 0 } },
});

const create: DeltaAction[] = [
  { commitInfo: { timestamp: 1, operation: "WRITE" } },
  { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
  { metaData: metadata },
];

// Files sorted by path, so snapshots built in different orders compare equal.
const normalized = (snapshot: DeltaSnapshot | undefined) =>
  snapshot && {
    ...snapshot,
    files: [...snapshot.files].sort((a, b) => a.path.localeCompare(b.path)),
    tombstones: [...snapshot.tombstones].sort((a, b) => a.path.localeCompare(b.path)),
  };

describe("delta checkpoints", () => {
  let tableDir: string;
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
  beforeEach(async () => {
    tableDir = await mkdtemp(join(tmpdir(), "inlet-checkpoint-"));
  });
  afterEach(async () => {
    await rm(tableDir, { recursive: true, force: true });
  });

  // Commits `commits` in order and returns the snapshot of the last, built in memory.
  async function commitAll(commits: DeltaAction[][]): Promise<DeltaSnapshot> {
    let snapshot: DeltaSnapshot | undefined;
    for (const [version, actions] of commits.entries()) {
      await commitDelta(tableDir, version, actions);
      snapshot = applyDeltaActions(snapshot, tableDir, version, actions);
    }
    return snapshot!;
  }

  it("writes the protocol's checkpoint schema, one row per action, and _last_checkpoint", async () => {
    const now = Date.now();
    const snapshot = await commitAll([
      [...create, { add: add(0) }, { add: add(1, null) }, { txn: { appId: "writer-a", version: 7 } }],
      [{ remove: { path: add(0).path, deletionTimestamp: now, dataChange: false } }, { add: add(2) }],
      [{ txn: { appId: "writer-b", version: 3 } }],
    ]);
    const written = await writeCheckpoint(tableDir, snapshot);
    expect(written).toMatchObject({ version: 2, size: 7, created: true });
    expect(written.path).toBe(join(tableDir, "_delta_log", "00000000000000000002.checkpoint.parquet"));

    const columns = await db.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${written.path}')`);
    expect(columns.getRows().map((r) => [r[0], r[1]])).toEqual([
      ["txn", 'STRUCT(appId VARCHAR, "version" BIGINT, lastUpdated BIGINT)'],
      [
        "add",
        "STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, VARCHAR))",
      ],
      [
        "remove",
        "STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)",
      ],
      [
        "metaData",
        'STRUCT(id VARCHAR, "name" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, "options" MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], "configuration" MAP(VARCHAR, VARCHAR), createdTime BIGINT)',
      ],
      ["protocol", "STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)"],
    ]);
    const rows = await db.runAndReadAll(
      `SELECT count(protocol), count(metaData), count(txn), count(add), count(remove),
              max(add.stats) FILTER (WHERE add.path LIKE '%part-2%'),
              max(add.partitionValues['event_date']) FILTER (WHERE add.path LIKE '%part-1%')
       FROM read_parquet('${written.path}')`,
    );
    const [counts] = rows.getRows();
    expect(counts!.slice(0, 5).map(Number)).toEqual([1, 1, 2, 2, 1]);
    expect(JSON.parse(String(counts![5]))).toEqual(add(2).stats);
    expect(counts![6]).toBeNull();
    expect(JSON.parse(await readFile(join(tableDir, "_delta_log", "_last_checkpoint"), "utf8"))).toEqual({
      version: 2,
      size: 7,
      sizeInBytes: (await stat(written.path)).size,
      numOfAddFiles: 2,
    });
    expect((await readdir(join(tableDir, "_delta_log"))).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("rebuilds from the checkpoint exactly the snapshot the JSON replay gives", async () => {
    const now = Date.now();
    const replayed = await commitAll([
      [...create, { add: add(0) }, { add: add(1, null) }, { txn: { appId: "writer-a", version: 7 } }],
      [
        { remove: { path: add(0).path, deletionTimestamp: now, dataChange: false, size: 1000 } },
        { add: add(2, "2024-05-02") },
        { metaData: { ...metadata, configuration: { "inlet.schemaVersion": "2" } } },
      ],
      [{ txn: { appId: "writer-a", version: 9 } }, { add: add(3) }],
    ]);
    await writeCheckpoint(tableDir, replayed);
    // Without the commits before it, the checkpoint alone must hold the table.
    for (const version of [0, 1, 2]) {
      await rm(join(tableDir, "_delta_log", `${String(version).padStart(20, "0")}.json`));
    }
    const fromCheckpoint = await readDeltaSnapshot(tableDir, { connection: db });
    expect(normalized(fromCheckpoint)).toEqual(normalized(replayed));
    expect(fromCheckpoint!.txns.get("writer-a")).toBe(9);
    expect(fromCheckpoint!.tombstones.map((t) => t.path)).toEqual([add(0).path]);
    expect(fromCheckpoint!.metadata.configuration["inlet.schemaVersion"]).toBe("2");
  });

  it("never overwrites a checkpoint and never moves _last_checkpoint back", async () => {
    const first = await commitAll([[...create, { add: add(0) }], [{ add: add(1) }], [{ add: add(2) }]]);
    const atTwo = await writeCheckpoint(tableDir, first);
    const before = await readFile(atTwo.path);
    const again = await writeCheckpoint(tableDir, { ...first, files: [] });
    expect(again.created).toBe(false);
    expect(await readFile(atTwo.path)).toEqual(before);

    const atOne = await readDeltaSnapshot(tableDir, { version: 1 });
    await writeCheckpoint(tableDir, atOne!);
    expect((await readLastCheckpoint(tableDir))?.version).toBe(2);
  });

  it("keeps tombstones until the table's deleted file retention expires them", async () => {
    const now = Date.now();
    const snapshot = await commitAll([
      [
        ...create.slice(0, 2),
        {
          metaData: {
            ...metadata,
            configuration: { "delta.deletedFileRetentionDuration": "interval 1 hours" },
          },
        },
        { add: add(0) },
        { add: add(1) },
      ],
      [
        { remove: { path: add(0).path, deletionTimestamp: now - 2 * 3_600_000, dataChange: false } },
        { remove: { path: add(1).path, deletionTimestamp: now - 60_000, dataChange: false } },
      ],
    ]);
    expect(snapshot.tombstones.map((t) => t.path)).toEqual([add(1).path]);
    const written = await writeCheckpoint(tableDir, snapshot, { now: now + 3_600_000 });
    expect(written.size).toBe(2); // protocol and metaData: the second tombstone expired by then
  });

  it("loads a table of 10,000 commits replaying at most checkpointInterval JSON commits", async () => {
    const interval = 10;
    const commits: DeltaAction[][] = [];
    for (let version = 0; version < 10_000; version++) {
      commits.push([
        ...(version === 0 ? create : []),
        { add: add(version) },
        ...(version % 100 === 99
          ? [{ remove: { path: add(version - 50).path, deletionTimestamp: Date.now(), dataChange: false } }]
          : []),
        { txn: { appId: "lake-writer-clicks", version: version * 3 } },
      ]);
    }
    for (let version = 0; version < commits.length; version += 250) {
      const batch = commits.slice(version, version + 250);
      await Promise.all(batch.map((actions, i) => commitDelta(tableDir, version + i, actions)));
    }
    // The writer's rule: a checkpoint at each multiple of the interval; the last one is 9,990.
    const upTo = (version: number) =>
      applyDeltaActions(undefined, tableDir, version, commits.slice(0, version + 1).flat());
    await writeCheckpoint(tableDir, upTo(9_990));
    const snapshot = upTo(9_999);

    const plan = await planDeltaReplay(tableDir);
    expect(plan?.checkpoint?.version).toBe(9_990);
    expect(plan?.commits).toHaveLength(9);
    expect(plan!.commits.length).toBeLessThanOrEqual(interval);
    const loaded = await readDeltaSnapshot(tableDir, { connection: db });
    expect(loaded!.version).toBe(9_999);
    expect(loaded!.files).toHaveLength(9_900);
    expect(normalized(loaded)).toEqual(normalized(snapshot));
    // Time travel before the checkpoint still replays from the first commit.
    expect((await planDeltaReplay(tableDir, { version: 5 }))?.commits).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("refuses tables that need reader 3 or writer 7 features", async () => {
    const snapshot = await commitAll([
      [
        { protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["deletionVectors"] } },
        { metaData: metadata },
      ],
    ]);
    const error = await writeCheckpoint(tableDir, snapshot).catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogError);
    expect(error.code).toBe(LakeErrorCode.UnsupportedProtocol);
  });
});
