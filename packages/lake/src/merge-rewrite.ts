import { randomUUID } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type DuckDBAppender, type DuckDBConnection, DuckDBTypeId, type DuckDBValue } from "@duckdb/node-api";
import { ColumnKind, columnKindSpec } from "./column-kind.js";
import type { DeltaAddFile, DeltaFileStats, DeltaSnapshot } from "./delta-log.js";
import { type DeltaStructField, duckDbTypeOf, parseDeltaSchema } from "./delta-schema.js";
import { ensureDir } from "./durable-fs.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import {
  copyParquetSql,
  newDataFilePath,
  parquetFileStats,
  publishFile,
  tempPathOf,
  typedScanSql,
} from "./parquet-rewrite.js";
import type { ParquetWriter } from "./parquet-writer.js";
import { deltaFilePath, encodeDeltaPath, MS_PER_DAY } from "./paths.js";
import { quoteIdent } from "./sql.js";

// How a merge finds the live files that hold rows of its keys, and rewrites them without those rows.

/** A key column of a merge: its name and the kind its values are staged as (see {@link COLUMN_KINDS}). */
export interface MergeKeyColumn {
  readonly name: string;
  readonly kind: ColumnKind;
}

/** The keys of one merge batch, each at most once. */
export interface MergeKeys {
  readonly columns: readonly MergeKeyColumn[];
  /** Each key's values in column order, staged by its column kind's `stage` (never null). */
  readonly values: readonly (readonly DuckDBValue[])[];
  /** Whether each key is deleted (else upserted). */
  readonly deleted: readonly boolean[];
}

/** A live file rewritten without the rows of a merge's keys. */
export interface KeyedRewrite {
  /** The live file the merge removes. */
  readonly source: DeltaAddFile;
  /** The file of its other rows, durable and not yet committed; absent when no row was left. */
  readonly add?: DeltaAddFile;
  /** Rows kept, in `add`. */
  readonly rows: number;
  /** The keys (indexes into {@link MergeKeys.values}) it held rows of. */
  readonly keys: readonly number[];
}

// Columns of the keys' temp table besides the key columns, and the column naming each row's file:
// '#' is in no Avro name, so they clash with no dataset column.
const KEY_INDEX = "#key";
const KEY_DELETED = "#delete";
const FILE_COLUMN = "#file";

/**
 * The files among `files` whose statistics leave it possible that they hold a row of one of the
 * keys: a file is skipped when, for some key column, no key's value lies within its min/max.
 * Files without statistics, and key columns without them (booleans, or another engine's files),
 * are kept: the search reads them.
 */
export function keyCandidates(files: readonly DeltaAddFile[], keys: MergeKeys): DeltaAddFile[] {
  if (keys.values.length === 0) return [];
  const ranges = keys.columns.flatMap((column, c) => {
    const range = keyRange(
      column,
      keys.values.map((v) => v[c]!),
    );
    return range === undefined ? [] : [range];
  });
  return files.filter((file) => mayHoldKeys(file, ranges));
}

// One key column's values, sorted, as bounds comparable with its statistics.
interface KeyRange {
  readonly name: string;
  readonly sorted: readonly Bound[];
  readonly bound: (stat: unknown, side: "min" | "max") => Bound | undefined;
}

// Numbers, dates and timestamps compare as integers; strings as UTF-8 bytes (DuckDB's order, in
// which the Parquet writer keeps their statistics).
type Bound = bigint | Buffer;

function keyRange(column: MergeKeyColumn, values: readonly DuckDBValue[]): KeyRange | undefined {
  const bound = statBound(column.kind);
  if (bound === undefined) return undefined;
  const sorted = values.map((v) => keyBound(column.kind, v)).sort(compareBounds);
  return { name: column.name, sorted, bound };
}

// A staged key value as a bound: text as bytes; dates in days, timestamps in their kind's unit.
function keyBound(kind: ColumnKind, value: DuckDBValue): Bound {
  if (kind === ColumnKind.String) return Buffer.from(value as string, "utf8");
  return BigInt(value as number | bigint);
}

// Reads a file's min or max statistic of a key column into the key's bounds, loosened where a
// statistic may be rounded: timestamps are kept in ms (truncated or floored), so a millisecond
// either side. Undefined when there is none or it is not what the kind's statistics look like.
function statBound(kind: ColumnKind): KeyRange["bound"] | undefined {
  switch (kind) {
    case ColumnKind.String:
      return (stat) => (typeof stat === "string" ? Buffer.from(stat, "utf8") : undefined);
    case ColumnKind.Int:
    case ColumnKind.Long:
      return (stat) => (typeof stat === "number" && Number.isSafeInteger(stat) ? BigInt(stat) : undefined);
    case ColumnKind.Date:
      return (stat) => {
        if (typeof stat !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(stat)) return undefined;
        const ms = Date.parse(`${stat}T00:00:00Z`);
        return Number.isFinite(ms) ? BigInt(Math.floor(ms / MS_PER_DAY)) : undefined;
      };
    case ColumnKind.TimestampMillis:
    case ColumnKind.TimestampMicros: {
      const unit = kind === ColumnKind.TimestampMicros ? 1000n : 1n;
      return (stat, side) => {
        const ms = typeof stat === "string" ? Date.parse(stat) : Number.NaN;
        if (!Number.isSafeInteger(ms)) return undefined;
        return (BigInt(ms) + (side === "min" ? -1n : 1n)) * unit;
      };
    }
    default:
      return undefined;
  }
}

