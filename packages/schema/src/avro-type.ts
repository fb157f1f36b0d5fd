import avsc from "avsc";
import { DecimalType } from "./decimal.js";
import { shorten } from "./render-value.js";
import { SchemaError, SchemaErrorCode } from "./schema-error.js";
import { TimestampMillisType } from "./timestamp-millis.js";

/** An Avro schema as JSON (the contents of a `.avsc` file). */
export type AvroSchema = avsc.Schema;

/** A compiled Avro type (avsc). */
export type AvroType = avsc.Type;

/**
 * Compiles an Avro schema the way every Inlet stage reads it: unions unwrapped (JSON gives `null`
 * or the value), `timestamp-millis` accepting ms or ISO-8601 strings, decoding to ms, and
 * `decimal` exact, as text ({@link DecimalType}). Throws {@link SchemaError} (INVALID_SCHEMA) when
 * the schema is not valid Avro, or declares a decimal Inlet cannot keep exactly.
 */
export function createAvroType(schema: AvroSchema): AvroType {
  try {
    return avsc.Type.forSchema(schema, {
      wrapUnions: false,
      logicalTypes: { "timestamp-millis": TimestampMillisType, decimal: DecimalType },
      assertLogicalTypes: true,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SchemaError(`invalid Avro schema: ${shorten(reason, 300)}`, SchemaErrorCode.InvalidSchema, {
      cause: err,
    });
  }
}

/**
 * A short human name for an Avro type: `double`, `timestamp-millis`, `decimal(18,2)`, `null or string`,
 * `enum (a|b)`, `record clicks`.
 */
export function describeType(type: AvroType): string {
  if (type instanceof DecimalType) return type.describe();
  const name = type.typeName;
  if (name.startsWith("logical:")) return name.slice("logical:".length);
  switch (name) {
    case "union:unwrapped":
    case "union:wrapped":
      return (type as avsc.types.UnwrappedUnionType).types.map(describeType).join(" or ");
    case "enum":
      return `enum (${(type as avsc.types.EnumType).symbols.join("|")})`;
    case "record":
    case "error":
      return `record ${type.name}`;
    case "array":
      return `array of ${describeType((type as avsc.types.ArrayType).itemsType)}`;
    case "map":
      return `map of ${describeType((type as avsc.types.MapType).valuesType as avsc.Type)}`;
    case "fixed":
      return `fixed(${(type as avsc.types.FixedType).size})`;
    default:
      return name;
  }
}

/**
 * The schema in avsc's normalized JSON (attributes such as defaults and docs kept): two schemas
 * with the same form are the same version.
 */
export function normalizedSchema(type: AvroType): string {
  return JSON.stringify(type.schema({ exportAttrs: true }));
}
