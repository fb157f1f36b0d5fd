import { DeltaLogError, LakeErrorCode, LakeSchemaError } from "./errors.js";
import { quoteIdent, quoteString } from "./sql.js";

/** A Delta data type: a primitive name (`string`, `long`, `decimal(10,2)`, …) or a nested type. */
export type DeltaType = string | DeltaStructType | DeltaArrayType | DeltaMapType;

/** One column (or nested field) of a Delta schema. */
export interface DeltaStructField {
  readonly name: string;
  readonly type: DeltaType;
  readonly nullable: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A Delta struct; the table schema is one (`schemaString` in `metaData`). */
export interface DeltaStructType {
  readonly type: "struct";
  readonly fields: readonly DeltaStructField[];
}

/** A Delta array type. */
export interface DeltaArrayType {
  readonly type: "array";
  readonly elementType: DeltaType;
  readonly containsNull: boolean;
}

/** A Delta map type. */
export interface DeltaMapType {
  readonly type: "map";
  readonly keyType: DeltaType;
  readonly valueType: DeltaType;
  readonly valueContainsNull: boolean;
}

/** Parses a `metaData.schemaString`; throws {@link DeltaLogError} (CORRUPT_LOG) when it is not a struct. */
export function parseDeltaSchema(schemaString: string): DeltaStructType {
  let parsed: unknown;
  try {
    parsed = JSON.parse(schemaString);
  } catch (cause) {
    throw new DeltaLogError("delta schemaString is not JSON", LakeErrorCode.CorruptLog, { cause });
  }
  const struct = parsed as Partial<DeltaStructType> | null;
  if (struct?.type !== "struct" || !Array.isArray(struct.fields)) {
    throw new DeltaLogError("delta schemaString is not a struct", LakeErrorCode.CorruptLog);
  }
  return struct as DeltaStructType;
}

const PRIMITIVES: Readonly<Record<string, string>> = {
  string: "VARCHAR",
  long: "BIGINT",
  integer: "INTEGER",
  short: "SMALLINT",
  byte: "TINYINT",
  float: "FLOAT",
  double: "DOUBLE",
  boolean: "BOOLEAN",
  binary: "BLOB",
  date: "DATE",
  // Delta `timestamp` is an instant (Parquet isAdjustedToUTC=true); `timestamp_ntz` is wall-clock time.
  timestamp: "TIMESTAMP WITH TIME ZONE",
  timestamp_ntz: "TIMESTAMP",
};

/** The DuckDB type of a Delta type; throws {@link LakeSchemaError} (UNSUPPORTED_TYPE) for `variant`, `void` and unknown names. */
export function duckDbTypeOf(type: DeltaType): string {
  if (typeof type === "string") {
    const primitive = PRIMITIVES[type];
    if (primitive !== undefined) return primitive;
    const decimal = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
    if (decimal) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
    throw new LakeSchemaError(`delta type "${type}" has no DuckDB mapping`, LakeErrorCode.UnsupportedType);
  }
  switch (type.type) {
    case "struct":
      return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${duckDbTypeOf(f.type)}`).join(", ")})`;
    case "array":
      return `${duckDbTypeOf(type.elementType)}[]`;
    case "map":
      return `MAP(${duckDbTypeOf(type.keyType)}, ${duckDbTypeOf(type.valueType)})`;
    default:
      throw new LakeSchemaError(
        `delta type ${JSON.stringify(type)} has no DuckDB mapping`,
        LakeErrorCode.UnsupportedType,
      );
  }
}

/**
 * A partition value (a string in the log) as a typed SQL expression. Null and the empty string are
 * SQL NULL (PROTOCOL.md, Partition Value Serialization); a timestamp without an offset is UTC.
 */
export function partitionValueSql(value: string | null | undefined, type: DeltaType): string {
  const duckType = duckDbTypeOf(type);
  if (value === null || value === undefined || value === "") return `CAST(NULL AS ${duckType})`;
  if (type === "string") return quoteString(value);
  if (type === "timestamp" && !/(Z|[+-]\d\d(:?\d\d)?)$/i.test(value))
    return `CAST(${quoteString(`${value}Z`)} AS ${duckType})`;
  return `CAST(${quoteString(value)} AS ${duckType})`;
}

/** True when two Delta types are the same (field order and nullability included). */
export function sameDeltaType(a: DeltaType, b: DeltaType): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