function compareBounds(a: Bound, b: Bound): number {
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(a as Buffer, b as Buffer);
}

function mayHoldKeys(file: DeltaAddFile, ranges: readonly KeyRange[]): boolean {
  const stats = file.stats;
  if (stats === undefined) return true;
  if (stats.numRecords === 0) return false;
  for (const range of ranges) {
    const min = range.bound(stats.minValues?.[range.name], "min");
    const max = range.bound(stats.maxValues?.[range.name], "max");
    if (min === undefined && max === undefined) continue;
    const first = min === undefined ? 0 : lowerBound(range.sorted, min);
    if (first >= range.sorted.length) return false;
    if (max !== undefined && compareBounds(range.sorted[first]!, max) > 0) return false;
  }
  return true;
}

// The index of the first of `sorted` at or above `bound`.
function lowerBound(sorted: readonly Bound[], bound: Bound): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareBounds(sorted[middle]!, bound) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Finds which of `files` (live files of `snapshot`) hold a row of one of `keys`, and rewrites each
 * of them without those rows: one new file in the same partition, in the table's current schema
 * (typed as compaction writes it), ZSTD with the writer's row groups, with Delta statistics,
 * durable under its final name (temp name, fsync, rename). A file left with no rows is not
 * written. The keys go to a DuckDB temp table on the writer's connection; a join of the files' key
 * columns with it finds the files, an anti join writes each one's other rows. Throws
 * {@link LakeError} (CORRUPT_LOG) when a file's rows do not add up to its statistics' count; on any
 * failure the files written are deleted.
 */
export async function rewriteWithoutKeys(
  snapshot: DeltaSnapshot,
  files: readonly DeltaAddFile[],
  keys: MergeKeys,
  writer: ParquetWriter,
): Promise<KeyedRewrite[]> {
  if (files.length === 0 || keys.values.length === 0) return [];
  const { tableDir } = snapshot;
  const partitionColumns = new Set(snapshot.metadata.partitionColumns);
  const fields = parseDeltaSchema(snapshot.metadata.schemaString).fields.filter(
    (f) => !partitionColumns.has(f.name),
  );
  const keyFields = keys.columns.map((c) => fields.find((f) => f.name === c.name));
  // A key column the table does not have yet: every row holds NULL there, matching no key.
  if (keyFields.some((f) => f === undefined)) return [];
  const keyTable = { fields: keyFields as DeltaStructField[], keys };
  const planned: Planned[] = [];
  try {
    await writer.withConnection(async (connection) => {
      await connection.run("SET TimeZone = 'UTC'"); // naive timestamps of other engines' files cast as UTC
      const table = `inlet_merge_keys_${randomUUID().replaceAll("-", "")}`;
      await createKeyTable(connection, table, keyTable);
      try {
        for (const found of await findKeyedFiles(connection, table, tableDir, keyTable, files)) {
          const relative = newDataFilePath(snapshot.metadata.partitionColumns, found.file.partitionValues);
          const path = join(tableDir, relative);
          const entry: Planned = { ...found, relative, path, temp: tempPathOf(path) };
          planned.push(entry);
          await ensureDir(dirname(path));
          const select = `SELECT src.* FROM (${typedScanSql(tableDir, fields, [found.file])}) AS src ANTI JOIN ${table} AS k ON ${joinOn(keyTable.fields)}`;
          await connection.run(copyParquetSql(select, entry.temp, writer.rowGroupSize));
          entry.stats = await parquetFileStats(connection, fields, entry.temp);
        }
      } finally {
        await connection.run(`DROP TABLE IF EXISTS ${table}`);
      }
    });
    const rewrites: KeyedRewrite[] = [];
    for (const entry of planned) rewrites.push(await finish(tableDir, entry));
    return rewrites;
  } catch (error) {
    await Promise.all(planned.flatMap((p) => [rm(p.temp, { force: true }), rm(p.path, { force: true })]));
    throw error;
  }
}

interface KeyTable {
  readonly fields: readonly DeltaStructField[];
  readonly keys: MergeKeys;
}

interface Found {
  readonly file: DeltaAddFile;
  /** Rows of the file with one of the keys. */
  readonly matched: number;
  readonly keys: readonly number[];
}

interface Planned extends Found {
  readonly relative: string;
  readonly path: string;
  readonly temp: string;
  stats?: DeltaFileStats;
}

