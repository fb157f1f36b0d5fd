import type { DeltaSnapshot } from "./delta-log.js";
import { type DeltaStructField, duckDbTypeOf, parseDeltaSchema, partitionValueSql } from "./delta-schema.js";
import { DeltaLogError, LakeErrorCode } from "./errors.js";
import { deltaFilePath } from "./paths.js";
import { quoteIdent, quoteString } from "./sql.js";

// Reader features that change nothing for a scan of the live files.
const HARMLESS_READER_FEATURES = new Set(["timestampNtz", "columnMapping", "vacuumProtocolCheck"]);

/**
 * A DuckDB SELECT over exactly the snapshot's data files (never a directory glob), with the
 * schema's columns in order and typed, combined with UNION ALL BY NAME after a typed empty row set,
 * so a column missing from older files reads as NULL and an empty table still has its columns.
 *
 * Partition values come from the log, never guessed from paths. When every file's path spells its
 * partition values exactly as `name=value/…/file` with plain values (what the lake-writer writes),
 * one `read_parquet` reads them all with `hive_partitioning` and the schema's types: a single scan,
 * which starts in a quarter of the time of one scan per partition. Otherwise files are grouped by
 * partition values, and each group is a `read_parquet` with its values added as typed constants
 * (NULL for a null value). Throws {@link DeltaLogError} (UNSUPPORTED_PROTOCOL) for tables this
 * reader cannot read correctly (column mapping, deletion vectors, …).
 */
export function snapshotScanSql(snapshot: DeltaSnapshot): string {
  assertReadable(snapshot);
  const { fields } = parseDeltaSchema(snapshot.metadata.schemaString);
  const partitionFields = snapshot.metadata.partitionColumns.map((name) => partitionField(fields, name));
  const columns = fields.map((f) => quoteIdent(f.name)).join(", ");
  const typedEmpty = `SELECT ${fields
    .map((f) => `CAST(NULL AS ${duckDbTypeOf(f.type)}) AS ${quoteIdent(f.name)}`)
    .join(", ")} WHERE false`;

  if (
    partitionFields.length > 0 &&
    snapshot.files.length > 0 &&
    pathsSpellPartitions(snapshot, partitionFields)
  ) {
    const list = snapshot.files.map((f) => quoteString(deltaFilePath(snapshot.tableDir, f.path))).join(", ");
    const types = partitionFields.map((f) => `${quoteString(f.name)}: ${duckDbTypeOf(f.type)}`).join(", ");
    const scan = `SELECT * FROM read_parquet([${list}], union_by_name = true, hive_partitioning = true, hive_types = {${types}})`;
    return `SELECT ${columns} FROM (\n${typedEmpty}\nUNION ALL BY NAME\n${scan}\n)`;
  }

  const groups = new Map<string, { values: (string | null | undefined)[]; paths: string[] }>();
  for (const file of snapshot.files) {
    const values = partitionFields.map((f) => file.partitionValues[f.name]);
    const key = JSON.stringify(values);
    let group = groups.get(key);
    if (group === undefined) {
      group = { values, paths: [] };
      groups.set(key, group);
    }
    group.paths.push(deltaFilePath(snapshot.tableDir, file.path));
  }
  const scans = [...groups.values()].map(({ values, paths }) => {
    const constants = partitionFields
      .map((f, i) => `, ${partitionValueSql(values[i], f.type)} AS ${quoteIdent(f.name)}`)
      .join("");
    const list = paths.map(quoteString).join(", ");
    return `SELECT *${constants} FROM read_parquet([${list}], union_by_name = true, hive_partitioning = false)`;
  });
  return `SELECT ${columns} FROM (\n${[typedEmpty, ...scans].join("\nUNION ALL BY NAME\n")}\n)`;
}

// Partition types whose plain path spelling DuckDB's hive reader casts to the same value.
const HIVE_SAFE_TYPES = new Set(["string", "date", "integer", "long", "short", "byte", "boolean"]);
// Values that need no escaping in a path, and read back the same from one.
const PLAIN_VALUE = /^[A-Za-z0-9_.-]+$/;
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * True when DuckDB's hive reader would read exactly the log's partition values from the file paths:
 * every path is relative, made of one `name=value` directory per partition column in order and then
 * the file name, with plain non-empty values of simple types, and nothing above the table directory
 * looks like a partition.
 */
function pathsSpellPartitions(
  snapshot: DeltaSnapshot,
  partitionFields: readonly DeltaStructField[],
): boolean {
  if (snapshot.tableDir.includes("=")) return false;
  for (const f of partitionFields) {
    if (typeof f.type !== "string" || !HIVE_SAFE_TYPES.has(f.type) || !PLAIN_NAME.test(f.name)) return false;
  }
  for (const file of snapshot.files) {
    const segments = file.path.split("/");
    if (segments.length !== partitionFields.length + 1) return false;
    const name = segments[segments.length - 1]!;
    if (name.includes("=") || !PLAIN_VALUE.test(name)) return false;
    for (const [i, f] of partitionFields.entries()) {
      const value = file.partitionValues[f.name];
      if (value === undefined || value === null || !PLAIN_VALUE.test(value)) return false;
      if (segments[i] !== `${f.name}=${value}`) return false;
    }
  }
  return true;
}

function partitionField(fields: readonly DeltaStructField[], name: string): DeltaStructField {
  const field =
    fields.find((f) => f.name === name) ?? fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
  if (field === undefined) {
    throw new DeltaLogError(
      `partition column "${name}" is not in the table schema`,
      LakeErrorCode.CorruptLog,
    );
  }
  return field;
}

function assertReadable({ tableDir, protocol, metadata }: DeltaSnapshot): void {
  const columnMapping = metadata.configuration["delta.columnMapping.mode"];
  const problems: string[] = [];
  if (protocol.minReaderVersion > 3) problems.push(`reader version ${protocol.minReaderVersion}`);
  if (columnMapping !== undefined && columnMapping !== "none")
    problems.push(`column mapping mode "${columnMapping}"`);
  if (protocol.minReaderVersion === 3) {
    for (const feature of protocol.readerFeatures ?? []) {
      if (!HARMLESS_READER_FEATURES.has(feature)) problems.push(`reader feature "${feature}"`);
    }
  }
  if (problems.length > 0) {
    throw new DeltaLogError(
      `delta table ${tableDir} needs ${problems.join(", ")}, which this reader does not support`,
      LakeErrorCode.UnsupportedProtocol,
    );
  }
}
