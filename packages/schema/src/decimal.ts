import avsc from "avsc";

/** The largest precision a decimal may declare: what Parquet and DuckDB store exactly (128 bits). */
export const MAX_DECIMAL_PRECISION = 38;

// Every decimal of at most 15 significant digits survives JSON.parse as a double and comes back
// unchanged from String(); a number with more may already have lost digits, so it must be text.
const MAX_NUMBER_DIGITS = 15;

const DECIMAL_TEXT = /^([+-]?)(\d+)(?:\.(\d+))?$/;

/** A decimal's precision (digits in all) and scale (digits after the point). */
export interface DecimalShape {
  readonly precision: number;
  readonly scale: number;
}

/**
 * The unscaled integer of `value` at `shape` (`"12.5"` at scale 2 is 1250n), or undefined when
 * `value` is not a decimal that fits: text such as `"-12.50"` (no exponent), a bigint, or a number
 * of at most 15 significant digits; more digits after the point than the scale (nothing is rounded
 * away), or more digits in all than the precision, do not fit.
 */
export function parseDecimal(value: unknown, shape: DecimalShape): bigint | undefined {
  let text: string;
  if (typeof value === "string") text = value;
  else if (typeof value === "bigint") text = value.toString();
  else if (typeof value === "number" && Number.isFinite(value)) {
    text = String(value);
    if (text.includes("e") || text.replace(/^-|\./g, "").replace(/^0+/, "").length > MAX_NUMBER_DIGITS) {
      return undefined;
    }
  } else return undefined;
  const match = DECIMAL_TEXT.exec(text);
  if (match === null) return undefined;
  const [, sign, whole, fraction = ""] = match;
  const trimmed = fraction.replace(/0+$/, "");
  if (trimmed.length > shape.scale) return undefined;
  const digits = `${whole!.replace(/^0+(?=\d)/, "")}${trimmed.padEnd(shape.scale, "0")}`;
  const unscaled = BigInt(digits);
  if (unscaled !== 0n && unscaled.toString().length > shape.precision) return undefined;
  return sign === "-" ? -unscaled : unscaled;
}

/** `unscaled` at `scale` as text with exactly `scale` digits after the point: 1250n, 2 → `"12.50"`. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Big-endian two's complement of `n`, in `size` bytes when given (sign-extended), else the fewest. */
export function decimalBytes(n: bigint, size?: number): Buffer | undefined {
  let length = 1;
  while (n < -(1n << BigInt(8 * length - 1)) || n >= 1n << BigInt(8 * length - 1)) length++;
  if (size !== undefined) {
    if (length > size) return undefined;
    length = size;
  }
  const bytes = Buffer.alloc(length);
  let rest = BigInt.asUintN(8 * length, n);
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

/** The integer a big-endian two's complement holds. */
export function decimalFromBytes(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return bytes.length > 0 && (bytes[0]! & 0x80) !== 0 ? n - (1n << BigInt(8 * bytes.length)) : n;
}

/**
 * Avro `bytes` or `fixed` with `logicalType: "decimal"`: an exact decimal of `precision` digits,
 * `scale` of them after the point. Written from text (`"12.50"`), a bigint, or a number of at most
 * 15 significant digits, never rounded; decoded to text with exactly `scale` digits after the
 * point, so values pass through the stages unchanged. A precision outside 1–38 or a scale outside
 * 0–precision makes the schema invalid (rather than, as the Avro specification allows, plain bytes
 * that would reach the lake as binary).
 */
export class DecimalType extends avsc.types.LogicalType implements DecimalShape {
  readonly precision: number;
  readonly scale: number;
  readonly #size: number | undefined;

  constructor(schema: avsc.Schema, opts?: avsc.ForSchemaOptions) {
    super(schema, opts);
    const attrs = schema as { precision?: unknown; scale?: unknown; size?: unknown };
    const precision = attrs.precision;
    const scale = attrs.scale ?? 0;
    if (
      typeof precision !== "number" ||
      !Number.isInteger(precision) ||
      precision < 1 ||
      precision > MAX_DECIMAL_PRECISION
    ) {
      throw new Error(
        `decimal needs a precision from 1 to ${MAX_DECIMAL_PRECISION}, got ${JSON.stringify(precision)}`,
      );
    }
    if (typeof scale !== "number" || !Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw new Error(
        `decimal(${precision}) needs a scale from 0 to ${precision}, got ${JSON.stringify(scale)}`,
      );
    }
    const size = typeof attrs.size === "number" ? attrs.size : undefined;
    if (size !== undefined && decimalBytes(-(10n ** BigInt(precision)), size) === undefined) {
      throw new Error(`decimal(${precision}, ${scale}) does not fit a fixed of ${size} bytes`);
    }
    this.precision = precision;
    this.scale = scale;
    this.#size = size;
  }

  /** `decimal(18,2)`. */
  describe(): string {
    return `decimal(${this.precision},${this.scale})`;
  }

  protected override _fromValue(value: Buffer): string {
    return formatDecimal(decimalFromBytes(value), this.scale);
  }

  protected override _toValue(value: unknown): Buffer | undefined {
    const unscaled = parseDecimal(value, this);
    return unscaled === undefined ? undefined : decimalBytes(unscaled, this.#size);
  }

  protected override _resolve(writer: avsc.Type): ((value: string) => string) | undefined {
    // The Avro specification: decimals resolve when their precision and scale are equal.
    if (writer instanceof DecimalType && writer.precision === this.precision && writer.scale === this.scale) {
      return (value) => value;
    }
    return undefined;
  }

  protected override _export(schema: avsc.Schema): void {
    Object.assign(schema as object, { precision: this.precision, scale: this.scale });
  }
}
