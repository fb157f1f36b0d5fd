import { describeType } from "@inlet/schema";
import type { types } from "avsc";
import type { Join } from "./enrichment-config.js";
import { EnrichmentError, EnrichmentErrorCode } from "./enrichment-error.js";

/** A decoded event: the dataset schema's fields by name. */
export type EventRecord = Record<string, unknown>;

/** A reference row: the table's columns by name. */
export type ReferenceRow = Readonly<Record<string, unknown>>;

/** Read access to a reference table. */
export interface Lookup {
  get(key: string): ReferenceRow | undefined;
}

/** A compiled join: fills the event in place and says whether its key was found. */
export type JoinFn = (event: EventRecord) => boolean;

/**
 * Compiles `join` for dataset `dataset` with record schema `record` against `table`. Throws
 * {@link EnrichmentError} (SCHEMA_MISMATCH) when the key field is missing, or a field it fills is
 * missing or cannot hold null (a miss sets it to null).
 */
export function compileJoin(join: Join, record: types.RecordType, dataset: string, table: Lookup): JoinFn {
  const where = `dataset "${dataset}": join with table "${join.table}"`;
  if (record.field(join.key) === undefined) {
    throw new EnrichmentError(
      `${where}: key field "${join.key}" is not in the schema`,
      EnrichmentErrorCode.SchemaMismatch,
    );
  }
  const targets = Object.keys(join.set);
  const sources = targets.map((t) => join.set[t]!);
  for (const target of targets) requireNullable(record, target, where, null);
  const found = join.foundField;
  if (found !== undefined) requireNullable(record, found, where, true);

  const key = join.key;
  const count = targets.length;
  return (event) => {
    const id = event[key];
    const row = id === null || id === undefined ? undefined : table.get(String(id));
    if (row === undefined) {
      for (let i = 0; i < count; i++) event[targets[i]!] = null;
      if (found !== undefined) event[found] = false;
      return false;
    }
    for (let i = 0; i < count; i++) event[targets[i]!] = row[sources[i]!] ?? null;
    if (found !== undefined) event[found] = true;
    return true;
  };
}

function requireNullable(record: types.RecordType, name: string, where: string, sample: unknown): void {
  const field = record.field(name);
  if (field === undefined) {
    throw new EnrichmentError(
      `${where}: field "${name}" is not in the schema`,
      EnrichmentErrorCode.SchemaMismatch,
    );
  }
  if (!field.type.isValid(null) || !field.type.isValid(sample)) {
    const needs = sample === null ? "a nullable field" : "a nullable boolean field";
    throw new EnrichmentError(
      `${where}: field "${name}" must be ${needs} (["null", …] with "default": null), it is ${describeType(field.type)}`,
      EnrichmentErrorCode.SchemaMismatch,
    );
  }
}
