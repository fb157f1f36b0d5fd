import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { stringMaxStat, stringMinStat } from "./column-kind.js";
import type { DeltaAction, DeltaAddFile, DeltaFileStats } from "./delta-log.js";
import { type DeltaStructField, duckDbTypeOf } from "./delta-schema.js";
import { renameDurable, syncFile } from "./durable-fs.js";
import { deltaFilePath, hivePartitionSegment } from "./paths.js";
import { quoteIdent, quoteString } from "./sql.js";

// What compaction and merges share to rewrite a table's data files through DuckDB: the typed scan
// of the files in the table's schema, the COPY to ZSTD Parquet, the Delta statistics of the result,
// and the names and actions of the files.

/** Partition column → value (null for the null partition), as in `add.partitionValues`. */
export type PartitionValues = Readonly<Record<string, string | null>>;

/** Options of {@link typedScanSql}. */
export interface TypedScanOptions {
  /** A column to add holding each row's file path, as given in the list (`read_parquet`'s `filename`). */
  readonly fileColumn?: string;
}

/**
 * A SELECT of every row of `files` with the columns `fields` (the table's current schema, or part
 * of it), in order and cast to their types: a typed empty row set comes first, so UNION ALL BY
 * NAME fills the columns an older file lacks with NULL and widens narrower types to the schema's.
 */
export function typedScanSql(
  tableDir: string,
  fields: readonly DeltaStructField[],
  files: readonly DeltaAddFile[],
  options: TypedScanOptions = {},
): string {
  const file = options.fileColumn;
  const typed = fields.map((f) => ({ name: f.name, type: duckDbTypeOf(f.type) }));
  if (file !== undefined) typed.push({ name: file, type: "VARCHAR" });
  const typedEmpty = `SELECT ${typed
    .map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`)
    .join(", ")} WHERE false`;
  const list = files.map((f) => quoteString(deltaFilePath(tableDir, f.path))).join(", ");
  const filename = file === undefined ? "" : `filename = ${quoteString(file)}, `;
  const scan = `SELECT * FROM read_parquet([${list}], ${filename}union_by_name = true, hive_partitioning = false)`;
  const select = typed
    .map((c) => `CAST(${quoteIdent(c.name)} AS ${c.type}) AS ${quoteIdent(c.name)}`)
    .join(", ");
  return `SELECT ${select} FROM (${typedEmpty} UNION ALL BY NAME ${scan})`;
}

/** A COPY of `select` into the ZSTD Parquet file `file`, in row groups of `rowGroupSize` rows. */
export function copyParquetSql(select: string, file: string, rowGroupSize: number): string {
  return (
    `COPY (${select}) TO ${quoteString(file)} ` +
    `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${rowGroupSize})`
  );
}

type StatKind = "string" | "number" | "date" | "timestamp" | "count";

// Which statistics a column gets, as the Parquet writer keeps them: min/max for strings (a
// 32-character prefix), numbers, dates and timestamps (ms, ISO-8601); null counts for every
// primitive; nothing for nested types.
function statKind(type: DeltaStructField["type"]): StatKind | undefined {
  if (typeof type !== "string") return undefined;
  if (type === "string") return "string";
  if (["long", "integer", "short", "byte", "float", "double"].includes(type)) return "number";
  if (type === "date") return "date";
  if (type === "timestamp") return "timestamp";
  return "count";
}

/** Delta statistics of a written Parquet file with the columns `fields`, from one aggregate over it. */
export async function parquetFileStats(
  connection: DuckDBConnection,
  fields: readonly DeltaStructField[],
  file: string,
): Promise<DeltaFileStats> {
  const select = ["count(*)"];
  const kinds = fields.map((f) => statKind(f.type));
  fields.forEach((field, i) => {
    const kind = kinds[i];
    const c = quoteIdent(field.name);
    if (kind === undefined) return;
    select.push(`count(${c})`);
    if (kind === "string" || kind === "number") select.push(`min(${c})`, `max(${c})`);
    if (kind === "date") select.push(`strftime(min(${c}), '%Y-%m-%d')`, `strftime(max(${c}), '%Y-%m-%d')`);
    if (kind === "timestamp") select.push(`epoch_ms(min(${c}))`, `epoch_ms(max(${c}))`);
  });
  const reader = await connection.runAndReadAll(
    `SELECT ${select.join(", ")} FROM read_parquet(${quoteString(file)})`,
  );
  const row = reader.getRows()[0] ?? [];
  const numRecords = Number(row[0] ?? 0);
  const minValues: Record<string, string | number> = {};
  const maxValues: Record<string, string | number> = {};
  const nullCount: Record<string, number> = {};
  let at = 1;
  fields.forEach((field, i) => {
    const kind = kinds[i];
    if (kind === undefined) return;
    nullCount[field.name] = numRecords - Number(row[at++]);
    if (kind === "count") return;
    const min = statValue(kind, row[at++], "min");
    const max = statValue(kind, row[at++], "max");
    if (min !== undefined) minValues[field.name] = min;
    if (max !== undefined) maxValues[field.name] = max;
  });
  return { numRecords, minValues, maxValues, nullCount };
}

function statValue(
  kind: StatKind,
  value: DuckDBValue | undefined,
  bound: "min" | "max",
): string | number | undefined {
  if (value === null || value === undefined) return undefined;
  switch (kind) {
    case "string":
      return typeof value !== "string"
        ? undefined
        : bound === "min"
          ? stringMinStat(value)
          : stringMaxStat(value);
    case "number": {
      const n = typeof value === "bigint" ? Number(value) : value;
      return typeof n === "number" && Number.isFinite(n) ? n : undefined;
    }
    case "date":
      return typeof value === "string" ? value : undefined;
    case "timestamp":
      return typeof value === "bigint" || typeof value === "number"
        ? new Date(Number(value)).toISOString()
        : undefined;
    default:
      return undefined;
  }
}

/** The table-relative path (not yet URI-encoded) of a new data file of the partition `partitionValues`. */
export function newDataFilePath(
  partitionColumns: readonly string[],
  partitionValues: PartitionValues,
): string {
  const segments = partitionColumns.map((c) => hivePartitionSegment(c, partitionValues[c] ?? null));
  return [...segments, `part-${randomUUID()}.zstd.parquet`].join("/");
}

/** A hidden temp name beside `path` to write it under (vacuum deletes one left behind by a crash). */
export function tempPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
}

/** Makes a written temp file durable under its final name: fsync, rename, fsync the directory. */
export async function publishFile(temp: string, path: string): Promise<void> {
  await syncFile(temp);
  await renameDurable(temp, path);
}

/** Deletes data files of the table that no commit references (written for a commit that failed or was dropped). */
export async function deleteDataFiles(tableDir: string, files: readonly DeltaAddFile[]): Promise<void> {
  await Promise.all(files.map((f) => rm(deltaFilePath(tableDir, f.path), { force: true })));
}

/** The `remove` action of a live file leaving the table, with its extended metadata. */
export function removeAction(
  file: DeltaAddFile,
  deletionTimestamp: number,
  dataChange: boolean,
): DeltaAction {
  return {
    remove: {
      path: file.path,
      deletionTimestamp,
      dataChange,
      extendedFileMetadata: true,
      partitionValues: file.partitionValues,
      size: file.size,
    },
  };
}

/** A Delta path as a key: paths are URIs, so "a%20b" and "a b" name the same file. */
export function pathKey(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
