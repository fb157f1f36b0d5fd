import { BIGINT, BLOB, BOOLEAN, DOUBLE, type DuckDBType, FLOAT, INTEGER, VARCHAR } from "@duckdb/node-api";
import duckdb from "@duckdb/node-bindings";
import { ByteArena } from "./byte-arena.js";
import {
  type BaseColumnKind,
  COLUMN_KINDS,
  ColumnKind,
  columnKindSpec,
  decimalShape,
  fitsDecimal,
} from "./column-kind.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { MS_PER_DAY } from "./paths.js";

/** A DuckDB vector as the native bindings see it. */
export type RawVector = duckdb.Vector;

/** Most rows one vector holds (DuckDB's vector size). */
export const VECTOR_ROWS = 2048;

const TWO_32 = 2 ** 32;
// DuckDB's string_t: a 4-byte length, then either the bytes inline (up to 12) or a 4-byte prefix
// and an 8-byte pointer to the bytes (little-endian, as on every platform DuckDB ships for).
const STRING_T_BYTES = 16;
const INLINE_BYTES = 12;

/**
 * Text already encoded as UTF-8 (a column decoded from Avro without making JS strings): row `i` is
 * `bytes[starts[i], starts[i] + lengths[i])`, or NULL where `lengths[i]` is -1. Whoever builds one
 * has checked that each row is well-formed UTF-8.
 */
export class Utf8Column {
  readonly bytes: Uint8Array;
  readonly starts: Int32Array;
  readonly lengths: Int32Array;

  constructor(bytes: Uint8Array, starts: Int32Array, lengths: Int32Array) {
    if (starts.length !== lengths.length) throw new RangeError("starts and lengths differ in length");
    this.bytes = bytes;
    this.starts = starts;
    this.lengths = lengths;
  }

  get length(): number {
    return this.starts.length;
  }

  /** Row `i` as a JS string, or null. */
  at(i: number): string | null {
    const length = this.lengths[i]!;
    if (length < 0) return null;
    const start = this.starts[i]!;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, length).toString("utf8");
  }
}

/** A column's values: one per row (null or undefined = NULL), or text already in UTF-8. */
export type ColumnValues = ArrayLike<unknown> | Utf8Column;

/**
 * Scratch space for {@link PreparedColumn.fill}: numbers are written into typed arrays here and
 * copied into the vector in one native call; nulls into a validity mask; strings into DuckDB
 * `string_t`s, the bytes of those too long to inline into one arena.
 */
