import { isUtf8 } from "node:buffer";
import type { AvroSchema } from "@inlet/lake";
import { decimalFromBytes, formatDecimal } from "@inlet/schema";
import type { ColumnsBuilder } from "./columns-builder.js";

// The instants a JS Date can hold (±100,000,000 days); the row check refuses event times beyond.
const MAX_DATE_MS = 8.64e15;
// Past 2^52 avsc's decoder sums in doubles that round (and refuses past 2^53 - 2): the reader leaves
// such longs to avsc, so that a value never reads differently from before.
const MAX_LONG = 2 ** 52 - 1;

const Op = { String: 0, Enum: 1, Int: 2, Long: 3, Float: 4, Double: 5, Boolean: 6, Decimal: 7 } as const;
type Op = (typeof Op)[keyof typeof Op];

interface FieldPlan {
  readonly op: Op;
  /** The union branch that is null (0 or 1), or -1 when the field is not a union. */
  readonly nullBranch: number;
  /** The builder column the value goes to. */
  readonly column: number;
  /** An enum's symbols as UTF-8. */
  readonly symbols: readonly Buffer[];
  readonly eventTime: boolean;
  /** A decimal's scale, and its fixed's size (0 for bytes). */
  readonly scale: number;
  readonly size: number;
}

type Named = Map<string, Record<string, unknown>>;

/**
 * Reads Avro payloads of one record schema straight into a {@link ColumnsBuilder}'s columns: no
 * event object, no JS string (text is copied as UTF-8 bytes). It takes flat schemas only: fields of
 * string, enum, int, long, float, double and boolean (with their logical types) and decimals (bytes
 * or fixed, read to their text as avsc's DecimalType reads them), each possibly in a
 * union with null. For anything else {@link for} gives undefined, and a payload it cannot read
 * exactly as avsc would without a doubt (a malformed one, text that is not well-formed UTF-8, a
 * long past 2^52, an event time the row check refuses) makes {@link read} give up, leaving
 * nothing behind: the caller then decodes that event with avsc, which words the error.
 *
 * Written by hand rather than with avsc because avsc's decoder makes an object and JS strings per
 * event, which the lake-writer only takes apart again; this is the lake-writer's hottest loop.
 */
export class AvroRowReader {
  readonly #fields: readonly FieldPlan[];
  // Builder columns no field fills (dropped from the schema since): NULL in every row.
  readonly #absent: readonly number[];
  // Where read is in the payload.
  #pos = 0;

  private constructor(fields: readonly FieldPlan[], absent: readonly number[]) {
    this.#fields = fields;
    this.#absent = absent;
  }

  /** A reader of `schema`'s payloads into `builder`'s columns, or undefined when it cannot be one. */
  static for(schema: AvroSchema, builder: ColumnsBuilder, eventTimeField: string): AvroRowReader | undefined {
    const root = schema as unknown as Record<string, unknown>;
    if (root.type !== "record" || !Array.isArray(root.fields)) return undefined;
    const named: Named = new Map();
    const fields: FieldPlan[] = [];
    const filled = new Set<number>();
    for (const field of root.fields as Record<string, unknown>[]) {
      const name = field.name as string;
      const column = builder.indexOf(name);
      if (column < 0) return undefined;
      const plan = planField(field.type, named, column, name === eventTimeField);
      if (plan === undefined) return undefined;
      const text = plan.op === Op.String || plan.op === Op.Enum;
      if (text !== builder.isText(column)) return undefined;
      fields.push(plan);
      filled.add(column);
    }
    const absent = builder.dataColumns.map((_, c) => c).filter((c) => !filled.has(c));
    return new AvroRowReader(fields, absent);
  }