// The keys' temp table: the key columns in the table's types, each key's index and whether it is
// deleted. The staged values go in through an appender (a SQL literal per key cost about 14 ms per
// 1,000 keys in DuckDB's parser), into a table of the kinds' staging types, and become the table's
// types by the kinds' own SQL, as the Parquet writer turns staged values into stored ones.
async function createKeyTable(connection: DuckDBConnection, table: string, { fields, keys }: KeyTable) {
  const staged = `${table}_staged`;
  const stagingTypes = keys.columns.map((c) => columnKindSpec(c.kind).staging);
  await connection.run(
    `CREATE TEMP TABLE ${staged} (${[
      ...stagingTypes.map((type, i) => `${quoteIdent(`k${i}`)} ${String(type)}`),
      `${quoteIdent(KEY_INDEX)} INTEGER`,
      `${quoteIdent(KEY_DELETED)} BOOLEAN`,
    ].join(", ")})`,
  );
  try {
    const appender = await connection.createAppender(staged, "main", "temp");
    try {
      for (let k = 0; k < keys.values.length; k++) {
        const values = keys.values[k]!;
        for (let c = 0; c < values.length; c++) appendStaged(appender, stagingTypes[c]!.typeId, values[c]!);
        appender.appendInteger(k);
        appender.appendBoolean(keys.deleted[k] === true);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const columns = fields.map(
      (f, c) =>
        `CAST(${columnKindSpec(keys.columns[c]!.kind).output(quoteIdent(`k${c}`))} AS ${duckDbTypeOf(f.type)}) AS ${quoteIdent(f.name)}`,
    );
    await connection.run(
      `CREATE TEMP TABLE ${table} AS SELECT ${[...columns, quoteIdent(KEY_INDEX), quoteIdent(KEY_DELETED)].join(", ")} FROM ${staged}`,
    );
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${staged}`);
  }
}

// One staged key value into its staging column (strings, integers and booleans are what keys stage as).
function appendStaged(appender: DuckDBAppender, typeId: DuckDBTypeId, value: DuckDBValue): void {
  if (typeId === DuckDBTypeId.VARCHAR && typeof value === "string") appender.appendVarchar(value);
  else if (typeId === DuckDBTypeId.BOOLEAN && typeof value === "boolean") appender.appendBoolean(value);
  else if (typeId === DuckDBTypeId.INTEGER && typeof value === "number") appender.appendInteger(value);
  else if (typeId === DuckDBTypeId.BIGINT && (typeof value === "bigint" || Number.isSafeInteger(value))) {
    appender.appendBigInt(BigInt(value as number | bigint));
  } else {
    throw new LakeError(
      `a key value must stage as a string, an integer or a boolean, got ${String(value)}`,
      LakeErrorCode.InvalidArgument,
    );
  }
}

function joinOn(fields: readonly DeltaStructField[]): string {
  return fields.map((f) => `src.${quoteIdent(f.name)} = k.${quoteIdent(f.name)}`).join(" AND ");
}

// The files with a row of a key: one scan of their key columns (typed as the table's), joined
// with the keys.
async function findKeyedFiles(
  connection: DuckDBConnection,
  table: string,
  tableDir: string,
  { fields }: KeyTable,
  files: readonly DeltaAddFile[],
): Promise<Found[]> {
  const byPath = new Map(files.map((f) => [deltaFilePath(tableDir, f.path), f]));
  const scan = typedScanSql(tableDir, fields, files, { fileColumn: FILE_COLUMN });
  const file = `src.${quoteIdent(FILE_COLUMN)}`;
  const reader = await connection.runAndReadAll(
    `SELECT ${file}, count(*), list(DISTINCT k.${quoteIdent(KEY_INDEX)} ORDER BY k.${quoteIdent(KEY_INDEX)}) ` +
      `FROM (${scan}) AS src JOIN ${table} AS k ON ${joinOn(fields)} GROUP BY ${file} ORDER BY ${file}`,
  );
  return reader.getRowsJS().map(([path, matched, keys]) => {
    const found = byPath.get(String(path));
    if (found === undefined) {
      throw new LakeError(
        `delta table ${tableDir}: the key search read ${String(path)}, not a file it was given`,
        LakeErrorCode.CorruptLog,
      );
    }
    return { file: found, matched: Number(matched), keys: (keys as number[]).map(Number) };
  });
}

// Checks a rewritten file's rows against its source's statistics, then makes it durable under its
// final name, or deletes it when it holds no row.
async function finish(tableDir: string, entry: Planned): Promise<KeyedRewrite> {
  const stats = entry.stats!;
  const expected = entry.file.stats?.numRecords;
  if (expected !== undefined && expected !== stats.numRecords + entry.matched) {
    throw new LakeError(
      `delta table ${tableDir}: ${entry.file.path} holds ${stats.numRecords + entry.matched} rows (${entry.matched} of the merged keys) but its statistics count ${expected}`,
      LakeErrorCode.CorruptLog,
    );
  }
  if (stats.numRecords === 0) {
    await rm(entry.temp, { force: true });
    return { source: entry.file, rows: 0, keys: entry.keys };
  }
  await publishFile(entry.temp, entry.path);
  const { size } = await stat(entry.path);
  return {
    source: entry.file,
    add: {
      path: encodeDeltaPath(entry.relative),
      partitionValues: entry.file.partitionValues,
      size,
      modificationTime: Date.now(),
      dataChange: true,
      stats,
    },
    rows: stats.numRecords,
    keys: entry.keys,
  };
}
