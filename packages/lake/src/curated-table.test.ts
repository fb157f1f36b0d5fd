import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AvroSchema } from "./avro-columns.js";
import { type CuratedRow, CuratedTable, type CuratedTableOptions, PartitionBy } from "./curated-table.js";
import { readLastCheckpoint } from "./delta-checkpoint.js";
import { planDeltaReplay, readCommit, readDeltaSnapshot } from "./delta-log.js";
import { parseDeltaSchema } from "./delta-schema.js";
import { LakeError, LakeErrorCode, LakeSchemaError } from "./errors.js";
import { ParquetWriter } from "./parquet-writer.js";
import { snapshotScanSql } from "./snapshot-scan.js";

const clicksV1 = {
  type: "record",
  name: "clicks",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" }, doc: "Event time." },
    { name: "user_id", type: "string" },
    { name: "referrer", type: ["null", "string"], default: null },
    {
      name: "device",
      type: { type: "enum", name: "clicks_device", symbols: ["desktop", "mobile", "tablet"] },
    },
    { name: "duration_ms", type: "int" },
  ],
} as AvroSchema;

const clicksV2 = {
  ...(clicksV1 as object),
  fields: [
    ...(clicksV1 as { fields: object[] }).fields,
    { name: "country", type: ["null", "string"], default: null },
  ],
} as AvroSchema;

const DAY1 = Date.UTC(2024, 4, 1, 23, 59, 59, 999);
const DAY2 = Date.UTC(2024, 4, 2, 0, 0, 0, 0);

function click(i: number, ts: number, extra: Record<string, unknown> = {}): CuratedRow {
  return {
    event: {
      ts,
      user_id: `u${i}`,
      referrer: i % 2 === 0 ? null : `https://ref/${i}`,
      device: (["desktop", "mobile", "tablet"] as const)[i % 3],
      duration_ms: i * 10,
      ...extra,
    },
    eventId: `e${i}`,
    ingestedAt: ts + 5,
    traceId: i === 0 ? "" : "0af7651916cd43dd8448eb211c80319c",
    schemaVersion: extra.country === undefined ? 1 : 2,
  };
}

