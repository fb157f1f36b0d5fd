import { createHash } from "node:crypto";
import { createAvroType } from "@inlet/schema";
import avsc from "avsc";
import { describe, expect, it } from "vitest";
import type { Transform } from "./pipeline-config.js";
import { PipelineErrorCode } from "./pipeline-error.js";
import { compileTransform, compileTransforms, round } from "./transform.js";
import { TransformError } from "./transform-error.js";

const record = avsc.Type.forSchema(
  {
    type: "record",
    name: "t",
    fields: [
      { name: "amount", type: "double" },
      { name: "duration_ms", type: "int" },
      { name: "currency", type: "string" },
      { name: "note", type: ["null", "string"], default: null },
      { name: "battery", type: ["null", "double"], default: null },
      { name: "status", type: { type: "enum", name: "s", symbols: ["ok", "failed"] } },
    ],
  },
  { wrapUnions: false },
) as avsc.types.RecordType;

function apply(t: Transform, e: Record<string, unknown>): Record<string, unknown> {
  compileTransform(t, record, "t")(e);
  return e;
}

describe("compileTransform", () => {
  it("changes string case and trims, leaving null alone", () => {
    expect(apply({ field: "currency", op: "uppercase" }, { currency: "eur" }).currency).toBe("EUR");
    expect(apply({ field: "note", op: "lowercase" }, { note: "/Products/42" }).note).toBe("/products/42");
    expect(apply({ field: "note", op: "trim" }, { note: "  x \n" }).note).toBe("x");
    expect(apply({ field: "note", op: "uppercase" }, { note: null }).note).toBeNull();
  });

  it("hashes a string to its sha256 hex digest", () => {
    const expected = createHash("sha256").update("user-1").digest("hex");
    expect(apply({ field: "currency", op: "hash" }, { currency: "user-1" }).currency).toBe(expected);
  });

  it("rounds to the given digits, halves away from zero", () => {
    expect(apply({ field: "amount", op: "round", digits: 2 }, { amount: 12.3456 }).amount).toBe(12.35);
    expect(apply({ field: "amount", op: "round", digits: 2 }, { amount: 1.005 }).amount).toBe(1.01);
    expect(apply({ field: "amount", op: "round", digits: 1 }, { amount: -2.25 }).amount).toBe(-2.3);
    expect(apply({ field: "amount", op: "round", digits: 0 }, { amount: 2.5 }).amount).toBe(3);
    expect(round(-0.01, 10)).toBe(0);
    expect(Object.is(round(-0.01, 10), -0)).toBe(false);
  });

  it("clamps into bounds", () => {
    const clamp: Transform = { field: "amount", op: "clamp", min: 0, max: 100 };
    expect([-5, 50, 500].map((amount) => apply(clamp, { amount }).amount)).toEqual([0, 50, 100]);
  });

  it("scales by multiply then add", () => {
    expect(apply({ field: "amount", op: "scale", multiply: 1.8, add: 32 }, { amount: 100 }).amount).toBe(212);
    expect(
      apply({ field: "duration_ms", op: "scale", multiply: 1000, add: 0 }, { duration_ms: 5 }).duration_ms,
    ).toBe(5000);
  });

  it("throws a TransformError naming the field when an int would overflow", () => {
    const scale = compileTransform(
      { field: "duration_ms", op: "scale", multiply: 1000, add: 0 },
      record,
      "clicks",
    );
    const attempt = () => scale({ duration_ms: 3_000_000 });
    expect(attempt).toThrow(TransformError);
    expect(attempt).toThrow('dataset "clicks": field "duration_ms" expected int after scale, got 3000000000');
  });

  it("sets a value, and defaults only a null one", () => {
    expect(apply({ field: "note", op: "set", value: null }, { note: "x" }).note).toBeNull();
    expect(apply({ field: "battery", op: "default", value: 100 }, { battery: null }).battery).toBe(100);
    expect(apply({ field: "battery", op: "default", value: 100 }, { battery: 42 }).battery).toBe(42);
  });

  it("refuses transforms whose result does not fit the field", () => {
    const cases: Transform[] = [
      { field: "amount", op: "uppercase" },
      { field: "status", op: "lowercase" },
      { field: "currency", op: "round", digits: 2 },
      { field: "duration_ms", op: "scale", multiply: 1.5, add: 0 },
      { field: "duration_ms", op: "clamp", min: 0.5, max: 10 },
      { field: "currency", op: "set", value: null },
      { field: "amount", op: "default", value: "zero" },
      { field: "status", op: "set", value: "unknown" },
    ];
    for (const t of cases) {
      expect(() => compileTransform(t, record, "t"), JSON.stringify(t)).toThrow(
        expect.objectContaining({ code: PipelineErrorCode.TypeMismatch }),
      );
    }
  });

  it("refuses a field that is not in the schema", () => {
    expect(() => compileTransform({ field: "nope", op: "trim" }, record, "t")).toThrow(
      expect.objectContaining({ code: PipelineErrorCode.UnknownField }),
    );
  });
});

