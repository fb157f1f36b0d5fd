import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DOUBLE,
  DuckDBBlobValue,
  type DuckDBType,
  type DuckDBValue,
  FLOAT,
  INTEGER,
  VARCHAR,
} from "@duckdb/node-api";
import { MS_PER_DAY } from "./paths.js";

/**
 * What a column holds, as the Parquet writer sees it. One table below says, for each kind, how a JS
 * value is staged in DuckDB, which SQL turns it into the stored column, and the DuckDB and Delta
 * types of the result. Exact decimals are kinds of their own, `decimal(p,s)` ({@link decimalKind}).
 */
export const ColumnKind = {
  String: "string",
  Int: "int",
  Long: "long",
  Float: "float",
  Double: "double",
  Boolean: "boolean",
  Binary: "binary",
  /** ms since the epoch (number, bigint or Date), stored as a UTC-adjusted timestamp. */
  TimestampMillis: "timestamp-millis",
  /** µs since the epoch (number or bigint), stored as a UTC-adjusted timestamp. */
  TimestampMicros: "timestamp-micros",
  /** Days since 1970-01-01 (number) or a Date, stored as DATE. */
  Date: "date",
  /** Any JS value (record, array, map, multi-branch union), stored as its JSON text. */
  Json: "json",
} as const;

/** One of the fixed {@link ColumnKind}s, each with its spec in {@link COLUMN_KINDS}. */
export type BaseColumnKind = (typeof ColumnKind)[keyof typeof ColumnKind];

/**
 * An exact decimal of `p` digits, `s` after the point: `decimal(18,2)` (see {@link decimalKind}).
 * Its values are text (`"12.50"`, as `@inlet/schema`'s decimals decode), staged as VARCHAR and cast
 * to `DECIMAL(p,s)` in the write, so no digit passes through a double.
 */
export type DecimalKind = `decimal(${number},${number})`;

/** A {@link ColumnKind} value, or a {@link DecimalKind}. */
export type ColumnKind = BaseColumnKind | DecimalKind;

/** The largest decimal precision a column may have (DuckDB's and Parquet's 128-bit decimals). */
export const MAX_DECIMAL_PRECISION = 38;

/** The kind of a `decimal(precision, scale)` column; throws a RangeError outside 1–38 and 0–precision. */
export function decimalKind(precision: number, scale: number): DecimalKind {
  if (!Number.isInteger(precision) || precision < 1 || precision > MAX_DECIMAL_PRECISION) {
    throw new RangeError(`decimal precision must be 1 to ${MAX_DECIMAL_PRECISION}, got ${precision}`);
  }
  if (!Number.isInteger(scale) || scale < 0 || scale > precision) {
    throw new RangeError(`decimal(${precision}) scale must be 0 to ${precision}, got ${scale}`);
  }
  return `decimal(${precision},${scale})`;
}

const DECIMAL_KIND = /^decimal\((\d+),(\d+)\)$/;

/** The precision and scale of a decimal kind; undefined for any other kind. */
export function decimalShape(kind: ColumnKind): { precision: number; scale: number } | undefined {
  const match = DECIMAL_KIND.exec(kind);
  return match === null ? undefined : { precision: Number(match[1]), scale: Number(match[2]) };
}

/** True when `kind` is a known column kind: one of {@link COLUMN_KINDS}, or a valid decimal kind. */
export function isColumnKind(kind: string): kind is ColumnKind {
  if (Object.hasOwn(COLUMN_KINDS, kind)) return true;
  const shape = decimalShape(kind as ColumnKind);
  return (
    shape !== undefined &&
    shape.precision >= 1 &&
    shape.precision <= MAX_DECIMAL_PRECISION &&
    shape.scale <= shape.precision
  );
}

const decimalSpecs = new Map<string, ColumnKindSpec>();

