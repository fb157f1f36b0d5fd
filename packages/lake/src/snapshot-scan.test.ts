import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ColumnKind } from "./column-kind.js";
import { commitDelta, type DeltaMetadata, readDeltaSnapshot } from "./delta-log.js";
import { DeltaLogError, LakeErrorCode } from "./errors.js";
import { ParquetWriter } from "./parquet-writer.js";
import { encodeDeltaPath, hivePartitionSegment } from "./paths.js";
import { snapshotScanSql } from "./snapshot-scan.js";

const field = (name: string, type: string) => ({ name, type, nullable: true, metadata: {} });

function metadata(fields: object[], partitionColumns: string[], configuration = {}): DeltaMetadata {
  return {
    id: "2c8a5f4e-0d3b-4d84-9a53-6f0e6e1b8c20",
    format: { provider: "parquet", options: {} },
    schemaString: JSON.stringify({ type: "struct", fields }),
    partitionColumns,
    configuration,
  };
}

describe("snapshotScanSql", () => {
  let dir: string;
  let writer: ParquetWriter;
  let instance: DuckDBInstance;
  let db: DuckDBConnection;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "inlet-scan-"));
    writer = await ParquetWriter.create({ threads: 1 });
    instance = await DuckDBInstance.create(":memory:");
    db = await instance.connect();
  });
  afterAll(async () => {
    await writer.close();
    db.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives an empty table its columns and types", async () => {
    const tableDir = join(dir, "empty");
    await commitDelta(tableDir, 0, [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: metadata(
          [field("a", "long"), field("t", "timestamp"), field("d", "date"), field("m", "decimal(10,2)")],
          ["d"],
        ),
      },
    ]);
    const reader = await db.runAndReadAll(snapshotScanSql((await readDeltaSnapshot(tableDir))!));
    expect(reader.columnNames()).toEqual(["a", "t", "d", "m"]);
    expect(reader.columnTypes().map(String)).toEqual([
      "BIGINT",
      "TIMESTAMP WITH TIME ZONE",
      "DATE",
      "DECIMAL(10,2)",
    ]);
    expect(reader.getRows()).toEqual([]);
  });

  it("types partition values from the schema and reads null ones as NULL", async () => {
    const tableDir = join(dir, "typed");
    const partitions: { n: string | null; s: string | null }[] = [
      { n: "1", s: "it's" },
      { n: null, s: "A/B" },
      { n: "2", s: null },
    ];
    const adds = [];
    for (const [i, p] of partitions.entries()) {
      const relative = `${hivePartitionSegment("n", p.n)}/${hivePartitionSegment("s", p.s)}/part-${i}.parquet`;
      const [file] = await writer.write({
        columns: [{ name: "v", kind: ColumnKind.Int, values: [i] }],
        files: [join(tableDir, relative)],
      });
      adds.push({
        add: {
          path: encodeDeltaPath(relative),
          partitionValues: p,
          size: file!.size,
          modificationTime: 1,
          dataChange: true,
        },
      });
    }
    await commitDelta(tableDir, 0, [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: metadata([field("v", "integer"), field("n", "integer"), field("s", "string")], ["n", "s"]),
      },
      ...adds,
    ]);
    const reader = await db.runAndReadAll(
      `${snapshotScanSql((await readDeltaSnapshot(tableDir))!)} ORDER BY v`,
    );
    expect(reader.columnTypes().map(String)).toEqual(["INTEGER", "INTEGER", "VARCHAR"]);
    expect(reader.getRows()).toEqual([
      [0, 1, "it's"],
      [1, null, "A/B"],
      [2, 2, null],
    ]);
  });

  /** Writes one single-row file per `{path, values}` into a table partitioned by d (date) and c (string). */
  async function partitionedTable(name: string, files: { path: string; d: string; c: string }[]) {
    const tableDir = join(dir, name);
    const adds = [];
    for (const [i, f] of files.entries()) {
      const [file] = await writer.write({
        columns: [{ name: "v", kind: ColumnKind.Int, values: [i] }],
        files: [join(tableDir, f.path)],
      });
      adds.push({
        add: {
          path: f.path,
          partitionValues: { d: f.d, c: f.c },
          size: file!.size,
          modificationTime: 1,
          dataChange: true,
        },
      });
    }
    await commitDelta(tableDir, 0, [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { metaData: metadata([field("v", "integer"), field("d", "date"), field("c", "string")], ["d", "c"]) },
      ...adds,
    ]);
    return (await readDeltaSnapshot(tableDir))!;
  }

  it("reads plainly spelled partition paths in one scan, typed from the schema", async () => {
    const snapshot = await partitionedTable("plain", [
      { path: "d=2026-01-01/c=DE/part-0.parquet", d: "2026-01-01", c: "DE" },
      { path: "d=2026-01-02/c=007/part-1.parquet", d: "2026-01-02", c: "007" },
    ]);
    const sql = snapshotScanSql(snapshot);
    expect(sql.match(/read_parquet/g)).toHaveLength(1);
    expect(sql).toContain("hive_partitioning = true");
    const reader = await db.runAndReadAll(`SELECT v, d::VARCHAR, c FROM (${sql}) ORDER BY v`);
    expect(reader.getRows()).toEqual([
      [0, "2026-01-01", "DE"],
      [1, "2026-01-02", "007"],
    ]);
    const types = await db.runAndReadAll(sql);
    expect(types.columnTypes().map(String)).toEqual(["INTEGER", "DATE", "VARCHAR"]);
  });

  it("takes partition values from the log when a path does not spell them", async () => {
    const snapshot = await partitionedTable("misplaced", [
      { path: "d=2026-01-01/c=DE/part-0.parquet", d: "2026-01-01", c: "DE" },
      // The log says FR; the directory says DE. The log wins.
      { path: "d=2026-01-01/c=DE/part-1.parquet", d: "2026-01-01", c: "FR" },
    ]);
    const sql = snapshotScanSql(snapshot);
    expect(sql).not.toContain("hive_partitioning = true");
    const reader = await db.runAndReadAll(`SELECT v, c FROM (${sql}) ORDER BY v`);
    expect(reader.getRows()).toEqual([
      [0, "DE"],
      [1, "FR"],
    ]);
  });

  it("refuses tables that need column mapping", async () => {
    const tableDir = join(dir, "mapped");
    await commitDelta(tableDir, 0, [
      { protocol: { minReaderVersion: 2, minWriterVersion: 5 } },
      { metaData: metadata([field("a", "long")], [], { "delta.columnMapping.mode": "name" }) },
    ]);
    const snapshot = (await readDeltaSnapshot(tableDir))!;
    expect(() => snapshotScanSql(snapshot)).toThrow(DeltaLogError);
    expect(() => snapshotScanSql(snapshot)).toThrow(
      expect.objectContaining({ code: LakeErrorCode.UnsupportedProtocol }),
    );
  });
});