describe("CuratedTable", () => {
  let lakeDir: string;
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
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-curated-"));
  });
  afterEach(async () => {
    await rm(lakeDir, { recursive: true, force: true });
  });

  const options = (overrides: Partial<CuratedTableOptions> = {}): CuratedTableOptions => ({
    lakeDir,
    dataset: "clicks",
    avroSchema: clicksV1,
    schemaVersion: 1,
    partitionBy: PartitionBy.EventDate,
    eventTimeField: "ts",
    appId: "lake-writer-clicks",
    writer,
    ...overrides,
  });

  const scan = async (select = "*", order = "_event_id") => {
    const snapshot = await readDeltaSnapshot(join(lakeDir, "curated", "clicks"));
    const reader = await db.runAndReadAll(
      `SELECT ${select} FROM (${snapshotScanSql(snapshot!)}) ORDER BY ${order}`,
    );
    return reader;
  };

  it("reads back exactly the appended rows, typed, with lineage and the event date", async () => {
    const table = await CuratedTable.open(options());
    const rows = [click(0, DAY1), click(1, DAY2), click(2, DAY1 - 1000)];
    const result = await table.append(rows, 42);
    expect(result).toEqual({ version: 0, files: 2, rows: 3 });

    const reader = await scan();
    expect(reader.columnNames()).toEqual([
      "ts",
      "user_id",
      "referrer",
      "device",
      "duration_ms",
      "_event_id",
      "_ingested_at",
      "_trace_id",
      "_schema_version",
      "event_date",
    ]);
    expect(reader.columnTypes().map(String)).toEqual([
      "TIMESTAMP WITH TIME ZONE",
      "VARCHAR",
      "VARCHAR",
      "VARCHAR",
      "INTEGER",
      "VARCHAR",
      "TIMESTAMP WITH TIME ZONE",
      "VARCHAR",
      "INTEGER",
      "DATE",
    ]);
    const back = await scan(
      "epoch_ms(ts) AS ts, user_id, referrer, device, duration_ms, _event_id, epoch_ms(_ingested_at) AS ingested, _trace_id, _schema_version, event_date::VARCHAR AS event_date",
    );
    expect(back.getRowObjectsJS()).toEqual([
      {
        ts: BigInt(DAY1),
        user_id: "u0",
        referrer: null,
        device: "desktop",
        duration_ms: 0,
        _event_id: "e0",
        ingested: BigInt(DAY1 + 5),
        _trace_id: null,
        _schema_version: 1,
        event_date: "2024-05-01",
      },
      {
        ts: BigInt(DAY2),
        user_id: "u1",
        referrer: "https://ref/1",
        device: "mobile",
        duration_ms: 10,
        _event_id: "e1",
        ingested: BigInt(DAY2 + 5),
        _trace_id: "0af7651916cd43dd8448eb211c80319c",
        _schema_version: 1,
        event_date: "2024-05-02",
      },
      {
        ts: BigInt(DAY1 - 1000),
        user_id: "u2",
        referrer: null,
        device: "tablet",
        duration_ms: 20,
        _event_id: "e2",
        ingested: BigInt(DAY1 - 995),
        _trace_id: "0af7651916cd43dd8448eb211c80319c",
        _schema_version: 1,
        event_date: "2024-05-01",
      },
    ]);
  });

  it("writes one file per event date under event_date=… and commits them together with the txn", async () => {
    const table = await CuratedTable.open(options());
    await table.append([click(0, DAY1), click(1, DAY2), click(2, DAY1)], 7);
    const tableDir = join(lakeDir, "curated", "clicks");
    expect((await readdir(tableDir)).sort()).toEqual([
      "_delta_log",
      "event_date=2024-05-01",
      "event_date=2024-05-02",
    ]);
    const actions = await readCommit(tableDir, 0);
    expect(actions.map((a) => Object.keys(a)[0])).toEqual([
      "commitInfo",
      "protocol",
      "metaData",
      "add",
      "add",
      "txn",
    ]);
    const adds = actions.flatMap((a) => ("add" in a ? [a.add] : []));
    expect(
      adds
        .map((a) => a.partitionValues)
        .sort((a, b) => String(a.event_date).localeCompare(String(b.event_date))),
    ).toEqual([{ event_date: "2024-05-01" }, { event_date: "2024-05-02" }]);
    for (const add of adds) {
      expect(add.path).toMatch(
        new RegExp(`^event_date=${add.partitionValues.event_date}/part-[0-9a-f-]{36}\\.zstd\\.parquet$`),
      );
    }
    expect(actions.at(-1)).toMatchObject({ txn: { appId: "lake-writer-clicks", version: 7 } });
    const metaData = actions.find((a) => "metaData" in a);
    expect(metaData && "metaData" in metaData && metaData.metaData.partitionColumns).toEqual(["event_date"]);
  });

  it("records per-file statistics in the add actions", async () => {
    const table = await CuratedTable.open(options());
    await table.append([click(0, DAY1), click(1, DAY1 - 60_000), click(2, DAY1 - 1)], 1);
    const [add] = (await readCommit(join(lakeDir, "curated", "clicks"), 0)).flatMap((a) =>
      "add" in a ? [a.add] : [],
    );
    expect(add!.stats).toEqual({
      numRecords: 3,
      minValues: {
        ts: new Date(DAY1 - 60_000).toISOString(),
        user_id: "u0",
        referrer: "https://ref/1",
        device: "desktop",
        duration_ms: 0,
        _event_id: "e0",
        _ingested_at: new Date(DAY1 - 59_995).toISOString(),
        _trace_id: "0af7651916cd43dd8448eb211c80319c",
        _schema_version: 1,
      },
      maxValues: {
        ts: new Date(DAY1).toISOString(),
        user_id: "u2",
        referrer: "https://ref/1",
        device: "tablet",
        duration_ms: 20,
        _event_id: "e2",
        _ingested_at: new Date(DAY1 + 5).toISOString(),
        _trace_id: "0af7651916cd43dd8448eb211c80319c",
        _schema_version: 1,
      },
      nullCount: {
        ts: 0,
        user_id: 0,
        referrer: 2,
        device: 0,
        duration_ms: 0,
        _event_id: 0,
        _ingested_at: 0,
        _trace_id: 1,
        _schema_version: 0,
      },
    });
  });

  it("knows after reopening which stream sequence was committed last", async () => {
    const table = await CuratedTable.open(options());
    expect(table.committedVersion()).toBeUndefined();
    await table.append([click(0, DAY1)], 10);
    await table.append([click(1, DAY1)], 25);
    expect(table.committedVersion()).toBe(25);
    const reopened = await CuratedTable.open(options());
    expect(reopened.committedVersion()).toBe(25);
    expect(reopened.snapshot?.version).toBe(1);
    const stale = await reopened.append([click(1, DAY1)], 25).catch((e) => e);
    expect(stale).toBeInstanceOf(LakeError);
    expect(stale.code).toBe(LakeErrorCode.TxnAlreadyCommitted);
    const other = await CuratedTable.open(options({ appId: "someone-else" }));
    expect(other.committedVersion()).toBeUndefined();
  });

  it("appends columns from a source called when the writer stages them, partitioned alike", async () => {
    const table = await CuratedTable.open(options());
    expect(table.dataColumns).toEqual(["ts", "user_id", "referrer", "device", "duration_ms"]);
    let called = 0;
    const result = await table.appendColumns(async () => {
      called++;
      return {
        rows: 3,
        data: [
          [DAY1, DAY2, DAY2],
          ["u0", "u1", "u2"],
          [null, "r", null],
          ["desktop", "mobile", "tablet"],
          [0, 10, 20],
        ],
        eventIds: ["e0", "e1", "e2"],
        ingestedAts: [DAY1 + 5, DAY2 + 5, DAY2 + 5],
        traceIds: [null, "0af7651916cd43dd8448eb211c80319c", null],
        schemaVersions: [1, 1, 1],
      };
    }, 7);
    expect(called).toBe(1);
    expect(result).toMatchObject({ version: 0, files: 2, rows: 3 });
    expect(table.committedVersion()).toBe(7);
    const rows = (
      await scan("_event_id, user_id, referrer, _trace_id, CAST(event_date AS VARCHAR) AS d")
    ).getRows();
    expect(rows).toEqual([
      ["e0", "u0", null, null, "2024-05-01"],
      ["e1", "u1", "r", "0af7651916cd43dd8448eb211c80319c", "2024-05-02"],
      ["e2", "u2", null, null, "2024-05-02"],
    ]);
  });

  it("refuses columns that do not match the table, committing nothing", async () => {
    const table = await CuratedTable.open(options());
    const error = await table
      .appendColumns(
        {
          rows: 2,
          data: [[DAY1, DAY1], ["u0", "u1"], [null, null], ["desktop"], [0, 1]],
          eventIds: ["e0", "e1"],
          ingestedAts: [0, 0],
          traceIds: [null, null],
          schemaVersions: [1, 1],
        },
        3,
      )
      .catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.message).toMatch(
      /^dataset "clicks": columns must be 5 data arrays and 4 lineage arrays of 2 values each/,
    );
    expect(table.committedVersion()).toBeUndefined();
    expect(await readDeltaSnapshot(join(lakeDir, "curated", "clicks"))).toBeUndefined();
  });

  it("commits the txn alone when a batch has no rows", async () => {
    const table = await CuratedTable.open(options());
    expect(await table.append([], 3)).toEqual({ version: 0, files: 0, rows: 0 });
    expect((await scan()).getRows()).toEqual([]);
    expect((await CuratedTable.open(options())).committedVersion()).toBe(3);
  });

  it("retries at the next version when another writer commits first", async () => {
    const a = await CuratedTable.open(options({ appId: "a" }));
    const b = await CuratedTable.open(options({ appId: "b" }));
    await a.append([click(0, DAY1)], 1);
    expect(await b.append([click(1, DAY2)], 1)).toMatchObject({ version: 1 });
    const second = await readCommit(join(lakeDir, "curated", "clicks"), 1);
    expect(second.some((action) => "protocol" in action || "metaData" in action)).toBe(false);
    expect((await scan("_event_id")).getRows()).toEqual([["e0"], ["e1"]]);
    expect(b.committedVersion()).toBe(1);
    expect(b.snapshot?.txns.get("a")).toBe(1);
  });

  it("does not commit twice what a writer with the same appId already stored", async () => {
    const first = await CuratedTable.open(options());
    const twin = await CuratedTable.open(options());
    await first.append([click(0, DAY1)], 5);
    const error = await twin.append([click(0, DAY1)], 5).catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.code).toBe(LakeErrorCode.TxnAlreadyCommitted);
    expect((await scan("_event_id")).getRows()).toEqual([["e0"]]);
  });

  it("refuses a batch whose start another writer with the same appId has moved past", async () => {
    const first = await CuratedTable.open(options());
    const twin = await CuratedTable.open(options());
    // Both read from sequence 1; the first stores 1-3, the twin holds 1-5.
    await first.append([click(0, DAY1), click(1, DAY1), click(2, DAY1)], 3, { after: 0 });
    const overlap = await twin
      .append(
        [0, 1, 2, 3, 4].map((i) => click(i, DAY1)),
        5,
        { after: 0 },
      )
      .catch((e) => e);
    expect(overlap).toBeInstanceOf(LakeError);
    expect(overlap.code).toBe(LakeErrorCode.TxnAlreadyCommitted);
    expect(overlap.message).toMatch(/committed up to 3, not 0/);
    // Read again from after 3, the twin's batch is taken.
    await twin.append([click(3, DAY1), click(4, DAY1)], 5, { after: 3 });
    expect((await scan("_event_id")).getRows()).toEqual([["e0"], ["e1"], ["e2"], ["e3"], ["e4"]]);
  });

  it("evolves the schema: a new nullable field reads as NULL in older files", async () => {
    const v1 = await CuratedTable.open(options());
    await v1.append([click(0, DAY1), click(1, DAY1)], 1);
    const v2 = await CuratedTable.open(options({ avroSchema: clicksV2, schemaVersion: 2 }));
    await v2.append([click(2, DAY1, { country: "FR" })], 2);

    const snapshot = await readDeltaSnapshot(join(lakeDir, "curated", "clicks"));
    expect(snapshot!.metadata.configuration["inlet.schemaVersion"]).toBe("2");
    const names = parseDeltaSchema(snapshot!.metadata.schemaString).fields.map((f) => [f.name, f.nullable]);
    expect(names.slice(4, 7)).toEqual([
      ["duration_ms", false],
      ["country", true],
      ["_event_id", false],
    ]);
    const back = await scan("_event_id, country, _schema_version");
    expect(back.getRows()).toEqual([
      ["e0", null, 1],
      ["e1", null, 1],
      ["e2", "FR", 2],
    ]);
    // A writer still on version 1 keeps writing; the table keeps version 2's schema.
    await v1.append([click(3, DAY1)], 3);
    const latest = await readDeltaSnapshot(join(lakeDir, "curated", "clicks"));
    expect(latest!.metadata.configuration["inlet.schemaVersion"]).toBe("2");
    expect((await scan("_event_id, country")).getRows().at(-1)).toEqual(["e3", null]);
  });

  it("refuses a schema version that changes a column's type", async () => {
    const v1 = await CuratedTable.open(options());
    await v1.append([click(0, DAY1)], 1);
    const changed = {
      ...(clicksV1 as object),
      fields: (clicksV1 as { fields: { name: string }[] }).fields.map((f) =>
        f.name === "duration_ms" ? { name: "duration_ms", type: "double" } : f,
      ),
    } as AvroSchema;
    const error = await CuratedTable.open(options({ avroSchema: changed, schemaVersion: 2 })).catch((e) => e);
    expect(error).toBeInstanceOf(LakeSchemaError);
    expect(error.code).toBe(LakeErrorCode.IncompatibleSchema);
    expect(error.message).toContain('field "duration_ms"');
  });

  it("stores decimals exactly as DECIMAL(p,s), declared decimal(p,s) in the Delta schema", async () => {
    const payments = {
      type: "record",
      name: "payments",
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 38, scale: 2 } },
        {
          name: "fee",
          type: [
            "null",
            { type: "fixed", name: "Fee", size: 8, logicalType: "decimal", precision: 12, scale: 4 },
          ],
          default: null,
        },
      ],
    } as AvroSchema;
    const table = await CuratedTable.open(options({ avroSchema: payments }));
    const row = (i: number, amount: string, fee: string | null): CuratedRow => ({
      event: { ts: DAY1, amount, fee },
      eventId: `e${i}`,
      ingestedAt: DAY1,
      traceId: "",
      schemaVersion: 1,
    });
    // Past a double's 15–17 digits, and values whose double is not exact (0.10, 0.20).
    const big = "123456789012345678901234567890123456.78";
    await table.append(
      [row(0, big, "0.1000"), row(1, "-0.10", null), row(2, "0.20", "-12345678.9999"), row(3, "0", "0")],
      1,
    );

    const reader = await scan("amount, fee, amount::VARCHAR AS text, (amount + 0.10)::VARCHAR AS sum");
    expect(reader.columnTypes().map(String).slice(0, 2)).toEqual(["DECIMAL(38,2)", "DECIMAL(12,4)"]);
    expect(reader.getRowObjectsJS().map(({ text, sum }) => [text, sum])).toEqual([
      [big, "123456789012345678901234567890123456.88"],
      ["-0.10", "0.00"],
      ["0.20", "0.30"],
      ["0.00", "0.10"],
    ]);
    const fees = await scan("fee::VARCHAR AS fee");
    expect(fees.getRowObjectsJS().map((r) => r.fee)).toEqual(["0.1000", null, "-12345678.9999", "0.0000"]);

    const snapshot = await readDeltaSnapshot(join(lakeDir, "curated", "clicks"));
    const fields = parseDeltaSchema(snapshot!.metadata.schemaString).fields;
    expect(fields.slice(1, 3).map((f) => [f.name, f.type, f.nullable])).toEqual([
      ["amount", "decimal(38,2)", false],
      ["fee", "decimal(12,4)", true],
    ]);

    // A value the column cannot hold exactly is refused, naming the column, not rounded.
    const error = await table.append([row(4, "1.005", null)], 2).catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.message).toMatch(/column "amount".*expected decimal\(38,2\) text, got "1.005"/);
    expect((await scan("count(*)::INTEGER AS n", "1")).getRowObjectsJS()).toEqual([{ n: 4 }]);
  });

  it("refuses a decimal column whose precision or scale changes", async () => {
    const schema = (scale: number) =>
      ({
        type: "record",
        name: "payments",
        fields: [
          { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
          { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 18, scale } },
        ],
      }) as AvroSchema;
    const v1 = await CuratedTable.open(options({ avroSchema: schema(2) }));
    await v1.append(
      [
        {
          event: { ts: DAY1, amount: "1.00" },
          eventId: "e",
          ingestedAt: DAY1,
          traceId: "",
          schemaVersion: 1,
        },
      ],
      1,
    );
    const error = await CuratedTable.open(options({ avroSchema: schema(4), schemaVersion: 2 })).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(LakeSchemaError);
    expect(error.message).toContain('field "amount"');
  });

  it("puts events without an event time in the null partition", async () => {
    const nullable = {
      ...(clicksV1 as object),
      fields: [
        { name: "ts", type: ["null", { type: "long", logicalType: "timestamp-millis" }], default: null },
        ...(clicksV1 as { fields: object[] }).fields.slice(1),
      ],
    } as AvroSchema;
    const table = await CuratedTable.open(options({ avroSchema: nullable }));
    await table.append([click(0, DAY1), click(1, DAY1, { ts: null })], 1);
    expect((await readdir(join(lakeDir, "curated", "clicks"))).sort()).toEqual([
      "_delta_log",
      "event_date=2024-05-01",
      "event_date=__HIVE_DEFAULT_PARTITION__",
    ]);
    expect((await scan("_event_id, event_date::VARCHAR")).getRows()).toEqual([
      ["e0", "2024-05-01"],
      ["e1", null],
    ]);
  });

  it("writes an unpartitioned table when asked", async () => {
    const table = await CuratedTable.open(
      options({ partitionBy: PartitionBy.None, eventTimeField: undefined }),
    );
    await table.append([click(0, DAY1), click(1, DAY2)], 1);
    const snapshot = await readDeltaSnapshot(join(lakeDir, "curated", "clicks"));
    expect(snapshot!.metadata.partitionColumns).toEqual([]);
    expect(snapshot!.files).toHaveLength(1);
    expect(snapshot!.files[0]!.path).toMatch(/^part-[0-9a-f-]{36}\.zstd\.parquet$/);
    expect((await scan("_event_id")).getRows()).toEqual([["e0"], ["e1"]]);
  });

  it("leaves files written before a failed commit unseen by readers", async () => {
    const table = await CuratedTable.open(options({ maxCommitAttempts: 1 }));
    const racer = await CuratedTable.open(options({ appId: "racer" }));
    await racer.append([click(9, DAY1)], 1);
    // `table` still believes the table is empty: its one attempt at version 0 loses.
    await expect(table.append([click(0, DAY1)], 1)).rejects.toMatchObject({
      code: LakeErrorCode.VersionExists,
    });
    const files = await readdir(join(lakeDir, "curated", "clicks", "event_date=2024-05-01"));
    expect(files).toHaveLength(2);
    expect((await scan("_event_id")).getRows()).toEqual([["e9"]]);
  });

  it("refuses an event time field that is not a timestamp", async () => {
    await expect(CuratedTable.open(options({ eventTimeField: "user_id" }))).rejects.toBeInstanceOf(
      LakeSchemaError,
    );
  });

  it("writes a Parquet checkpoint every checkpointInterval commits that reads back identically", async () => {
    const table = await CuratedTable.open(options({ checkpointInterval: 5 }));
    const checkpoints: number[] = [];
    for (let i = 1; i <= 12; i++) {
      const result = await table.append([click(i, DAY1 + i)], i);
      if (result.checkpoint !== undefined) checkpoints.push(result.checkpoint);
      expect(result.checkpointError).toBeUndefined();
    }
    expect(checkpoints).toEqual([5, 10]);
    const tableDir = join(lakeDir, "curated", "clicks");
    const log = await readdir(join(tableDir, "_delta_log"));
    expect(log.filter((n) => n.endsWith(".checkpoint.parquet"))).toEqual([
      "00000000000000000005.checkpoint.parquet",
      "00000000000000000010.checkpoint.parquet",
    ]);
    expect(await readLastCheckpoint(tableDir)).toMatchObject({ version: 10, size: 2 + 1 + 11 });
    const plan = await planDeltaReplay(tableDir);
    expect(plan).toMatchObject({ version: 11, checkpoint: { version: 10 }, commits: [11] });
    const sorted = (files: readonly { path: string }[]) =>
      [...files].sort((a, b) => a.path.localeCompare(b.path));
    const loaded = await readDeltaSnapshot(tableDir);
    expect(sorted(loaded!.files)).toEqual(sorted(table.snapshot!.files));
    expect(loaded!.txns).toEqual(table.snapshot!.txns);
    expect(loaded!.metadata).toEqual(table.snapshot!.metadata);
    // A writer opened later goes on from the checkpoint and keeps the interval.
    const reopened = await CuratedTable.open(options({ checkpointInterval: 5 }));
    expect(reopened.committedVersion()).toBe(12);
    const results = [];
    for (let i = 13; i <= 16; i++) results.push(await reopened.append([click(i, DAY1)], i));
    expect(results.map((r) => r.checkpoint)).toEqual([undefined, undefined, undefined, 15]);
    expect((await scan("count(*)::INTEGER", "1")).getRows()).toEqual([[16]]);
  });

  it("checkpoints as soon as interval commits passed since the last, when another writer took the multiple", async () => {
    const table = await CuratedTable.open(options({ checkpointInterval: 3 }));
    const other = await CuratedTable.open(options({ appId: "other", checkpointInterval: 1000 }));
    await table.append([click(0, DAY1)], 1); // 0
    await table.append([click(1, DAY1)], 2); // 1
    await table.append([click(2, DAY1)], 3); // 2
    await other.append([click(3, DAY1)], 1); // 3: a multiple of 3, not checkpointed
    const result = await table.append([click(4, DAY1)], 4); // conflicts at 3, commits 4
    expect(result).toMatchObject({ version: 4, checkpoint: 4 });
  });

  it("widens int to long and float to double, reading older narrow files through the union", async () => {
    const narrow = {
      type: "record",
      name: "m",
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "count", type: "int" },
        { name: "ratio", type: "float" },
      ],
    } as AvroSchema;
    const wide = {
      ...(narrow as object),
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "count", type: "long" },
        { name: "ratio", type: "double" },
      ],
    } as AvroSchema;
    const row = (i: number, count: number | bigint, ratio: number, version: number): CuratedRow => ({
      event: { ts: DAY1, count, ratio },
      eventId: `e${i}`,
      ingestedAt: DAY1,
      traceId: "",
      schemaVersion: version,
    });
    const v1 = await CuratedTable.open(options({ avroSchema: narrow, dataset: "m" }));
    await v1.append([row(0, 7, 0.5, 1)], 1);
    const v2 = await CuratedTable.open(options({ avroSchema: wide, schemaVersion: 2, dataset: "m" }));
    await v2.append([row(1, 2n ** 40n, 0.1, 2)], 2);
    // A writer still on version 1 learns of the widening when its commit conflicts (that file
    // stays narrow and reads through the union); from then on it writes the table's wider type.
    await v1.append([row(2, 8, 0.25, 1)], 3);
    await v1.append([row(3, 9, 0.75, 1)], 4);

    const tableDir = join(lakeDir, "curated", "m");
    const snapshot = await readDeltaSnapshot(tableDir);
    const types = parseDeltaSchema(snapshot!.metadata.schemaString).fields.map((f) => [f.name, f.type]);
    expect(types.slice(0, 3)).toEqual([
      ["ts", "timestamp"],
      ["count", "long"],
      ["ratio", "double"],
    ]);
    const fileTypes = await db.runAndReadAll(
      `SELECT file_name, type FROM parquet_schema([${snapshot!.files
        .map((f) => `'${join(tableDir, f.path)}'`)
        .join(", ")}]) WHERE name = 'count' ORDER BY type`,
    );
    expect(fileTypes.getRows().map((r) => r[1])).toEqual(["INT32", "INT32", "INT64", "INT64"]);
    const reader = await db.runAndReadAll(
      `SELECT _event_id, "count", ratio FROM (${snapshotScanSql(snapshot!)}) ORDER BY _event_id`,
    );
    expect(reader.columnTypes().map(String)).toEqual(["VARCHAR", "BIGINT", "DOUBLE"]);
    expect(reader.getRows()).toEqual([
      ["e0", 7n, 0.5],
      ["e1", 2n ** 40n, 0.1],
      ["e2", 8n, 0.25],
      ["e3", 9n, 0.75],
    ]);
  });

  it("refuses narrowing a column, long to int", async () => {
    const wide = {
      type: "record",
      name: "m",
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "count", type: "long" },
      ],
    } as AvroSchema;
    const narrow = {
      ...(wide as object),
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
        { name: "count", type: "double" },
      ],
    } as AvroSchema;
    const v1 = await CuratedTable.open(options({ avroSchema: wide, dataset: "m" }));
    await v1.append(
      [{ event: { ts: DAY1, count: 1 }, eventId: "e", ingestedAt: DAY1, traceId: "", schemaVersion: 1 }],
      1,
    );
    await expect(
      CuratedTable.open(options({ avroSchema: narrow, schemaVersion: 2, dataset: "m" })),
    ).rejects.toThrow(/only new nullable fields and widened types/);
  });
});
