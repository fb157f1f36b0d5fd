import type { DeltaSnapshot } from "./delta-log.js";
import { type DeltaStructField, duckDbTypeOf, parseDeltaSchema, partitionValueSql } from "./delta-schema.js";
import { DeltaLogError, LakeErrorCode } from "./errors.js";
import { deltaFilePath } from "./paths.js";
import { quoteIdent, quoteString } from "./sql.js";

// Reader features that change nothing for a scan of the live files.
const HARMLESS_READER_FEATURES = new Set(["timestampNtz", "columnMapping", "vacuumProtocolCheck"]);

/**
 * A DuckDB SELECT over exactly the snapshot's data files (never a directory glob), with the
 * schema's columns in order and typed. Files are grouped by partition values: each group is one
 * `read_parquet([…], union_by_name = true)` with its partition columns added as typed constants
 * (NULL for a null value), and the groups are combined with UNION ALL BY NAME after a typed empty
 * row set, so a column missing from older files reads as NULL and an empty table still has its
 * columns. Throws {@link DeltaLogError} (UNSUPPORTED_PROTOCOL) for tables this reader cannot read
 * correctly (column mapping, deletion vectors, …).
 */
export function snapshotScanSql(snapshot: DeltaSnapshot): string {
  assertReadable(snapshot);
  const { fields } = parseDeltaSchema(snapshot.metadata.schemaString);
  const partitionFields = snapshot.metadata.partitionColumns.map((name) => partitionField(fields, name));
  const columns = fields.map((f) => quoteIdent(f.name)).join(", ");
  const typedEmpty = `SELECT ${fields
    .map((f) => `CAST(NULL AS ${duckDbTypeOf(f.type)}) AS ${quoteIdent(f.name)}`)
    .join(", ")} WHERE false`;

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