/** The spec of `kind`: {@link COLUMN_KINDS}' entry, or a decimal's, made on first use. */
export function columnKindSpec(kind: ColumnKind): ColumnKindSpec {
  const fixed = (COLUMN_KINDS as Readonly<Record<string, ColumnKindSpec>>)[kind];
  if (fixed !== undefined) return fixed;
  let spec = decimalSpecs.get(kind);
  if (spec === undefined) {
    const shape = decimalShape(kind);
    if (shape === undefined) throw new TypeError(`unknown column kind ${kind}`);
    spec = decimalSpec(shape.precision, shape.scale);
    decimalSpecs.set(kind, spec);
  }
  return spec;
}

/**
 * True when `value` is the text of a decimal that `DECIMAL(precision, scale)` holds exactly: no
 * exponent, at most `scale` digits after the point (a cast would round more away) and at most
 * `precision - scale` before it.
 */
export function fitsDecimal(value: unknown, precision: number, scale: number): value is string {
  if (typeof value !== "string") return false;
  const match = DECIMAL_TEXT.exec(value);
  if (match === null) return false;
  const whole = match[1]!.replace(/^0+/, "");
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  return fraction.length <= scale && whole.length <= precision - scale;
}

const DECIMAL_TEXT = /^[+-]?(\d+)(?:\.(\d+))?$/;

function decimalSpec(precision: number, scale: number): ColumnKindSpec {
  const sqlType = `DECIMAL(${precision},${scale})`;
  const expected = `decimal(${precision},${scale}) text`;
  return {
    staging: VARCHAR,
    output: (c) => `CAST(${c} AS ${sqlType})`,
    duckDbType: sqlType,
    deltaType: `decimal(${precision},${scale})`,
    stage: (v) => (fitsDecimal(v, precision, scale) ? v : mismatch(expected, v)),
  };
}

/** How one {@link ColumnKind} crosses into DuckDB and out to Parquet and Delta. */
export interface ColumnKindSpec {
  /** DuckDB type of the staging column: numbers and strings only, since each JS→DuckDB conversion costs. */
  readonly staging: DuckDBType;
  /** SQL that turns the staged column (an already quoted identifier) into the stored value. */
  readonly output: (staged: string) => string;
  /** DuckDB type of the stored column. */
  readonly duckDbType: string;
  /** Delta schema type of the stored column. */
  readonly deltaType: string;
  /** The value for the staging vector; throws a TypeError naming the expected type otherwise. */
  readonly stage: (value: unknown) => DuckDBValue;
  /** A staged min or max as Delta writes it in `stats` (undefined: not kept); absent when the kind has no min/max. */
  readonly stat?: (value: DuckDBValue, bound: "min" | "max") => string | number | undefined;
}

// Delta keeps string statistics as a prefix (PROTOCOL.md, Per-file Statistics).
const STRING_STAT_PREFIX = 32;

const numberStat = (value: DuckDBValue) => {
  const n = typeof value === "bigint" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
};

