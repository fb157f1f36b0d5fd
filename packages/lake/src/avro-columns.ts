import type { Schema } from "avsc";
import { ColumnKind, type DecimalKind, decimalKind } from "./column-kind.js";
import { LakeErrorCode, LakeSchemaError } from "./errors.js";

/** An Avro schema as JSON (the contents of an `.avsc` file). */
export type AvroSchema = Schema;

/** One top-level field of a dataset's Avro record, as a column. */
export interface AvroColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  /** True for a union with `null`: the column may hold NULL. */
  readonly nullable: boolean;
  /** The field's `doc`, kept as the Delta column comment. */
  readonly doc?: string;
}

type SchemaObject = { readonly type: unknown; readonly [key: string]: unknown };

const PRIMITIVE_KINDS: Readonly<Record<string, ColumnKind>> = {
  string: ColumnKind.String,
  int: ColumnKind.Int,
  long: ColumnKind.Long,
  float: ColumnKind.Float,
  double: ColumnKind.Double,
  boolean: ColumnKind.Boolean,
  bytes: ColumnKind.Binary,
  null: ColumnKind.String,
};

/**
 * The columns of a dataset's Avro record schema. Mapping (kind → Delta / DuckDB type):
 * string, enum → string / VARCHAR; int → integer / INTEGER; long → long / BIGINT;
 * long + timestamp-millis or timestamp-micros → timestamp / TIMESTAMP WITH TIME ZONE;
 * int + date → date / DATE; bytes or fixed + decimal → decimal(p,s) / DECIMAL(p,s) (the values
 * text, see {@link DecimalKind}); float, double, boolean as themselves; bytes, fixed → binary / BLOB;
 * `["null", T]` → T, nullable. Records, arrays, maps and unions of several non-null types are
 * stored as their JSON text (string / VARCHAR): readable by any engine, queryable with DuckDB's
 * JSON functions, with no nested-schema evolution to manage.
 */
export function avroColumns(schema: AvroSchema): AvroColumn[] {
  const named = new Map<string, SchemaObject>();
  const root = schema as unknown;
  if (!isObject(root) || root.type !== "record" || !Array.isArray(root.fields)) {
    throw new LakeSchemaError("a dataset schema must be an Avro record", LakeErrorCode.UnsupportedType);
  }
  const namespace = register(root, undefined, named);
  return (root.fields as unknown[]).map((field) => {
    if (!isObject(field) || typeof field.name !== "string") {
      throw new LakeSchemaError("an Avro record field has no name", LakeErrorCode.UnsupportedType);
    }
    const { kind, nullable } = resolve(field.type, namespace, named, field.name);
    const column: AvroColumn = { name: field.name, kind, nullable };
    return typeof field.doc === "string" ? { ...column, doc: field.doc } : column;
  });
}

function resolve(
  type: unknown,
  namespace: string | undefined,
  named: Map<string, SchemaObject>,
  field: string,
): { kind: ColumnKind; nullable: boolean } {
  if (Array.isArray(type)) {
    const branches = type.filter((t) => t !== "null" && !(isObject(t) && t.type === "null"));
    const nullable = branches.length < type.length;
    if (branches.length === 1) return { kind: resolve(branches[0], namespace, named, field).kind, nullable };
    if (branches.length === 0) return { kind: ColumnKind.String, nullable: true };
    // Define the branches' named types so later fields can refer to them.
    for (const branch of branches) resolve(branch, namespace, named, field);
    return { kind: ColumnKind.Json, nullable };
  }
  if (typeof type === "string") {
    const primitive = PRIMITIVE_KINDS[type];
    if (primitive !== undefined) return { kind: primitive, nullable: type === "null" };
    const definition = named.get(qualify(type, namespace)) ?? named.get(type);
    if (definition === undefined) {
      throw new LakeSchemaError(
        `field "${field}": unknown Avro type "${type}"`,
        LakeErrorCode.UnsupportedType,
      );
    }
    return { kind: namedKind(definition), nullable: false };
  }
  if (!isObject(type)) {
    throw new LakeSchemaError(
      `field "${field}": invalid Avro type ${JSON.stringify(type)}`,
      LakeErrorCode.UnsupportedType,
    );
  }
  const base = type.type;
  const logical = type.logicalType;
  if (base === "long" && (logical === "timestamp-millis" || logical === "timestamp-micros")) {
    return {
      kind: logical === "timestamp-millis" ? ColumnKind.TimestampMillis : ColumnKind.TimestampMicros,
      nullable: false,
    };
  }
  if (base === "int" && logical === "date") return { kind: ColumnKind.Date, nullable: false };
  if ((base === "bytes" || base === "fixed") && logical === "decimal") {
    if (base === "fixed") register(type, namespace, named);
    try {
      return { kind: decimalKind(Number(type.precision), Number(type.scale ?? 0)), nullable: false };
    } catch (error) {
      throw new LakeSchemaError(
        `field "${field}": ${(error as Error).message}`,
        LakeErrorCode.UnsupportedType,
      );
    }
  }
  if (base === "record" || base === "error" || base === "enum" || base === "fixed") {
    register(type, namespace, named);
    return { kind: namedKind(type), nullable: false };
  }
  if (base === "array" || base === "map") {
    // Walk the items so named types defined inside stay resolvable.
    resolve(base === "array" ? type.items : type.values, namespace, named, field);
    return { kind: ColumnKind.Json, nullable: false };
  }
  return resolve(base, namespace, named, field);
}

function namedKind(definition: SchemaObject): ColumnKind {
  if (definition.type === "enum") return ColumnKind.String;
  if (definition.type === "fixed") return ColumnKind.Binary;
  return ColumnKind.Json;
}

// Records the named type (and, for records, the types defined in its fields); returns its namespace.
function register(
  type: SchemaObject,
  namespace: string | undefined,
  named: Map<string, SchemaObject>,
): string | undefined {
  const name = typeof type.name === "string" ? type.name : undefined;
  if (name === undefined) return namespace;
  const ownNamespace = typeof type.namespace === "string" ? type.namespace : namespace;
  const full = name.includes(".") ? name : qualify(name, ownNamespace);
  const inner = full.includes(".") ? full.slice(0, full.lastIndexOf(".")) : undefined;
  named.set(full, type);
  if ((type.type === "record" || type.type === "error") && Array.isArray(type.fields)) {
    for (const field of type.fields as unknown[]) {
      if (isObject(field)) resolve(field.type, inner, named, String(field.name));
    }
  }
  return inner;
}

function qualify(name: string, namespace: string | undefined): string {
  return name.includes(".") || !namespace ? name : `${namespace}.${name}`;
}

function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
