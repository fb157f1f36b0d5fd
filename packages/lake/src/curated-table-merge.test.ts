import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AvroSchema } from "./avro-columns.js";
import { compactTable } from "./compact-table.js";
import { type CuratedRow, CuratedTable, type CuratedTableOptions, PartitionBy } from "./curated-table.js";
import {
  commitDelta,
  type DeltaAction,
  type DeltaAddFile,
  type DeltaRemoveFile,
  readCommit,
  readDeltaSnapshot,
} from "./delta-log.js";
import { LakeError, LakeErrorCode, LakeSchemaError } from "./errors.js";
import { ParquetWriter } from "./parquet-writer.js";
import { snapshotScanSql } from "./snapshot-scan.js";

const customersV1 = {
  type: "record",
  name: "customers",
  fields: [
    { name: "updated_at", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "id", type: "string" },
    { name: "region", type: "string" },
    { name: "seq", type: "long" },
    { name: "name", type: "string" },
    { name: "score", type: ["null", "double"], default: null },
    {
      name: "address",
      type: { type: "record", name: "address", fields: [{ name: "city", type: "string" }] },
    },
  ],
} as AvroSchema;

const customersV2 = {
  ...(customersV1 as object),
  fields: [
    ...(customersV1 as { fields: object[] }).fields,
    { name: "tier", type: ["null", "string"], default: null },
  ],
} as AvroSchema;

const DAY1 = Date.UTC(2024, 4, 1, 12);
const DAY2 = Date.UTC(2024, 4, 2, 12);

// Customer `id`, as named `name` at `at` (its event time).
function customer(
  id: string,
  name: string,
  at = DAY1,
  extra: { region?: string; seq?: number | bigint; tier?: string | null } = {},
): CuratedRow {
  const { tier, ...event } = extra;
  return {
    event: {
      updated_at: at,
      id,
      region: "eu",
      seq: 1,
      name,
      score: null,
      address: { city: `${name}ville` },
      ...event,
      ...(tier === undefined ? {} : { tier }),
    },
    eventId: `${id}:${name}`,
    ingestedAt: at + 5,
    traceId: "",
    schemaVersion: tier === undefined ? 1 : 2,
  };
}

const adds = (actions: readonly DeltaAction[]): DeltaAddFile[] =>
  actions.flatMap((a) => ("add" in a ? [a.add] : []));
const removes = (actions: readonly DeltaAction[]): DeltaRemoveFile[] =>
  actions.flatMap((a) => ("remove" in a ? [a.remove] : []));