/** The spec of every fixed {@link ColumnKind} (decimals: {@link columnKindSpec}). */
export const COLUMN_KINDS: { readonly [K in BaseColumnKind]: ColumnKindSpec } = {
  string: {
    staging: VARCHAR,
    output: (c) => c,
    duckDbType: "VARCHAR",
    deltaType: "string",
    stage: (v) => (typeof v === "string" ? v : mismatch("string", v)),
    stat: (v, bound) =>
      typeof v !== "string" ? undefined : bound === "min" ? stringMinStat(v) : stringMaxStat(v),
  },
  int: {
    staging: INTEGER,
    output: (c) => c,
    duckDbType: "INTEGER",
    deltaType: "integer",
    stage: (v) =>
      typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? v : mismatch("int", v),
    stat: numberStat,
  },
  long: {
    staging: BIGINT,
    output: (c) => c,
    duckDbType: "BIGINT",
    deltaType: "long",
    stage: toBigInt("long"),
    stat: numberStat,
  },
  float: {
    staging: FLOAT,
    output: (c) => c,
    duckDbType: "FLOAT",
    deltaType: "float",
    stage: (v) => (typeof v === "number" ? v : mismatch("float", v)),
    stat: numberStat,
  },
  double: {
    staging: DOUBLE,
    output: (c) => c,
    duckDbType: "DOUBLE",
    deltaType: "double",
    stage: (v) => (typeof v === "number" ? v : mismatch("double", v)),
    stat: numberStat,
  },
  boolean: {
    staging: BOOLEAN,
    output: (c) => c,
    duckDbType: "BOOLEAN",
    deltaType: "boolean",
    stage: (v) => (typeof v === "boolean" ? v : mismatch("boolean", v)),
  },
  binary: {
    staging: BLOB,
    output: (c) => c,
    duckDbType: "BLOB",
    deltaType: "binary",
    stage: (v) => (v instanceof Uint8Array ? new DuckDBBlobValue(v) : mismatch("bytes", v)),
  },
  "timestamp-millis": {
    staging: BIGINT,
    // make_timestamptz(µs) is independent of the session time zone.
    output: (c) => `make_timestamptz(${c} * 1000)`,
    duckDbType: "TIMESTAMP WITH TIME ZONE",
    deltaType: "timestamp",
    stage: (v) => (v instanceof Date ? BigInt(v.getTime()) : toBigInt("timestamp-millis")(v)),
    stat: (v) => (typeof v === "bigint" ? new Date(Number(v)).toISOString() : undefined),
  },
  "timestamp-micros": {
    staging: BIGINT,
    output: (c) => `make_timestamptz(${c})`,
    duckDbType: "TIMESTAMP WITH TIME ZONE",
    deltaType: "timestamp",
    stage: toBigInt("timestamp-micros"),
    // Delta truncates timestamp statistics to milliseconds.
    stat: (v) => (typeof v === "bigint" ? new Date(Number(v / 1000n)).toISOString() : undefined),
  },
  date: {
    staging: INTEGER,
    output: (c) => `(DATE '1970-01-01' + ${c})`,
    duckDbType: "DATE",
    deltaType: "date",
    stage: (v) =>
      v instanceof Date
        ? Math.floor(v.getTime() / MS_PER_DAY)
        : typeof v === "number" && Number.isInteger(v)
          ? v
          : mismatch("date (days since 1970-01-01)", v),
    stat: (v) => (typeof v === "number" ? new Date(v * MS_PER_DAY).toISOString().slice(0, 10) : undefined),
  },
  json: {
    staging: VARCHAR,
    output: (c) => c,
    duckDbType: "VARCHAR",
    deltaType: "string",
    stage: (v) => JSON.stringify(v, jsonReplacer),
  },
};

/** The min statistic of a string column: its first 32 characters, still a lower bound. */
export function stringMinStat(value: string): string {
  const chars = Array.from(value);
  return chars.length <= STRING_STAT_PREFIX ? value : chars.slice(0, STRING_STAT_PREFIX).join("");
}

/** The max statistic of a string column, or undefined when too long to keep whole (a prefix is no upper bound). */
export function stringMaxStat(value: string): string | undefined {
  return Array.from(value).length <= STRING_STAT_PREFIX ? value : undefined;
}

function toBigInt(expected: string): (value: unknown) => bigint {
  return (value) => {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    return mismatch(expected, value);
  };
}

// Avro bytes inside a record become base64 text; bigint that fit a double become numbers.
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint")
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (isSerializedBuffer(value)) return Buffer.from(value.data).toString("base64");
  return value;
}

// JSON.stringify calls Buffer#toJSON before the replacer sees the value.
function isSerializedBuffer(value: unknown): value is { type: "Buffer"; data: number[] } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { type?: unknown }).type === "Buffer" &&
    Array.isArray((value as { data?: unknown }).data)
  );
}

function mismatch(expected: string, value: unknown): never {
  let shown: string;
  if (value instanceof Uint8Array) shown = `${value.length} bytes`;
  else if (typeof value === "bigint") shown = `${value}n`;
  else shown = JSON.stringify(value) ?? String(value);
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  throw new TypeError(`expected ${expected}, got ${shown}`);
}