describe("compileTransforms", () => {
  it("applies transforms in order", () => {
    const all = compileTransforms(
      [
        { field: "amount", op: "scale", multiply: 2, add: 0 },
        { field: "amount", op: "round", digits: 0 },
        { field: "currency", op: "trim" },
        { field: "currency", op: "uppercase" },
      ],
      record,
      "t",
    );
    const event = { amount: 1.3, currency: " eur " };
    all(event);
    expect(event).toEqual({ amount: 3, currency: "EUR" });
  });
});

describe("transforms of decimal fields", () => {
  const payments = createAvroType({
    type: "record",
    name: "payments",
    fields: [
      {
        name: "fee",
        type: ["null", { type: "bytes", logicalType: "decimal", precision: 6, scale: 2 }],
        default: null,
      },
    ],
  } as never) as avsc.types.RecordType;
  const run = (t: Transform, e: Record<string, unknown>) => {
    compileTransform(t, payments, "payments")(e);
    return e;
  };

  it("sets and defaults the value as events hold it, at the field's scale", () => {
    expect(run({ field: "fee", op: "set", value: 1.5 }, { fee: "9.99" })).toEqual({ fee: "1.50" });
    expect(run({ field: "fee", op: "default", value: "0" }, { fee: null })).toEqual({ fee: "0.00" });
    expect(run({ field: "fee", op: "default", value: "0" }, { fee: "3.00" })).toEqual({ fee: "3.00" });
  });

  it("rounds half away from zero and clamps, exactly, keeping the field's scale", () => {
    expect(run({ field: "fee", op: "round", digits: 1 }, { fee: "12.35" })).toEqual({ fee: "12.40" });
    expect(run({ field: "fee", op: "round", digits: 1 }, { fee: "-12.35" })).toEqual({ fee: "-12.40" });
    expect(run({ field: "fee", op: "round", digits: 1 }, { fee: "12.34" })).toEqual({ fee: "12.30" });
    expect(run({ field: "fee", op: "round", digits: 0 }, { fee: "-0.49" })).toEqual({ fee: "0.00" });
    expect(run({ field: "fee", op: "round", digits: 5 }, { fee: "1.01" })).toEqual({ fee: "1.01" });
    expect(run({ field: "fee", op: "round", digits: 0 }, { fee: null })).toEqual({ fee: null });
    expect(run({ field: "fee", op: "clamp", min: 0, max: 99.5 }, { fee: "-0.01" })).toEqual({ fee: "0.00" });
    expect(run({ field: "fee", op: "clamp", min: 0, max: 99.5 }, { fee: "99.51" })).toEqual({ fee: "99.50" });
    expect(run({ field: "fee", op: "clamp", min: 0, max: 99.5 }, { fee: "12.34" })).toEqual({ fee: "12.34" });
  });

  it("refuses what would not be exact, naming the field", () => {
    expect(() => run({ field: "fee", op: "scale", multiply: 1.1, add: 0 }, { fee: "1.00" })).toThrow(
      /rule "scale" on field "fee" \(decimal\(6,2\) or null\) needs a numeric field/,
    );
    expect(() => run({ field: "fee", op: "clamp", min: 0, max: 0.005 }, { fee: "1.00" })).toThrow(
      /rule "clamp" on field "fee" \(decimal\(6,2\) or null\) needs a value of type decimal\(6,2\) or null, got 0.005/,
    );
  });
});