export class VectorScratch {
  readonly #buffer = new ArrayBuffer(VECTOR_ROWS * STRING_T_BYTES);
  readonly f64 = new Float64Array(this.#buffer);
  readonly f32 = new Float32Array(this.#buffer);
  readonly i32 = new Int32Array(this.#buffer);
  readonly u32 = new Uint32Array(this.#buffer);
  readonly i64 = new BigInt64Array(this.#buffer);
  readonly u8 = new Uint8Array(this.#buffer);
  readonly #mask = new Uint32Array(VECTOR_ROWS / 32);
  #nulls = false;
  // The bytes of a vector's strings longer than INLINE_BYTES, back to back.
  readonly #arena = new ByteArena(64 * 1024);
  // Rows whose string_t points into the arena (their pointer field holds the offset until finish).
  readonly #long = new Int32Array(VECTOR_ROWS);
  #longCount = 0;

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

  /** Starts a vector of strings: no nulls, every `string_t` zero (empty), an empty arena. */
  beginStrings(rows: number): void {
    this.begin();
    this.u8.fill(0, 0, rows * STRING_T_BYTES);
    this.#arena.used = 0;
    this.#longCount = 0;
  }

  /** Row `i` is the JS string `s` (lone surrogates become U+FFFD, as DuckDB's own conversion does). */
  setString(i: number, s: string): void {
    const at = this.#arena.appendString(s);
    this.#place(i, at, this.#arena.used - at);
  }

  /**
   * Row `i` is `length` bytes of UTF-8 at `start` of `bytes`, of which DuckDB holds a copy at
   * `address` for as long as the vector is read: a long string points into that copy, so its bytes
   * are copied nowhere.
   */
  setPinned(i: number, bytes: Uint8Array, start: number, length: number, address: number): void {
    const u8 = this.u8;
    const word = i * 4;
    this.u32[word] = length;
    const first = i * STRING_T_BYTES + 4;
    if (length <= INLINE_BYTES) {
      for (let k = 0; k < length; k++) u8[first + k] = bytes[start + k]!;
      return;
    }
    for (let k = 0; k < 4; k++) u8[first + k] = bytes[start + k]!;
    const pointer = address + start;
    const high = Math.floor(pointer / TWO_32);
    this.u32[word + 2] = pointer - high * TWO_32;
    this.u32[word + 3] = high;
  }

  /**
   * Copies the strings into `vector`: the arena in one native call (DuckDB keeps it in the vector's
   * string heap), then every `string_t`, long ones pointing into DuckDB's copy of the arena.
   */
  finishStrings(vector: RawVector, rows: number): void {
    if (this.#longCount > 0) {
      // Row 0's string_t is written over below; the arena stays in the vector's heap until reset.
      const arena = this.#arena;
      duckdb.vector_assign_string_element_len(vector, 0, arena.bytes.subarray(0, arena.used));
      const base = longStringAddress(vector);
      const u32 = this.u32;
      for (let k = 0; k < this.#longCount; k++) {
        const word = this.#long[k]! * 4; // the string_t's first 32-bit word
        const pointer = base + u32[word + 2]!;
        const high = Math.floor(pointer / TWO_32);
        u32[word + 2] = pointer - high * TWO_32;
        u32[word + 3] = high;
      }
    }
    this.finish(vector, rows, STRING_T_BYTES);
  }

  // Writes row i's string_t for the `length` bytes just written at `at` of the arena: inline when
  // they fit (giving the arena space back), else prefix and offset, the pointer set in finishStrings.
  #place(i: number, at: number, length: number): void {
    const u8 = this.u8;
    const word = i * 4;
    this.u32[word] = length;
    const bytes = this.#arena.bytes;
    const first = i * STRING_T_BYTES + 4;
    if (length <= INLINE_BYTES) {
      for (let k = 0; k < length; k++) u8[first + k] = bytes[at + k]!;
      this.#arena.used = at;
      return;
    }
    for (let k = 0; k < 4; k++) u8[first + k] = bytes[at + k]!;
    this.u32[word + 2] = at;
    this.u32[word + 3] = 0;
    this.#long[this.#longCount++] = i;
  }
}

// Where the bytes of row 0's string, longer than INLINE_BYTES, lie: its string_t's pointer.
function longStringAddress(vector: RawVector): number {
  const own = duckdb.vector_get_data(vector, STRING_T_BYTES);
  const view = new DataView(own.buffer, own.byteOffset, STRING_T_BYTES);
  return view.getUint32(12, true) * TWO_32 + view.getUint32(8, true);
}

/** DuckDB's copies of the text of a write's columns, and each column's address in them. */
export interface PinnedText {
  /** Per column, the address of its {@link PreparedColumn.text} copy (0: it has none). */
  readonly addresses: readonly number[];
  /** Frees the copies: once nothing scans the columns any more. */
  release(): void;
}

/**
 * Has DuckDB hold a copy of the UTF-8 bytes {@link PreparedColumn.text} names, so a column's long
 * strings can point into it: each buffer copied once, in one native call, into a data chunk of its
 * own (as row 0 of a VARCHAR vector), and freed when released. The chunks are kept for the next
 * write: at most one per buffer of the writes in flight.
 */
export class TextPins {
  readonly #free: duckdb.DataChunk[] = [];

  pin(columns: readonly PreparedColumn[]): PinnedText {
    // Each buffer once, up to where the last long string of its columns ends.
    const ends = new Map<Uint8Array, number>();
    for (const { text } of columns) {
      if (text !== undefined) ends.set(text.bytes, Math.max(ends.get(text.bytes) ?? 0, text.end));
    }
    const chunks: duckdb.DataChunk[] = [];
    const addressOf = new Map<Uint8Array, number>();
    for (const [bytes, end] of ends) {
      const chunk = this.#free.pop() ?? duckdb.create_data_chunk([VARCHAR.toLogicalType().logical_type]);
      chunks.push(chunk);
      const vector = duckdb.data_chunk_get_vector(chunk, 0);
      // `end` is past a string longer than INLINE_BYTES, so the copy is never inlined.
      duckdb.vector_assign_string_element_len(vector, 0, bytes.subarray(0, end));
      addressOf.set(bytes, longStringAddress(vector));
    }
    return {
      addresses: columns.map(({ text }) => (text === undefined ? 0 : addressOf.get(text.bytes)!)),
      release: () => {
        for (const chunk of chunks.splice(0)) {
          duckdb.data_chunk_reset(chunk);
          this.#free.push(chunk);
        }
      },
    };
  }
}

/** One group's statistics of a column, as {@link COLUMN_KINDS}' `stat` takes them. */
export interface ColumnGroupStats {
  /** Rows not NULL. */
  nonNull: number;
  /**
   * Least and greatest value, as staged; undefined for strings (the Parquet writer takes theirs
   * from the file DuckDB wrote, see `parquet-writer.ts`) and kinds without an order.
   */
  min: unknown;
  max: unknown;
}

/** A column checked, its statistics gathered, ready to fill DuckDB vectors. */
export interface PreparedColumn {
  /**
   * UTF-8 bytes the column's long strings lie in, when it has any (a {@link Utf8Column}'s): whoever
   * scans the column has DuckDB hold a copy of `bytes[0, end)` and passes its address to `fill`.
   */
  readonly text?: { readonly bytes: Uint8Array; readonly end: number };
  /** DuckDB type of the scanned column. */
  readonly type: DuckDBType;
  /** Per group, the non-null count and min/max (undefined where the kind keeps none, or not finite). */
  readonly stats: readonly ColumnGroupStats[];
  /**
   * Writes rows `rows[from]`, … `rows[from + count - 1]` into `vector`; `address` is where DuckDB
   * holds the copy of {@link text} (unused without one).
   */
  fill(
    vector: RawVector,
    rows: Int32Array,
    from: number,
    count: number,
    scratch: VectorScratch,
    address: number,
  ): void;
}

/**
 * Checks every value of a column of `kind` (the first of the wrong type throws a {@link LakeError}
 * (INVALID_ARGUMENT) naming column `name` and the row), gathers each group's statistics (the
 * group of row `i` is `groupOf[i]`, or 0), and returns what fills the column's vectors: fixed-width
 * values through typed arrays, strings as DuckDB `string_t`s over one arena per vector (no native
 * call per value), bytes one native call each.
 */
export function prepareColumn(
  kind: ColumnKind,
  values: ColumnValues,
  name: string,
  groupOf: ArrayLike<number> | undefined,
  groups: number,
): PreparedColumn {
  const stats = Array.from(
    { length: groups },
    (): ColumnGroupStats => ({ nonNull: 0, min: undefined, max: undefined }),
  );
  if (values instanceof Utf8Column) {
    if (kind !== ColumnKind.String && kind !== ColumnKind.Json)
      throw invalid(name, 0, new TypeError(`expected ${kind}, got UTF-8 text`));
    return utf8Column(values, groupOf, stats);
  }
  if (decimalShape(kind) !== undefined) {
    // Decimal text, checked against the precision and scale, cast to DECIMAL in the write.
    countValues(kind, values, name, groupOf, stats);
    return { type: VARCHAR, stats, fill: fillStrings(values as ArrayLike<string | null | undefined>) };
  }
  switch (kind) {
    case ColumnKind.String:
      return stringColumn(values, name, groupOf, stats);
    case ColumnKind.Json:
      return jsonColumn(values, name, groupOf, stats);
    case ColumnKind.Binary:
      return binaryColumn(values, name, groupOf, stats);
    default:
      return fixedColumn(kind as FixedKind, values, name, groupOf, stats);
  }
}

// Writes a 64-bit integer in place: a safe-integer number as two 32-bit halves, a bigint directly.
// False when it is neither or out of range.
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

type FixedKind = Exclude<BaseColumnKind, "string" | "json" | "binary">;
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

const FIXED: { readonly [K in FixedKind]: { readonly type: DuckDBType; readonly bytes: number } } = {
  int: { type: INTEGER, bytes: 4 },
  date: { type: INTEGER, bytes: 4 },
  long: { type: BIGINT, bytes: 8 },
  "timestamp-millis": { type: BIGINT, bytes: 8 },
  "timestamp-micros": { type: BIGINT, bytes: 8 },
  float: { type: FLOAT, bytes: 4 },
  double: { type: DOUBLE, bytes: 8 },
  boolean: { type: BOOLEAN, bytes: 1 },
};

// The value a fixed kind's statistics compare (a number or bigint, as staged), or undefined when
// the kind keeps no min/max.
const STAT_KEYS: { readonly [K in FixedKind]: ((v: unknown) => number | bigint) | undefined } = {
  int: (v) => v as number,
  date: (v) => (v instanceof Date ? Math.floor(v.getTime() / MS_PER_DAY) : (v as number)),
  long: (v) => v as number | bigint,
  "timestamp-millis": (v) => (v instanceof Date ? v.getTime() : (v as number | bigint)),
  "timestamp-micros": (v) => v as number | bigint,
  float: (v) => Math.fround(v as number),
  double: (v) => v as number,
  boolean: undefined,
};

// Where the checks let the setters write: nothing reads it.
const PROBE = new VectorScratch();

/**
 * True when a column of `kind` takes `value` (not null or undefined) as it is: exactly what the
 * column's vectors accept, checked without allocating.
 */
export function fitsColumn(kind: ColumnKind, value: unknown): boolean {
  const decimal = decimalShape(kind);
  if (decimal !== undefined) return fitsDecimal(value, decimal.precision, decimal.scale);
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
      return SETTERS[kind as FixedKind](PROBE, 0, value);
  }
}

function fixedColumn(
  kind: FixedKind,
  values: ArrayLike<unknown>,
  name: string,
  groupOf: ArrayLike<number> | undefined,
  stats: ColumnGroupStats[],
): PreparedColumn {
  const set = SETTERS[kind];
  const key = STAT_KEYS[kind];
  // NaN: DuckDB orders it above every number, so a group with one has no max; min skips it.
  const nan = new Uint8Array(stats.length);
  for (let row = 0; row < values.length; row++) {
    const v = values[row];
    if (v == null) continue;
    if (!set(PROBE, 0, v)) throw mismatch(kind, name, row, v);
    const g = groupOf === undefined ? 0 : groupOf[row]!;
    const s = stats[g]!;
    s.nonNull++;
    if (key === undefined) continue;
    const k = key(v);
    if (Number.isNaN(k)) {
      nan[g] = 1;
      continue;
    }
    if (s.min === undefined || k < (s.min as number)) s.min = k;
    if (s.max === undefined || k > (s.max as number)) s.max = k;
  }
  stats.forEach((s, g) => {
    if (nan[g]) s.max = undefined;
    if (key !== undefined && (kind.startsWith("timestamp") || kind === ColumnKind.Long)) {
      if (s.min !== undefined) s.min = BigInt(s.min as number | bigint);
      if (s.max !== undefined) s.max = BigInt(s.max as number | bigint);
    }
  });
  const { type, bytes } = FIXED[kind];
  return {
    type,
    stats,
    fill(vector, rows, from, count, scratch) {
      scratch.begin();
      for (let i = 0; i < count; i++) {
        const v = values[rows[from + i]!];
        if (v == null) scratch.setNull(i);
        else set(scratch, i, v);
      }
      scratch.finish(vector, count, bytes);
    },
  };
}

function stringColumn(
  values: ArrayLike<unknown>,
  name: string,
  groupOf: ArrayLike<number> | undefined,
  stats: ColumnGroupStats[],
): PreparedColumn {
  countValues(ColumnKind.String, values, name, groupOf, stats);
  return { type: VARCHAR, stats, fill: fillStrings(values as ArrayLike<string | null | undefined>) };
}

function jsonColumn(
  values: ArrayLike<unknown>,
  name: string,
  groupOf: ArrayLike<number> | undefined,
  stats: ColumnGroupStats[],
): PreparedColumn {
  const texts = new Array<string | null>(values.length);
  for (let row = 0; row < values.length; row++) {
    const v = values[row];
    if (v == null) {
      texts[row] = null;
      continue;
    }
    let text: string | undefined;
    try {
      text = jsonText(v);
    } catch (cause) {
      throw invalid(name, row, cause);
    }
    if (typeof text !== "string") throw mismatch(ColumnKind.Json, name, row, v);
    texts[row] = text;
    stats[groupOf === undefined ? 0 : groupOf[row]!]!.nonNull++;
  }
  return { type: VARCHAR, stats, fill: fillStrings(texts) };
}

function fillStrings(values: ArrayLike<string | null | undefined>): PreparedColumn["fill"] {
  return (vector, rows, from, count, scratch) => {
    scratch.beginStrings(count);
    for (let i = 0; i < count; i++) {
      const v = values[rows[from + i]!];
      if (v == null) scratch.setNull(i);
      else scratch.setString(i, v);
    }
    scratch.finishStrings(vector, count);
  };
}

function utf8Column(
  column: Utf8Column,
  groupOf: ArrayLike<number> | undefined,
  stats: ColumnGroupStats[],
): PreparedColumn {
  const { bytes, starts, lengths } = column;
  // Where the last long string ends: DuckDB holds a copy of the bytes up to there.
  let end = 0;
  for (let row = 0; row < column.length; row++) {
    const length = lengths[row]!;
    if (length < 0) continue;
    stats[groupOf === undefined ? 0 : groupOf[row]!]!.nonNull++;
    if (length > INLINE_BYTES && starts[row]! + length > end) end = starts[row]! + length;
  }
  return {
    type: VARCHAR,
    stats,
    ...(end === 0 ? {} : { text: { bytes, end } }),
    fill(vector, rows, from, count, scratch, address) {
      scratch.beginStrings(count);
      for (let i = 0; i < count; i++) {
        const row = rows[from + i]!;
        const length = lengths[row]!;
        if (length < 0) scratch.setNull(i);
        else scratch.setPinned(i, bytes, starts[row]!, length, address);
      }
      scratch.finish(vector, count, STRING_T_BYTES);
    },
  };
}

function binaryColumn(
  values: ArrayLike<unknown>,
  name: string,
  groupOf: ArrayLike<number> | undefined,
  stats: ColumnGroupStats[],
): PreparedColumn {
  countValues(ColumnKind.Binary, values, name, groupOf, stats);
  return {
    type: BLOB,
    stats,
    fill(vector, rows, from, count, scratch) {
      scratch.begin();
      for (let i = 0; i < count; i++) {
        const v = values[rows[from + i]!] as Uint8Array | null | undefined;
        if (v == null) scratch.setNull(i);
        else duckdb.vector_assign_string_element_len(vector, i, v);
      }
      scratch.finish(vector, count, 0);
    },
  };
}

// Checks that each value not null fits a column of `kind` (the first that does not throws, naming
// the column and row) and counts each group's values not null.
function countValues(
  kind: ColumnKind,
  values: ArrayLike<unknown>,
  name: string,
  groupOf: ArrayLike<number> | undefined,
  stats: ColumnGroupStats[],
): void {
  for (let row = 0; row < values.length; row++) {
    const v = values[row];
    if (v == null) continue;
    if (!fitsColumn(kind, v)) throw mismatch(kind, name, row, v);
    stats[groupOf === undefined ? 0 : groupOf[row]!]!.nonNull++;
  }
}

const jsonText = (v: unknown) => COLUMN_KINDS.json.stage(v) as string;

// The kind's own `stage` words the error, so it reads the same as every other type check.
function mismatch(kind: ColumnKind, name: string, row: number, value: unknown): LakeError {
  try {
    columnKindSpec(kind).stage(value);
  } catch (cause) {
    return invalid(name, row, cause);
  }
  return invalid(name, row, new TypeError(`expected ${kind}, got ${String(value)}: out of range`));
}

function invalid(name: string, row: number, cause: unknown): LakeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new LakeError(`column "${name}" row ${row}: ${reason}`, LakeErrorCode.InvalidArgument, { cause });
}
