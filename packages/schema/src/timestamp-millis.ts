import avsc from "avsc";

// ISO-8601 date or date-time; a date-time without an offset is read as UTC.
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Milliseconds since the epoch from a number (ms, a safe integer) or an ISO-8601 string
 * (`2024-05-01`, `2024-05-01T10:00:00.123Z`, `…+02:00`; no offset means UTC); undefined otherwise.
 */
export function parseTimestampMillis(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = ISO_8601.exec(value);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, offset] = match;
  const month = Number(mo);
  const day = Number(d);
  // Date.parse rolls 2024-02-30 over to March; a calendar date must exist as written.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(Number(y), month)) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59)) return undefined;
  let text = value;
  if (h !== undefined && offset === undefined) text += "Z";
  else if (offset !== undefined && /^[+-]\d{4}$/.test(offset)) {
    text = `${text.slice(0, -2)}:${text.slice(-2)}`;
  }
  const ms = Date.parse(text);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Avro `long` with `logicalType: "timestamp-millis"`: accepts epoch milliseconds or an ISO-8601
 * string when writing or validating, and always decodes to a number (ms since the epoch).
 */
export class TimestampMillisType extends avsc.types.LogicalType {
  protected override _fromValue(value: number): number {
    return value;
  }

  protected override _toValue(value: unknown): number | undefined {
    return parseTimestampMillis(value);
  }

  protected override _resolve(writer: avsc.Type): ((value: number) => number) | undefined {
    // Plain long/int data, or data already written as timestamp-millis, reads as-is.
    const name = writer.typeName;
    if (name === "long" || name === "int" || name === "logical:timestamp-millis") return (value) => value;
    return undefined;
  }
}