describe("CuratedTable.merge", () => {
  let lakeDir: string;
  let tableDir: string;
  let writer: ParquetWriter;
  let instance: DuckDBInstance;
  let db: DuckDBConnection;

  beforeAll(async () => {
    writer = await ParquetWriter.create({ threads: 2 });
    instance = await DuckDBInstance.create(":memory:");
    db = await instance.connect();
  });
  afterAll(async () => {
    await writer.close();
    db.closeSync();
    instance.closeSync();
  });
  beforeEach(async () => {
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-merge-"));
    tableDir = join(lakeDir, "curated", "customers");
  });
  afterEach(async () => {
    await rm(lakeDir, { recursive: true, force: true });
  });

  const open = (overrides: Partial<CuratedTableOptions> = {}) =>
    CuratedTable.open({
      lakeDir,
      dataset: "customers",
      avroSchema: customersV1,
      schemaVersion: 1,
      eventTimeField: "updated_at",
      appId: "cdc-customers",
      primaryKey: ["id"],
      writer,
      ...overrides,
    });

  // The table's rows as [id, name] (or `select`'s columns), ordered by id.
  const rows = async (select = "id, name", order = "id") => {
    const snapshot = await readDeltaSnapshot(tableDir);
    const reader = await db.runAndReadAll(
      `SELECT ${select} FROM (${snapshotScanSql(snapshot!)}) ORDER BY ${order}`,
    );
    return reader.getRows();
  };

  const liveFiles = async () => (await readDeltaSnapshot(tableDir))!.files;

  it("inserts the rows of new keys, creating the table", async () => {
    const table = await open();
    expect(table.primaryKey).toEqual(["id"]);
    const first = await table.merge([customer("a", "Ann"), customer("b", "Bob")], [], 1);
    expect(first).toEqual({
      version: 0,
      rows: 2,
      deleted: 0,
      filesAdded: 1,
      filesRemoved: 0,
      rowsRewritten: 0,
    });
    const second = await table.merge([customer("c", "Cid")], [], 2);
    expect(second).toMatchObject({ version: 1, rows: 1, filesAdded: 1, filesRemoved: 0 });
    expect(await rows("id, name, address, _event_id")).toEqual([
      ["a", "Ann", '{"city":"Annville"}', "a:Ann"],
      ["b", "Bob", '{"city":"Bobville"}', "b:Bob"],
      ["c", "Cid", '{"city":"Cidville"}', "c:Cid"],
    ]);
    const created = await readCommit(tableDir, 0);
    expect(created.map((a) => Object.keys(a)[0])).toEqual([
      "commitInfo",
      "protocol",
      "metaData",
      "add",
      "txn",
    ]);
    const info = (await readCommit(tableDir, 1))[0];
    expect(info).toMatchObject({
      commitInfo: {
        operation: "MERGE",
        isBlindAppend: false,
        engineInfo: "inlet-lake",
        readVersion: 0,
        operationParameters: { primaryKey: '["id"]' },
        operationMetrics: { numTargetRowsInserted: "1", numTargetRowsUpdated: "0" },
      },
    });
  });

  it("updates a key held in an older file: its row is replaced, the file's other rows kept", async () => {
    const table = await open();
    await table.append([customer("a", "Ann"), customer("b", "Bob"), customer("c", "Cid")], 1);
    await table.append([customer("d", "Dee")], 2);
    const before = await liveFiles();
    const older = before.find((f) => f.stats?.numRecords === 3)!;

    const result = await table.merge([customer("b", "Bobby")], [], 3);
    expect(result).toEqual({
      version: 2,
      rows: 1,
      deleted: 0,
      filesAdded: 2,
      filesRemoved: 1,
      rowsRewritten: 2,
    });
    expect(await rows("id, name, _event_id")).toEqual([
      ["a", "Ann", "a:Ann"],
      ["b", "Bobby", "b:Bobby"],
      ["c", "Cid", "c:Cid"],
      ["d", "Dee", "d:Dee"],
    ]);

    const actions = await readCommit(tableDir, 2);
    expect(removes(actions)).toEqual([
      {
        path: older.path,
        deletionTimestamp: expect.any(Number),
        dataChange: true,
        extendedFileMetadata: true,
        partitionValues: { event_date: "2024-05-01" },
        size: older.size,
      },
    ]);
    const added = adds(actions);
    expect(added.every((a) => a.dataChange)).toBe(true);
    expect(added.map((a) => a.partitionValues)).toEqual([
      { event_date: "2024-05-01" },
      { event_date: "2024-05-01" },
    ]);
    const rewrite = added.find((a) => a.stats?.numRecords === 2)!;
    expect(rewrite.path).toMatch(/^event_date=2024-05-01\/part-[0-9a-f-]{36}\.zstd\.parquet$/);
    expect(rewrite.stats).toMatchObject({
      minValues: { id: "a", name: "Ann", _event_id: "a:Ann" },
      maxValues: { id: "c", name: "Cid" },
      nullCount: { id: 0, score: 2, address: 0 },
    });
    expect(actions.at(-1)).toMatchObject({ txn: { appId: "cdc-customers", version: 3 } });
    // The untouched file of d stays; the older file gave way to its rewrite.
    const after = (await liveFiles()).map((f) => f.path);
    expect(after).toHaveLength(3);
    expect(after).not.toContain(older.path);
    expect(after).toContain(before.find((f) => f !== older)!.path);
    expect(table.snapshot?.files.map((f) => f.path).sort()).toEqual([...after].sort());
  });

  it("deletes keys, counting those the table held", async () => {
    const table = await open();
    await table.append([customer("a", "Ann"), customer("b", "Bob"), customer("c", "Cid")], 1);
    const result = await table.merge([], [{ id: "b" }, { id: "zz" }], 2);
    expect(result).toMatchObject({ rows: 0, deleted: 1, filesAdded: 1, filesRemoved: 1, rowsRewritten: 2 });
    expect(await rows()).toEqual([
      ["a", "Ann"],
      ["c", "Cid"],
    ]);
  });

  it("rewrites no file for the delete of an absent key, within or beyond the files' key ranges", async () => {
    const table = await open();
    await table.append([customer("a", "Ann"), customer("c", "Cid")], 1);
    const before = (await liveFiles()).map((f) => f.path);
    // "b" lies within the file's ids (a..c), so the file is searched; "zz" lies beyond them.
    for (const [seq, id] of [
      [2, "b"],
      [3, "zz"],
    ] as const) {
      const result = await table.merge([], [{ id }], seq);
      expect(result).toMatchObject({ deleted: 0, filesAdded: 0, filesRemoved: 0, rowsRewritten: 0 });
      const actions = await readCommit(tableDir, result.version);
      expect(actions.map((a) => Object.keys(a)[0])).toEqual(["commitInfo", "txn"]);
    }
    expect((await liveFiles()).map((f) => f.path)).toEqual(before);
    expect(await rows()).toEqual([
      ["a", "Ann"],
      ["c", "Cid"],
    ]);
  });

  it("deletes a key updated in an earlier batch, and inserts it again later", async () => {
    const table = await open();
    await table.append([customer("a", "Ann"), customer("b", "Bob")], 1);
    await table.merge([customer("a", "Anna")], [], 2);
    expect(await rows()).toEqual([
      ["a", "Anna"],
      ["b", "Bob"],
    ]);
    const deleted = await table.merge([], [{ id: "a" }], 3);
    expect(deleted).toMatchObject({ deleted: 1, filesRemoved: 1, filesAdded: 0, rowsRewritten: 0 });
    expect(await rows()).toEqual([["b", "Bob"]]);
    await table.merge([customer("a", "Annie")], [], 4);
    expect(await rows()).toEqual([
      ["a", "Annie"],
      ["b", "Bob"],
    ]);
  });

  it("truncates: every row removed in one commit with its txn, then merges go on", async () => {
    const table = await open();
    await table.append([customer("a", "Ann")], 1);
    await table.append([customer("b", "Bob", DAY2)], 2);
    const result = await table.truncate(3, { after: 2 });
    expect(result.filesRemoved).toBe(2);
    const actions = await readCommit(tableDir, result.version);
    expect(removes(actions)).toHaveLength(2);
    expect(removes(actions).every((r) => r.dataChange)).toBe(true);
    expect(actions.at(-1)).toMatchObject({ txn: { appId: "cdc-customers", version: 3 } });
    expect(await rows()).toEqual([]);
    await expect(table.truncate(3)).rejects.toMatchObject({ code: LakeErrorCode.TxnAlreadyCommitted });
    await table.merge([customer("a", "Ada")], [], 4);
    expect(await rows()).toEqual([["a", "Ada"]]);
  });

  it("merges by a composite key of a string and a long", async () => {
    const table = await open({ primaryKey: ["region", "seq"] });
    expect(table.primaryKey).toEqual(["region", "seq"]);
    await table.append(
      [
        customer("x1", "eu-1", DAY1, { region: "eu", seq: 1 }),
        customer("x2", "eu-2", DAY1, { region: "eu", seq: 2 }),
        customer("x3", "us-1", DAY1, { region: "us", seq: 1 }),
      ],
      1,
    );
    const result = await table.merge(
      [
        customer("y1", "eu-1 again", DAY1, { region: "eu", seq: 1 }),
        customer("y2", "us-2", DAY1, { region: "us", seq: 2n ** 40n }),
      ],
      [{ region: "us", seq: 1n }],
      2,
    );
    expect(result).toMatchObject({ rows: 2, deleted: 1, filesRemoved: 1, rowsRewritten: 1 });
    expect(await rows("region, seq, id, name", "region, seq")).toEqual([
      ["eu", 1n, "y1", "eu-1 again"],
      ["eu", 2n, "x2", "eu-2"],
      ["us", 2n ** 40n, "y2", "us-2"],
    ]);
    // The same seq in another region is another key.
    await table.merge([], [{ region: "eu", seq: 2 ** 40 }], 3);
    expect(await rows("region, seq", "region, seq")).toHaveLength(3);
  });

  it("merges into an unpartitioned table, its rewrites in the table directory", async () => {
    const table = await open({ partitionBy: PartitionBy.None, eventTimeField: undefined });
    await table.append([customer("a", "Ann", DAY1), customer("b", "Bob", DAY2)], 1);
    const result = await table.merge([customer("a", "Anna", DAY2)], [], 2);
    expect(result).toMatchObject({ filesAdded: 2, filesRemoved: 1, rowsRewritten: 1 });
    const added = adds(await readCommit(tableDir, result.version));
    for (const add of added) {
      expect(add.path).toMatch(/^part-[0-9a-f-]{36}\.zstd\.parquet$/);
      expect(add.partitionValues).toEqual({});
    }
    expect(await rows("id, name, epoch_ms(updated_at)")).toEqual([
      ["a", "Anna", BigInt(DAY2)],
      ["b", "Bob", BigInt(DAY2)],
    ]);
  });

  it("moves an updated row to its new event date's partition", async () => {
    const table = await open();
    await table.append([customer("a", "Ann", DAY1), customer("b", "Bob", DAY1)], 1);
    const result = await table.merge([customer("a", "Ann later", DAY2)], [], 2);
    expect(result).toMatchObject({ filesAdded: 2, filesRemoved: 1, rowsRewritten: 1 });
    expect(await rows("id, name, CAST(event_date AS VARCHAR)")).toEqual([
      ["a", "Ann later", "2024-05-02"],
      ["b", "Bob", "2024-05-01"],
    ]);
    const files = await liveFiles();
    expect(files.map((f) => [f.partitionValues.event_date, f.stats?.numRecords]).sort()).toEqual([
      ["2024-05-01", 1],
      ["2024-05-02", 1],
    ]);
  });

  it("removes a file whose every row the merge replaces, adding no empty rewrite", async () => {
    const table = await open();
    await table.append([customer("a", "Ann", DAY1)], 1);
    await table.append([customer("b", "Bob", DAY2)], 2);
    const lone = (await liveFiles()).find((f) => f.partitionValues.event_date === "2024-05-02")!;
    const result = await table.merge([customer("b", "Bobby", DAY1)], [], 3);
    expect(result).toMatchObject({ filesAdded: 1, filesRemoved: 1, rowsRewritten: 0 });
    const actions = await readCommit(tableDir, result.version);
    expect(removes(actions).map((r) => r.path)).toEqual([lone.path]);
    expect(adds(actions).map((a) => a.partitionValues.event_date)).toEqual(["2024-05-01"]);
    // Nothing was left behind in the emptied partition: only the removed file, until vacuum.
    expect(await readdir(join(tableDir, "event_date=2024-05-02"))).toEqual([lone.path.split("/")[1]]);
    expect(await rows()).toEqual([
      ["a", "Ann"],
      ["b", "Bobby"],
    ]);
  });

  it("commits each batch once: a stored lastSeq is refused, and a reopened table knows it", async () => {
    const table = await open();
    await table.merge([customer("a", "Ann")], [], 5);
    const again = await table.merge([customer("a", "Ann twice")], [], 5).catch((e) => e);
    expect(again).toBeInstanceOf(LakeError);
    expect(again.code).toBe(LakeErrorCode.TxnAlreadyCommitted);
    const reopened = await open();
    expect(reopened.committedVersion()).toBe(5);
    const stale = await reopened.merge([], [{ id: "a" }], 5).catch((e) => e);
    expect(stale.code).toBe(LakeErrorCode.TxnAlreadyCommitted);
    const moved = await reopened.merge([], [{ id: "a" }], 9, { after: 4 }).catch((e) => e);
    expect(moved.code).toBe(LakeErrorCode.TxnAlreadyCommitted);
    expect(moved.message).toMatch(/committed up to 5, not 4/);
    expect(await rows()).toEqual([["a", "Ann"]]);
    expect((await liveFiles()).length).toBe(1);
    await reopened.merge([], [{ id: "a" }], 9, { after: 5 });
    expect(await rows()).toEqual([]);
    expect(reopened.committedVersion()).toBe(9);
  });

  it("merges correctly after compaction replaced the files it rewrote before committing", async () => {
    const table = await open();
    for (let i = 0; i < 4; i++) {
      await table.append([customer(`k${i}`, `v${i}`), customer(`m${i}`, `w${i}`)], i + 1);
    }
    // Compaction commits after `table` last read the log: the merge rewrites the small files it
    // knows, loses the race, and must rewrite the compacted file instead.
    const compaction = await compactTable({ tableDir, writer });
    expect(compaction).toMatchObject({ version: 4, removed: 4, added: 1 });
    const compacted = (await liveFiles())[0]!;
    const result = await table.merge([customer("k1", "updated")], [{ id: "m2" }], 5);
    expect(result).toMatchObject({
      version: 5,
      deleted: 1,
      filesAdded: 2,
      filesRemoved: 1,
      rowsRewritten: 6,
    });
    expect(removes(await readCommit(tableDir, 5)).map((r) => r.path)).toEqual([compacted.path]);
    expect(await rows()).toEqual([
      ["k0", "v0"],
      ["k1", "updated"],
      ["k2", "v2"],
      ["k3", "v3"],
      ["m0", "w0"],
      ["m1", "w1"],
      ["m3", "w3"],
    ]);
    // On disk: the 4 small files and the compacted one (removed, until vacuum), the rewrite and the
    // upsert; the rewrites of the small files made before the race were deleted.
    expect(await readdir(join(tableDir, "event_date=2024-05-01"))).toHaveLength(7);
  });

  it("replaces a row of a batch key that another writer appended before the merge committed", async () => {
    const table = await open();
    await table.append([customer("a", "Ann")], 1);
    const other = await open({ appId: "backfill" });
    await other.append([customer("b", "Bob (backfill)")], 1);
    const result = await table.merge([customer("b", "Bob")], [{ id: "a" }], 2);
    expect(result).toMatchObject({ version: 2, deleted: 1, filesRemoved: 2, filesAdded: 1 });
    expect(await rows()).toEqual([["b", "Bob"]]);
  });

  it("refuses a key given twice in a batch, naming it, and writes nothing", async () => {
    const table = await open();
    await table.append([customer("a", "Ann")], 1);
    const twice = await table.merge([customer("a", "A1"), customer("a", "A2")], [], 2).catch((e) => e);
    expect(twice).toBeInstanceOf(LakeError);
    expect(twice.code).toBe(LakeErrorCode.InvalidArgument);
    expect(twice.message).toBe(
      'dataset "customers": key {"id":"a"} is in the batch twice (upsert 0 and upsert 1); a merge takes one change per key',
    );
    const both = await table.merge([customer("b", "Bob")], [{ id: "c" }, { id: "b" }], 2).catch((e) => e);
    expect(both.message).toContain('key {"id":"b"} is in the batch twice (upsert 0 and delete 1)');
    // 7 and 7n are the same long.
    const composite = await open({ primaryKey: ["region", "seq"] });
    await expect(
      composite.merge(
        [],
        [
          { region: "eu", seq: 7 },
          { region: "eu", seq: 7n },
        ],
        2,
      ),
    ).rejects.toThrow('key {"region":"eu","seq":"7"} is in the batch twice (delete 0 and delete 1)');
    expect((await readDeltaSnapshot(tableDir))!.version).toBe(0);
    expect(await readdir(join(tableDir, "event_date=2024-05-01"))).toHaveLength(1);
  });

  it("refuses a key column without a value, naming the row and column", async () => {
    const table = await open({ primaryKey: ["region", "seq"] });
    const upsert = await table
      .merge([customer("a", "Ann"), customer("b", "Bob", DAY1, { region: null as unknown as string })], [], 1)
      .catch((e) => e);
    expect(upsert).toBeInstanceOf(LakeError);
    expect(upsert.code).toBe(LakeErrorCode.InvalidArgument);
    expect(upsert.message).toBe('dataset "customers": upsert 1 has no value for key column "region"');
    const remove = await table.merge([], [{ region: "eu" }], 1).catch((e) => e);
    expect(remove.message).toBe('dataset "customers": delete 0 has no value for key column "seq"');
    const wrong = await table.merge([], [{ region: "eu", seq: "7" }], 1).catch((e) => e);
    expect(wrong.message).toBe('dataset "customers": delete 0 key column "seq": expected long, got "7"');
    expect(await readDeltaSnapshot(tableDir)).toBeUndefined();
  });

  it("refuses at open a key column that is not a scalar field of the schema", async () => {
    for (const [column, reason] of [
      ["nope", 'primary key column "nope" is not a field of the schema'],
      ["_event_id", 'primary key column "_event_id" is not a field of the schema'],
      ["score", 'primary key column "score" holds double values'],
      ["address", 'primary key column "address" holds json values'],
    ]) {
      const error = await open({ primaryKey: ["id", column!] }).catch((e) => e);
      expect(error).toBeInstanceOf(LakeSchemaError);
      expect(error.code).toBe(LakeErrorCode.IncompatibleSchema);
      expect(error.message).toContain(`dataset "customers": ${reason}`);
    }
  });

  it("refuses to merge into a table opened without a primary key", async () => {
    const table = await open({ primaryKey: undefined });
    expect(table.primaryKey).toEqual([]);
    const error = await table.merge([customer("a", "Ann")], [], 1).catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.code).toBe(LakeErrorCode.InvalidArgument);
    expect(error.message).toBe('dataset "customers": merge needs a table opened with a primaryKey');
  });

  it("commits the txn alone for an empty batch", async () => {
    const table = await open();
    await table.append([customer("a", "Ann")], 1);
    expect(await table.merge([], [], 2)).toEqual({
      version: 1,
      rows: 0,
      deleted: 0,
      filesAdded: 0,
      filesRemoved: 0,
      rowsRewritten: 0,
    });
    expect((await readCommit(tableDir, 1)).map((a) => Object.keys(a)[0])).toEqual(["commitInfo", "txn"]);
    expect(table.committedVersion()).toBe(2);
    expect(await rows()).toEqual([["a", "Ann"]]);
  });

  it("rewrites files of an older schema version in the table's schema, its new column NULL", async () => {
    const v1 = await open();
    await v1.append([customer("a", "Ann"), customer("b", "Bob"), customer("c", "Cid")], 1);
    const v2 = await open({ avroSchema: customersV2, schemaVersion: 2 });
    await v2.merge(
      [customer("b", "Bob", DAY1, { tier: "gold" }), customer("d", "Dee", DAY1, { tier: null })],
      [],
      2,
    );
    expect(await rows("id, name, tier, _schema_version")).toEqual([
      ["a", "Ann", null, 1],
      ["b", "Bob", "gold", 2],
      ["c", "Cid", null, 1],
      ["d", "Dee", null, 2],
    ]);
    // The next merge rewrites v1 rows (a, c: their file lacks `tier`) and v2 rows together.
    await v2.merge([customer("a", "Ann", DAY1, { tier: "silver" })], [{ id: "d" }], 3);
    expect(await rows("id, tier, _schema_version")).toEqual([
      ["a", "silver", 2],
      ["b", "gold", 2],
      ["c", null, 1],
    ]);
    // A writer still on version 1 merges into the evolved table too.
    await v1.merge([customer("c", "Cy")], [], 4);
    expect(await rows("id, name, tier")).toEqual([
      ["a", "Ann", "silver"],
      ["b", "Bob", "gold"],
      ["c", "Cy", null],
    ]);
  });

  it("matches keys of int, timestamp, date and boolean columns as stored", async () => {
    const readings = {
      type: "record",
      name: "readings",
      fields: [
        { name: "sensor", type: "int" },
        { name: "at", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "day", type: { type: "int", logicalType: "date" } },
        { name: "ok", type: "boolean" },
        { name: "value", type: "double" },
      ],
    } as AvroSchema;
    const reading = (sensor: number, at: number, ok: boolean, value: number): CuratedRow => ({
      event: { sensor, at, day: Math.floor(at / 86_400_000), ok, value },
      eventId: `r${sensor}-${at}-${ok}`,
      ingestedAt: at,
      traceId: "",
      schemaVersion: 1,
    });
    const table = await CuratedTable.open({
      lakeDir,
      dataset: "readings",
      avroSchema: readings,
      schemaVersion: 1,
      partitionBy: PartitionBy.None,
      appId: "cdc-readings",
      primaryKey: ["sensor", "at", "day", "ok"],
      writer,
    });
    const t = DAY1 - 1;
    await table.append(
      [reading(1, t, true, 1), reading(1, t + 1, true, 2), reading(2, t, true, 3), reading(2, t, false, 4)],
      1,
    );
    const day = Math.floor(t / 86_400_000);
    const result = await table.merge(
      [reading(1, t + 1, true, 20)],
      [{ sensor: 2, at: new Date(t), day, ok: false }],
      2,
    );
    expect(result).toMatchObject({ deleted: 1, filesRemoved: 1, rowsRewritten: 2 });
    const snapshot = await readDeltaSnapshot(join(lakeDir, "curated", "readings"));
    const back = await db.runAndReadAll(
      `SELECT sensor, epoch_ms("at") - ${t} AS at, ok, value FROM (${snapshotScanSql(snapshot!)}) ORDER BY ALL`,
    );
    expect(back.getRows()).toEqual([
      [1, 0n, true, 1],
      [1, 1n, true, 20],
      [2, 0n, true, 3],
    ]);
  });

  it("merges by a decimal key, and updates decimal values exactly", async () => {
    const ledger = {
      type: "record",
      name: "ledger",
      fields: [
        { name: "account", type: { type: "bytes", logicalType: "decimal", precision: 20, scale: 0 } },
        { name: "balance", type: { type: "bytes", logicalType: "decimal", precision: 14, scale: 2 } },
      ],
    } as AvroSchema;
    const entry = (account: string, balance: string): CuratedRow => ({
      event: { account, balance },
      eventId: `${account}:${balance}`,
      ingestedAt: DAY1,
      traceId: "",
      schemaVersion: 1,
    });
    const table = await CuratedTable.open({
      lakeDir,
      dataset: "ledger",
      avroSchema: ledger,
      schemaVersion: 1,
      partitionBy: PartitionBy.None,
      appId: "cdc-ledger",
      primaryKey: ["account"],
      writer,
    });
    // Account numbers past 2^53, which a double would merge into one.
    await table.merge(
      [entry("90071992547409930", "0.10"), entry("90071992547409931", "0.20"), entry("7", "1.00")],
      [],
      1,
    );
    const result = await table.merge([entry("90071992547409931", "0.30")], [{ account: "7" }], 2);
    expect(result).toMatchObject({ deleted: 1 });
    const snapshot = await readDeltaSnapshot(join(lakeDir, "curated", "ledger"));
    const back = await db.runAndReadAll(
      `SELECT account::VARCHAR, balance::VARCHAR, typeof(balance) FROM (${snapshotScanSql(snapshot!)}) ORDER BY account`,
    );
    expect(back.getRows()).toEqual([
      ["90071992547409930", "0.10", "DECIMAL(14,2)"],
      ["90071992547409931", "0.30", "DECIMAL(14,2)"],
    ]);
  });

  it("refuses to rewrite a file whose rows do not add up to its statistics, committing nothing", async () => {
    const table = await open();
    await table.append([customer("a", "Ann"), customer("b", "Bob")], 1);
    const snapshot = await readDeltaSnapshot(tableDir);
    const file = snapshot!.files[0]!;
    await commitDelta(tableDir, 1, [{ add: { ...file, stats: { ...file.stats!, numRecords: 9 } } }]);
    const reopened = await open();
    const error = await reopened.merge([customer("c", "Cid")], [{ id: "a" }], 2).catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.code).toBe(LakeErrorCode.CorruptLog);
    expect(error.message).toMatch(/holds 2 rows \(1 of the merged keys\) but its statistics count 9$/);
    expect((await readDeltaSnapshot(tableDir))!.version).toBe(1);
    // The upsert's file and the rewrite were deleted.
    expect(await readdir(join(tableDir, "event_date=2024-05-01"))).toEqual([file.path.split("/")[1]]);
  });
});
