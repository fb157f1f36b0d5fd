import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DOUBLE,
  type DuckDBType,
  ENUM8,
  FLOAT,
  INTEGER,
  VARCHAR,
} from "@duckdb/node-api";
import duckdb from "@duckdb/node-bindings";
import { COLUMN_KINDS, ColumnKind } from "./column-kind.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { MS_PER_DAY } from "./paths.js";

/** A DuckDB vector as the native bindings see it. */
export type RawVector = duckdb.Vector;

/** Most rows one vector holds (DuckDB's vector size). */
export const VECTOR_ROWS = 2048;

const TWO_32 = 2 ** 32;
const same = (column: string) => column;

/**
 * Scratch space for {@link ColumnVectors.fill}: numbers are written into typed arrays here and
 * copied into the vector in one native call; nulls into a validity mask.
 */
export class VectorScratch {
  readonly #buffer = new ArrayBuffer(VECTOR_ROWS * 8);
  readonly f64 = new Float64Array(this.#buffer);
  readonly f32 = new Float32Array(this.#buffer);
  readonly i32 = new Int32Array(this.#buffer);
  readonly u32 = new Uint32Array(this.#buffer);
  readonly i64 = new BigInt64Array(this.#buffer);
  readonly u8 = new Uint8Array(this.#buffer);
  readonly #mask = new Uint32Array(VECTOR_ROWS / 32);
  #nulls = false;

  /** Starts a vector: no nulls yet. */
  begin(): void {
    this.#nulls = false;
  }

  /** Marks row `i` of the vector NULL. */
  setNull(i: number): void {
    if (!this.#nulls) {
      this.#nulls = true;
      this.#mask.fill(0xffffffff);
    }
    this.#mask[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** Copies `rows` rows of `bytesPerRow` from the typed arrays, and the nulls, into `vector`. */
  finish(vector: RawVector, rows: number, bytesPerRow: number): void {
    if (bytesPerRow > 0) duckdb.copy_data_to_vector(vector, 0, this.#buffer, 0, rows * bytesPerRow);
    if (!this.#nulls) return;
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, this.#mask.buffer, 0, Math.ceil(rows / 64) * 8);
  }
}

/**
 * How one {@link ColumnKind} is copied into a DuckDB vector of its staging type: fixed-width values
 * straight into typed arrays (no per-value native call, no bigint allocation), strings and bytes
 * one native call each.
 */
export interface ColumnVectors {
  /** DuckDB type of the staging column. */
  readonly type: DuckDBType;
  /** SQL reading the staging column (an already quoted identifier) as the kind's staging value. */
  readonly read: (column: string) => string;
  /**
   * Writes rows `[from, from + rows)` of `values` into `vector`. Checks each value as the kind's
   * `stage` does; the first of the wrong type throws a {@link LakeError} (INVALID_ARGUMENT)
   * naming column `name` and the row.
   */
  fill(
    vector: RawVector,
    values: ArrayLike<unknown>,
    from: number,
    rows: number,
    scratch: VectorScratch,
    name: string,
  ): void;
}

/**
 * The {@link ColumnVectors} for `values`, a column of `kind`. A string column with few distinct
 * values is staged as an ENUM of them: one byte per row instead of one native call per string.
 */
export function columnVectors(kind: ColumnKind, values: ArrayLike<unknown>): ColumnVectors {
  return (kind === ColumnKind.String && stringDictionary(values)) || VECTORS[kind];
}

// Most distinct strings (one-byte codes), and most characters in all, a dictionary holds: its
// ENUM type is SQL text.
const DICTIONARY_MAX_VALUES = 255;
const DICTIONARY_MAX_CHARS = 64 * 1024;

// Undefined when the column has no strings, too many distinct ones, or a value the ENUM cannot
// take as is (not a string, a NUL or a lone surrogate: the SQL text would not carry it unchanged).
function stringDictionary(values: ArrayLike<unknown>): ColumnVectors | undefined {
  const codes = new Map<string, number>();
  const codeOf = new Uint8Array(values.length);
  let chars = 0;
  for (let row = 0; row < values.length; row++) {
    const v = values[row];
    if (v == null) continue;
    if (typeof v !== "string") return undefined;
    let code = codes.get(v);
    if (code === undefined) {
      chars += v.length;
      if (codes.size === DICTIONARY_MAX_VALUES || chars > DICTIONARY_MAX_CHARS) return undefined;
      if (v.includes("\0") || !v.isWellFormed()) return undefined;
      code = codes.size;
      codes.set(v, code);
    }
    codeOf[row] = code;
  }
  if (codes.size === 0) return undefined; // an ENUM needs a member; all NULL goes as VARCHAR
  return {
    type: ENUM8([...codes.keys()]),
    read: (column) => `CAST(${column} AS VARCHAR)`,
    fill(vector, values, from, rows, scratch) {
      scratch.begin();
      scratch.u8.set(codeOf.subarray(from, from + rows));
      for (let i = 0; i < rows; i++) if (values[from + i] == null) scratch.setNull(i);
      scratch.finish(vector, rows, 1);
    },
  };
}

// Writes a 64-bit integer in place: a safe-integer number as two 32-bit halves (little-endian, as
// on every platform DuckDB ships for), a bigint directly. False when it is neither or out of range.
function setInt64(s: VectorScratch, i: number, v: unknown): boolean {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) return false;
    const high = Math.floor(v / TWO_32);
    s.u32[2 * i] = v - high * TWO_32;
    s.i32[2 * i + 1] = high;
    return true;
  }
  if (typeof v === "bigint" && BigInt.asIntN(64, v) === v) {
    s.i64[i] = v;
    return true;
  }
  return false;
}

type FixedKind = Exclude<ColumnKind, "string" | "json" | "binary">;
type Setter = (scratch: VectorScratch, i: number, value: unknown) => boolean;

// How each fixed-width kind writes a non-null value into the scratch arrays; false if it does not fit.
const SETTERS: { readonly [K in FixedKind]: Setter } = {
  int: (s, i, v) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) return false;
    s.i32[i] = v;
    return true;
  },
  date: (s, i, v) => {
    const days = v instanceof Date ? Math.floor(v.getTime() / MS_PER_DAY) : v;
    if (typeof days !== "number" || !Number.isInteger(days) || days < -(2 ** 31) || days >= 2 ** 31)
      return false;
    s.i32[i] = days;
    return true;
  },
  long: setInt64,
  "timestamp-millis": (s, i, v) => setInt64(s, i, v instanceof Date ? v.getTime() : v),
  "timestamp-micros": setInt64,
  float: (s, i, v) => {
    if (typeof v !== "number") return false;
    s.f32[i] = v;
    return true;
  },
  double: (s, i, v) => {
    if (typeof v !== "number") return false;
    s.f64[i] = v;
    return true;
  },
  boolean: (s, i, v) => {
    if (typeof v !== "boolean") return false;
    s.u8[i] = v ? 1 : 0;
    return true;
  },
};

const jsonText = (v: unknown) => COLUMN_KINDS.json.stage(v) as string;

const VECTORS: { readonly [K in ColumnKind]: ColumnVectors } = {
  string: strings(ColumnKind.String, (v) => (typeof v === "string" ? v : undefined)),
  json: strings(ColumnKind.Json, jsonText),
  binary: {
    type: BLOB,
    read: same,
    fill(vector, values, from, rows, scratch, name) {
      scratch.begin();
      for (let i = 0; i < rows; i++) {
        const v = values[from + i];
        if (v == null) scratch.setNull(i);
        else if (v instanceof Uint8Array) duckdb.vector_assign_string_element_len(vector, i, v);
        else throw mismatch(ColumnKind.Binary, name, from + i, v);
      }
      scratch.finish(vector, rows, 0);
    },
  },
  int: fixed(INTEGER, 4, ColumnKind.Int, SETTERS.int),
  date: fixed(INTEGER, 4, ColumnKind.Date, SETTERS.date),
  long: fixed(BIGINT, 8, ColumnKind.Long, SETTERS.long),
  "timestamp-millis": fixed(BIGINT, 8, ColumnKind.TimestampMillis, SETTERS["timestamp-millis"]),
  "timestamp-micros": fixed(BIGINT, 8, ColumnKind.TimestampMicros, SETTERS["timestamp-micros"]),
  float: fixed(FLOAT, 4, ColumnKind.Float, SETTERS.float),
  double: fixed(DOUBLE, 8, ColumnKind.Double, SETTERS.double),
  boolean: fixed(BOOLEAN, 1, ColumnKind.Boolean, SETTERS.boolean),
};

// Where fitsColumn lets the setters write: nothing reads it.
const PROBE = new VectorScratch();

/**
 * True when a column of `kind` takes `value` (not null or undefined) as it is: exactly what the
 * column's vectors accept, checked without allocating.
 */
export function fitsColumn(kind: ColumnKind, value: unknown): boolean {
  switch (kind) {
    case ColumnKind.String:
      return typeof value === "string";
    case ColumnKind.Binary:
      return value instanceof Uint8Array;
    case ColumnKind.Json:
      try {
        return typeof jsonText(value) === "string";
      } catch {
        return false;
      }
    default:
      return SETTERS[kind](PROBE, 0, value);
  }
}

/** The vectors of a column of group numbers (already checked to be non-negative int32). */
export const GROUP_VECTORS: ColumnVectors = fixed(INTEGER, 4, ColumnKind.Int, (s, i, v) => {
  s.i32[i] = v as number;
  return true;
});

// A fixed-width kind: `set` writes a non-null value into the scratch arrays, false if it does not fit.
function fixed(
  type: DuckDBType,
  bytesPerRow: number,
  kind: ColumnKind,
  set: (scratch: VectorScratch, i: number, value: unknown) => boolean,
): ColumnVectors {
  return {
    type,
    read: same,
    fill(vector, values, from, rows, scratch, name) {
      scratch.begin();
      for (let i = 0; i < rows; i++) {
        const v = values[from + i];
        if (v == null) scratch.setNull(i);
        else if (!set(scratch, i, v)) throw mismatch(kind, name, from + i, v);
      }
      scratch.finish(vector, rows, bytesPerRow);
    },
  };
}

// A text kind: `text` gives a non-null value's text (undefined, or throws, if it has none).
function strings(kind: ColumnKind, text: (value: unknown) => string | undefined): ColumnVectors {
  return {
    type: VARCHAR,
    read: same,
    fill(vector, values, from, rows, scratch, name) {
      scratch.begin();
      for (let i = 0; i < rows; i++) {
        const v = values[from + i];
        if (v == null) {
          scratch.setNull(i);
          continue;
        }
        let s: string | undefined;
        try {
          s = text(v);
        } catch (cause) {
          throw invalid(name, from + i, cause);
        }
        if (s === undefined) throw mismatch(kind, name, from + i, v);
        duckdb.vector_assign_string_element(vector, i, s);
      }
      scratch.finish(vector, rows, 0);
    },
  };
}

// The kind's own `stage` words the error, so it reads the same as every other type check.
function mismatch(kind: ColumnKind, name: string, row: number, value: unknown): LakeError {
  try {
    COLUMN_KINDS[kind].stage(value);
  } catch (cause) {
    return invalid(name, row, cause);
  }
  return invalid(name, row, new TypeError(`expected ${kind}, got ${String(value)}: out of range`));
}

function invalid(name: string, row: number, cause: unknown): LakeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new LakeError(`column "${name}" row ${row}: ${reason}`, LakeErrorCode.InvalidArgument, { cause });
}