  /**
   * Reads the payload at `[start, end)` of `body` into a new row of `builder`, with its lineage.
   * Returns the event time (ms; 0 when the schema has none or it is NULL), or NaN when it gave up.
   */
  read(
    body: Buffer,
    start: number,
    end: number,
    builder: ColumnsBuilder,
    idStart: number,
    idEnd: number,
    ingestedAt: number,
    traceId: string,
    schemaVersion: number,
  ): number {
    if (!isText(body, idStart, idEnd - idStart)) return Number.NaN;
    const row = builder.row();
    this.#pos = start;
    let time = 0;
    const fields = this.#fields;
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f]!;
      const c = field.column;
      if (field.nullBranch >= 0) {
        const branch = this.#varint(body, end, 10);
        if (branch !== 0 && branch !== 1) return this.#giveUp(builder);
        if (branch === field.nullBranch) {
          builder.setNull(c, row);
          continue;
        }
      }
      switch (field.op) {
        case Op.String: {
          const length = this.#varint(body, end, 10);
          const at = this.#pos;
          if (!(length >= 0) || at + length > end || !isText(body, at, length)) return this.#giveUp(builder);
          builder.setText(c, row, body, at, length);
          this.#pos = at + length;
          break;
        }
        case Op.Enum: {
          const symbol = field.symbols[this.#varint(body, end, 5)];
          if (symbol === undefined) return this.#giveUp(builder);
          builder.setText(c, row, symbol, 0, symbol.length);
          break;
        }
        case Op.Int: {
          const v = this.#varint(body, end, 5);
          if (!(v >= -(2 ** 31) && v < 2 ** 31)) return this.#giveUp(builder);
          builder.setValue(c, row, v);
          if (field.eventTime) time = v;
          break;
        }
        case Op.Long: {
          const v = this.#varint(body, end, 8);
          if (Number.isNaN(v)) return this.#giveUp(builder);
          if (field.eventTime) {
            if (!(Math.abs(v) <= MAX_DATE_MS)) return this.#giveUp(builder);
            time = v;
          }
          builder.setValue(c, row, v);
          break;
        }
        case Op.Float: {
          const at = this.#pos;
          if (at + 4 > end) return this.#giveUp(builder);
          builder.setValue(c, row, body.readFloatLE(at));
          this.#pos = at + 4;
          break;
        }
        case Op.Double: {
          const at = this.#pos;
          if (at + 8 > end) return this.#giveUp(builder);
          builder.setValue(c, row, body.readDoubleLE(at));
          this.#pos = at + 8;
          break;
        }
        case Op.Decimal: {
          // Two's complement, big-endian, as text at the scale: what avsc's DecimalType decodes.
          const length = field.size > 0 ? field.size : this.#varint(body, end, 10);
          const at = this.#pos;
          if (!(length >= 0) || at + length > end) return this.#giveUp(builder);
          builder.setValue(
            c,
            row,
            formatDecimal(decimalFromBytes(body.subarray(at, at + length)), field.scale),
          );
          this.#pos = at + length;
          break;
        }
        case Op.Boolean: {
          const b = this.#pos < end ? body[this.#pos++] : 2;
          if (b !== 0 && b !== 1) return this.#giveUp(builder);
          builder.setValue(c, row, b === 1);
          break;
        }
      }
    }
    if (this.#pos !== end) return this.#giveUp(builder);
    for (const c of this.#absent) builder.setNull(c, row);
    builder.commit(row, body, idStart, idEnd - idStart, ingestedAt, traceId, schemaVersion);
    return time;
  }

  // Reads a zigzag varint of at most `maxBytes`; NaN when longer, past `end`, or of a magnitude past
  // MAX_LONG. The sign bit comes first, so the magnitude is summed exactly (below 2^53) in a double.
  #varint(body: Buffer, end: number, maxBytes: number): number {
    let pos = this.#pos;
    if (pos >= end) return Number.NaN;
    let b = body[pos++]!;
    const negative = b & 1;
    let magnitude = (b & 0x7f) >>> 1;
    let scale = 64;
    for (let i = 1; b >= 0x80; i++) {
      if (i >= maxBytes || pos >= end) return Number.NaN;
      b = body[pos++]!;
      magnitude += (b & 0x7f) * scale;
      scale *= 128;
    }
    this.#pos = pos;
    if (magnitude > MAX_LONG) return Number.NaN;
    return negative ? -magnitude - 1 : magnitude;
  }

  #giveUp(builder: ColumnsBuilder): number {
    builder.abort();
    return Number.NaN;
  }
}

// True when `length` bytes at `start` are well-formed UTF-8 (ASCII checked in JS, the rest natively).
function isText(bytes: Buffer, start: number, length: number): boolean {
  for (let k = 0; k < length; k++) {
    if (bytes[start + k]! >= 0x80) return isUtf8(bytes.subarray(start, start + length));
  }
  return true;
}

// The plan of a field of Avro type `type`, or undefined when the reader does not take it.
function planField(type: unknown, named: Named, column: number, eventTime: boolean): FieldPlan | undefined {
  if (Array.isArray(type)) {
    if (type.length !== 2) return undefined;
    const nullBranch = type.findIndex((t) => t === "null" || (isObject(t) && t.type === "null"));
    if (nullBranch < 0) return undefined;
    const inner = planField(type[1 - nullBranch], named, column, eventTime);
    if (inner === undefined || inner.nullBranch >= 0) return undefined;
    return { ...inner, nullBranch };
  }
  const plan = (op: Op, symbols: readonly Buffer[] = [], scale = 0, size = 0): FieldPlan => ({
    op,
    nullBranch: -1,
    column,
    symbols,
    eventTime,
    scale,
    size,
  });
  if (typeof type === "string") {
    const primitive = PRIMITIVE_OPS[type];
    if (primitive !== undefined) return plan(primitive);
    const definition = named.get(type);
    return definition === undefined ? undefined : plan(Op.Enum, definition.symbols as Buffer[]);
  }
  if (!isObject(type)) return undefined;
  if (type.type === "enum") {
    if (!Array.isArray(type.symbols) || typeof type.name !== "string") return undefined;
    const symbols = (type.symbols as string[]).map((s) => Buffer.from(s, "utf8"));
    const definition = { ...type, symbols };
    named.set(type.name, definition);
    if (typeof type.namespace === "string") named.set(`${type.namespace}.${type.name}`, definition);
    return plan(Op.Enum, symbols);
  }
  if (type.logicalType === "decimal" && (type.type === "bytes" || type.type === "fixed")) {
    const size = type.type === "fixed" ? Number(type.size) : 0;
    if (type.type === "fixed" && !(size > 0)) return undefined;
    return plan(Op.Decimal, [], Number(type.scale ?? 0), size);
  }
  // A primitive with a logical type decodes as the primitive (timestamps and dates as numbers).
  if (typeof type.type === "string" && PRIMITIVE_OPS[type.type] !== undefined)
    return plan(PRIMITIVE_OPS[type.type]!);
  return undefined;
}

const PRIMITIVE_OPS: Readonly<Record<string, Op>> = {
  string: Op.String,
  int: Op.Int,
  long: Op.Long,
  float: Op.Float,
  double: Op.Double,
  boolean: Op.Boolean,
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
