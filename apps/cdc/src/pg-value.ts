// PostgreSQL values, as the server writes them in text form, into the Avro values of a change
// event. Both the snapshot and the replication stream read every value as text (the session runs
// with DateStyle ISO and TimeZone UTC), so one conversion serves both, at PostgreSQL's precision
// (microseconds, all 64 bits of a bigint checked) rather than what a JS driver's parsers keep.

import { MAX_DECIMAL_PRECISION } from "@inlet/schema";

/** Type oids of PostgreSQL's built-in types this source maps to something other than text. */
export const PgType = {
  Bool: 16,
  Bytea: 17,
  Int8: 20,
  Int2: 21,
  Int4: 23,
  Oid: 26,
  Float4: 700,
  Float8: 701,
  Date: 1082,
  Timestamp: 1114,
  Timestamptz: 1184,
  Numeric: 1700,
} as const;

/**
 * The precision and scale of a `numeric(p,s)` column's type modifier, when an Avro decimal can hold
 * them (precision up to 38, scale from 0 to the precision); undefined for a numeric without them
 * (any precision), a negative scale or one beyond the precision (both allowed since PostgreSQL 15).
 */
export function numericShape(typeMod: number): { precision: number; scale: number } | undefined {
  if (typeMod < 4) return undefined;
  const precision = ((typeMod - 4) >> 16) & 0xffff;
  // The scale is 11 bits, signed.
  const scale = (((typeMod - 4) & 0x7ff) ^ 0x400) - 0x400;
  if (precision < 1 || precision > MAX_DECIMAL_PRECISION || scale < 0 || scale > precision) return undefined;
  return { precision, scale };
}

/** The Avro type of a column's values (without the null of a nullable column). */
export type AvroValueType =
  | "boolean"
  | "int"
  | "long"
  | "float"
  | "double"
  | "string"
  | "bytes"
  | { type: "int"; logicalType: "date" }
  | { type: "long"; logicalType: "timestamp-micros" }
  | { type: "bytes"; logicalType: "decimal"; precision: number; scale: number };

/**
 * The Avro type a column of type `oid` (type modifier `typeMod`, -1 for none) is written as.
 * Integers, floats, booleans, dates and timestamps keep their type; bytea is bytes; `numeric(p,s)`
 * is an exact decimal of the same precision and scale (see {@link numericShape}); everything else
 * (a numeric without precision, text, uuid, json, arrays, enums, intervals, …) is its text form,
 * which keeps a numeric exact too.
 */
export function avroTypeOfPg(oid: number, typeMod = -1): AvroValueType {
  switch (oid) {
    case PgType.Numeric: {
      const shape = numericShape(typeMod);
      return shape === undefined ? "string" : { type: "bytes", logicalType: "decimal", ...shape };
    }
    case PgType.Bool:
      return "boolean";
    case PgType.Int2:
    case PgType.Int4:
      return "int";
    case PgType.Int8:
    case PgType.Oid:
      return "long";
    case PgType.Float4:
      return "float";
    case PgType.Float8:
      return "double";
    case PgType.Bytea:
      return "bytes";
    case PgType.Date:
      return { type: "int", logicalType: "date" };
    case PgType.Timestamp:
    case PgType.Timestamptz:
      return { type: "long", logicalType: "timestamp-micros" };
    default:
      return "string";
  }
}

/** Why a value could not be converted: `expected` names the Avro type, the message what came. */
export class PgValueError extends Error {
  override readonly name = "PgValueError";
}

const TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;
const DATE = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;
const DAY_MS = 86_400_000;
// The largest long avsc writes without losing precision (2^53 - 2).
const MAX_EXACT_LONG = 9_007_199_254_740_990;

/**
 * Converts `text` (a value in PostgreSQL's text output, or null) of a column of type `oid` (type
 * modifier `typeMod`) into its Avro value; throws {@link PgValueError} for a value the Avro type
 * cannot hold (a bigint beyond 2^53, an infinite or BC date, a decimal's NaN or infinity).
 */
export function pgTextToAvro(oid: number, text: string | null, typeMod = -1): unknown {
  if (text === null) return null;
  switch (oid) {
    case PgType.Numeric:
      // numeric(p,s) prints exactly s digits after the point: the decimal's own text.
      if (numericShape(typeMod) !== undefined && !/^-?\d+(\.\d+)?$/.test(text)) {
        throw new PgValueError(`${text} has no decimal value`);
      }
      return text;
    case PgType.Bool:
      return text === "t" || text === "true";
    case PgType.Int2:
    case PgType.Int4:
      return Number.parseInt(text, 10);
    case PgType.Int8:
    case PgType.Oid: {
      const n = Number(text);
      if (!Number.isInteger(n) || Math.abs(n) > MAX_EXACT_LONG) {
        throw new PgValueError(`${text} is beyond what a long holds exactly here (±${MAX_EXACT_LONG})`);
      }
      return n;
    }
    case PgType.Float4:
    case PgType.Float8:
      return Number(text); // NaN, Infinity and -Infinity included
    case PgType.Bytea:
      if (!text.startsWith("\\x")) throw new PgValueError("bytea not in hex output (bytea_output=hex)");
      return Buffer.from(text.slice(2), "hex");
    case PgType.Date:
      return dateDays(text);
    case PgType.Timestamp:
    case PgType.Timestamptz:
      return timestampMicros(text);
    default:
      return text;
  }
}

// Days since 1970-01-01 of an ISO date.
function dateDays(text: string): number {
  const m = DATE.exec(text);
  if (m === null || m[4] !== undefined)
    throw new PgValueError(`date ${JSON.stringify(text)} has no day number`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}

// Microseconds since the epoch of an ISO timestamp, with or without an offset (none: UTC).
function timestampMicros(text: string): number {
  const m = TIMESTAMP.exec(text);
  if (m === null || m[12] !== undefined) {
    throw new PgValueError(`timestamp ${JSON.stringify(text)} is not a finite instant after year 0`);
  }
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const fraction = Number((m[7] ?? "").padEnd(6, "0"));
  let offsetSeconds = 0;
  if (m[8] !== undefined) {
    offsetSeconds = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    if (m[8] === "-") offsetSeconds = -offsetSeconds;
  }
  return (ms - offsetSeconds * 1000) * 1000 + fraction;
}

/**
 * The settings every connection of the source runs with, so that values come in the text form
 * {@link pgTextToAvro} reads: ISO dates, UTC, hex bytea, floats that read back exactly.
 */
export const SESSION_OPTIONS =
  "-c DateStyle=ISO,YMD -c TimeZone=UTC -c bytea_output=hex -c extra_float_digits=3";
