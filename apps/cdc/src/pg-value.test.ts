import { describe, expect, it } from "vitest";
import { avroTypeOfPg, numericShape, PgType, PgValueError, pgTextToAvro } from "./pg-value.js";

describe("pgTextToAvro", () => {
  it("reads integers, floats, booleans and bytea", () => {
    expect(pgTextToAvro(PgType.Int4, "-42")).toBe(-42);
    expect(pgTextToAvro(PgType.Int8, "9007199254740990")).toBe(9_007_199_254_740_990);
    expect(pgTextToAvro(PgType.Float8, "0.30000000000000004")).toBe(0.30000000000000004);
    expect(pgTextToAvro(PgType.Float8, "NaN")).toBeNaN();
    expect(pgTextToAvro(PgType.Float4, "-Infinity")).toBe(Number.NEGATIVE_INFINITY);
    expect(pgTextToAvro(PgType.Bool, "t")).toBe(true);
    expect(pgTextToAvro(PgType.Bool, "f")).toBe(false);
    expect(pgTextToAvro(PgType.Bytea, "\\x00ff10")).toEqual(Buffer.from([0, 255, 16]));
  });

  it("refuses a bigint a long cannot hold exactly, naming the value", () => {
    expect(() => pgTextToAvro(PgType.Int8, "9007199254740993")).toThrow(PgValueError);
    expect(() => pgTextToAvro(PgType.Int8, "-9223372036854775808")).toThrow(/-9223372036854775808 is beyond/);
  });

  it("reads timestamps to the microsecond, with or without an offset", () => {
    const base = Date.UTC(2026, 0, 2, 3, 4, 5) * 1000;
    expect(pgTextToAvro(PgType.Timestamptz, "2026-01-02 03:04:05.123456+00")).toBe(base + 123_456);
    expect(pgTextToAvro(PgType.Timestamptz, "2026-01-02 03:04:05.5+00")).toBe(base + 500_000);
    expect(pgTextToAvro(PgType.Timestamptz, "2026-01-02 05:34:05+02:30")).toBe(base);
    expect(pgTextToAvro(PgType.Timestamptz, "2026-01-01 23:04:05-04")).toBe(base);
    expect(pgTextToAvro(PgType.Timestamp, "2026-01-02 03:04:05")).toBe(base);
    expect(pgTextToAvro(PgType.Timestamp, "1969-12-31 23:59:59.999999")).toBe(-1);
  });

  it("refuses infinite and BC timestamps and dates", () => {
    expect(() => pgTextToAvro(PgType.Timestamptz, "infinity")).toThrow(PgValueError);
    expect(() => pgTextToAvro(PgType.Timestamp, "0044-03-15 12:00:00 BC")).toThrow(PgValueError);
    expect(() => pgTextToAvro(PgType.Date, "-infinity")).toThrow(PgValueError);
  });

  it("reads dates as days since the epoch", () => {
    expect(pgTextToAvro(PgType.Date, "1970-01-02")).toBe(1);
    expect(pgTextToAvro(PgType.Date, "1969-12-31")).toBe(-1);
  });

  it("keeps every other type's text, numerics exact", () => {
    expect(pgTextToAvro(1700, "12345678901234567890.000001")).toBe("12345678901234567890.000001");
    expect(pgTextToAvro(3802, '{"a": 1}')).toBe('{"a": 1}');
    expect(pgTextToAvro(2950, "5b7e0b5c-64c4-4d5b-8e8a-2d1f1c0f9a11")).toBe(
      "5b7e0b5c-64c4-4d5b-8e8a-2d1f1c0f9a11",
    );
    expect(pgTextToAvro(PgType.Int4, null)).toBeNull();
  });
});

describe("numeric(p,s)", () => {
  const typeMod = (precision: number, scale: number) => ((precision << 16) | (scale & 0x7ff)) + 4;

  it("is an Avro decimal of the same precision and scale when one can hold it, else text", () => {
    expect(avroTypeOfPg(PgType.Numeric, typeMod(14, 2))).toEqual({
      type: "bytes",
      logicalType: "decimal",
      precision: 14,
      scale: 2,
    });
    expect(numericShape(typeMod(38, 38))).toEqual({ precision: 38, scale: 38 });
    expect(numericShape(typeMod(5, 0))).toEqual({ precision: 5, scale: 0 });
    // No precision, more than 38 digits, and PostgreSQL 15's negative scales and scales past the precision.
    for (const mod of [-1, typeMod(39, 2), typeMod(5, -2), typeMod(2, 5)]) {
      expect(avroTypeOfPg(PgType.Numeric, mod), String(mod)).toBe("string");
    }
  });

  it("keeps the server's text, and refuses NaN and infinities, which a decimal has not", () => {
    expect(pgTextToAvro(PgType.Numeric, "-12.50", typeMod(14, 2))).toBe("-12.50");
    expect(() => pgTextToAvro(PgType.Numeric, "NaN", typeMod(14, 2))).toThrow(/NaN has no decimal value/);
    expect(() => pgTextToAvro(PgType.Numeric, "Infinity", typeMod(14, 2))).toThrow(PgValueError);
    // Text, without a precision: NaN is text like any other.
    expect(pgTextToAvro(PgType.Numeric, "NaN")).toBe("NaN");
  });
});

describe("avroTypeOfPg", () => {
  it("maps the types it converts, and text for the rest", () => {
    expect(avroTypeOfPg(PgType.Int8)).toBe("long");
    expect(avroTypeOfPg(PgType.Timestamptz)).toEqual({ type: "long", logicalType: "timestamp-micros" });
    expect(avroTypeOfPg(PgType.Date)).toEqual({ type: "int", logicalType: "date" });
    expect(avroTypeOfPg(1700)).toBe("string");
  });
});
