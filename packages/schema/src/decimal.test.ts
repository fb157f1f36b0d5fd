import { describe, expect, it } from "vitest";
import { createAvroType, normalizedSchema } from "./avro-type.js";
import { CompatibilityMode, checkCompatibility } from "./compatibility.js";
import { decimalBytes, decimalFromBytes, formatDecimal, parseDecimal } from "./decimal.js";
import { validateEvent } from "./validate-event.js";

const MONEY = { precision: 18, scale: 2 };

const payments = (amount: object) =>
  createAvroType({
    type: "record",
    name: "Payment",
    fields: [
      { name: "id", type: "string" },
      { name: "amount", type: amount },
    ],
  } as never);

describe("parseDecimal", () => {
  it("reads text, bigints and short numbers to the unscaled integer, never rounding", () => {
    expect(parseDecimal("12.5", MONEY)).toBe(1250n);
    expect(parseDecimal("-0.01", MONEY)).toBe(-1n);
    expect(parseDecimal("+007.10", MONEY)).toBe(710n);
    expect(parseDecimal("12.500", MONEY)).toBe(1250n);
    expect(parseDecimal(42n, MONEY)).toBe(4200n);
    expect(parseDecimal(0.1, MONEY)).toBe(10n);
    expect(parseDecimal(-19.99, MONEY)).toBe(-1999n);
    expect(parseDecimal("9999999999999999.99", MONEY)).toBe(999999999999999999n);
    for (const bad of ["12.345", "1e3", "12,5", "", ".5", "1.", "NaN", "10000000000000000.00", 1.005]) {
      expect(parseDecimal(bad, MONEY), String(bad)).toBeUndefined();
    }
    // A number of more than 15 significant digits may have lost some in JSON.parse already.
    expect(parseDecimal(1234567890123456, MONEY)).toBeUndefined();
    expect(parseDecimal("1234567890123456", MONEY)).toBe(123456789012345600n);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, null, true, {}, 1e21]) {
      expect(parseDecimal(bad, MONEY), String(bad)).toBeUndefined();
    }
  });

  it("formats with exactly the scale's digits after the point", () => {
    expect(formatDecimal(1250n, 2)).toBe("12.50");
    expect(formatDecimal(-1n, 2)).toBe("-0.01");
    expect(formatDecimal(0n, 3)).toBe("0.000");
    expect(formatDecimal(-42n, 0)).toBe("-42");
  });

  it("writes the shortest big-endian two's complement, or sign-extends to a fixed size", () => {
    expect([...decimalBytes(0n)!]).toEqual([0]);
    expect([...decimalBytes(127n)!]).toEqual([0x7f]);
    expect([...decimalBytes(128n)!]).toEqual([0x00, 0x80]);
    expect([...decimalBytes(-128n)!]).toEqual([0x80]);
    expect([...decimalBytes(-129n)!]).toEqual([0xff, 0x7f]);
    expect([...decimalBytes(-1n, 4)!]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(decimalBytes(1n << 40n, 4)).toBeUndefined();
    for (const n of [0n, 1n, -1n, 255n, -256n, 10n ** 37n, -(10n ** 38n) + 1n]) {
      expect(decimalFromBytes(decimalBytes(n)!)).toBe(n);
    }
  });
});

describe("DecimalType", () => {
  it("writes and reads bytes decimals exactly, as text with the scale's digits", () => {
    const type = payments({ type: "bytes", logicalType: "decimal", precision: 18, scale: 2 });
    const buf = type.toBuffer({ id: "p1", amount: "1234567890123456.78" });
    expect(type.fromBuffer(buf)).toEqual({ id: "p1", amount: "1234567890123456.78" });
    expect(type.fromBuffer(type.toBuffer({ id: "p2", amount: 19.9 }))).toEqual({ id: "p2", amount: "19.90" });
    expect(type.fromBuffer(type.toBuffer({ id: "p3", amount: "-0.5" }))).toEqual({
      id: "p3",
      amount: "-0.50",
    });
  });

  it("writes fixed decimals at the fixed's size", () => {
    const type = payments({
      type: "fixed",
      name: "Money",
      size: 8,
      logicalType: "decimal",
      precision: 18,
      scale: 4,
    });
    const buf = type.toBuffer({ id: "p", amount: "-3.1415" });
    expect(type.fromBuffer(buf)).toEqual({ id: "p", amount: "-3.1415" });
    expect(buf.length).toBe(2 + 8);
  });

  it("keeps precision and scale in the schema's normalized form", () => {
    const type = payments({ type: "bytes", logicalType: "decimal", precision: 10, scale: 3 });
    expect(JSON.parse(normalizedSchema(type)).fields[1].type).toEqual({
      type: "bytes",
      logicalType: "decimal",
      precision: 10,
      scale: 3,
    });
  });

  it("names dataset, field, the declared decimal and the value that does not fit", () => {
    const type = payments({ type: "bytes", logicalType: "decimal", precision: 6, scale: 2 });
    expect(validateEvent(type, { id: "p", amount: "12.345" }, "payments@1").map((i) => i.message)).toEqual([
      'dataset "payments": field "amount" expected decimal(6,2), got "12.345"',
    ]);
    expect(validateEvent(type, { id: "p", amount: 12345.6 }, "payments@1").map((i) => i.message)).toEqual([
      'dataset "payments": field "amount" expected decimal(6,2), got 12345.6',
    ]);
    expect(validateEvent(type, { id: "p", amount: "1234.56" }, "payments@1")).toEqual([]);
  });

  it("refuses a schema whose decimal Inlet cannot keep exactly", () => {
    expect(() => payments({ type: "bytes", logicalType: "decimal", precision: 39, scale: 2 })).toThrow(
      /invalid Avro schema: decimal needs a precision from 1 to 38, got 39/,
    );
    expect(() => payments({ type: "bytes", logicalType: "decimal" })).toThrow(/precision from 1 to 38/);
    expect(() => payments({ type: "bytes", logicalType: "decimal", precision: 4, scale: 5 })).toThrow(
      /decimal\(4\) needs a scale from 0 to 4, got 5/,
    );
    expect(() =>
      payments({ type: "fixed", name: "Small", size: 2, logicalType: "decimal", precision: 10, scale: 0 }),
    ).toThrow(/does not fit a fixed of 2 bytes/);
  });

  it("resolves only a decimal of the same precision and scale (the Avro specification)", () => {
    const decimal = (precision: number, scale: number) =>
      payments({ type: "bytes", logicalType: "decimal", precision, scale });
    const v1 = decimal(18, 2);
    const backward = (next: ReturnType<typeof payments>) =>
      checkCompatibility(next, v1, CompatibilityMode.Backward);
    expect(backward(decimal(18, 2))).toEqual({ compatible: true });
    expect(backward(decimal(18, 4)).reason).toMatch(
      /field "amount" is decimal\(18,2\) in the old schema but decimal\(18,4\) in the new one/,
    );
    expect(backward(decimal(20, 2)).compatible).toBe(false);
    // Avro lets a string read bytes; a decimal's bytes read as text would be garbage.
    expect(backward(payments({ type: "string" })).reason).toMatch(
      /field "amount" is decimal\(18,2\) in the old schema but string in the new one/,
    );
    expect(backward(payments({ type: "bytes" })).compatible).toBe(false);
    expect(
      backward(
        payments(["null", { type: "bytes", logicalType: "decimal", precision: 18, scale: 2 }] as never),
      ).compatible,
    ).toBe(true);
  });
});
