import { createAvroType } from "@inlet/schema";
import avsc from "avsc";
import { describe, expect, it } from "vitest";
import { compileAll, compileCondition } from "./condition.js";
import type { Condition } from "./pipeline-config.js";
import { PipelineError, PipelineErrorCode } from "./pipeline-error.js";

const record = avsc.Type.forSchema(
  {
    type: "record",
    name: "t",
    fields: [
      { name: "amount", type: "double" },
      { name: "count", type: "int" },
      { name: "currency", type: "string" },
      { name: "note", type: ["null", "string"], default: null },
      { name: "is_test", type: "boolean" },
      { name: "status", type: { type: "enum", name: "s", symbols: ["ok", "failed"] } },
    ],
  },
  { wrapUnions: false },
) as avsc.types.RecordType;

const event = { amount: 12.5, count: 3, currency: "EUR", note: null, is_test: false, status: "ok" };
const check = (c: Condition, e: Record<string, unknown> = event) => compileCondition(c, record, "t")(e);

describe("compileCondition", () => {
  it("compares equality with eq and ne", () => {
    expect(check({ field: "currency", op: "eq", value: "EUR" })).toBe(true);
    expect(check({ field: "currency", op: "eq", value: "USD" })).toBe(false);
    expect(check({ field: "is_test", op: "ne", value: true })).toBe(true);
    expect(check({ field: "note", op: "eq", value: null })).toBe(true);
  });

  it("orders numbers and treats null as never matching", () => {
    expect(check({ field: "amount", op: "gt", value: 12 })).toBe(true);
    expect(check({ field: "amount", op: "gt", value: 12.5 })).toBe(false);
    expect(check({ field: "amount", op: "gte", value: 12.5 })).toBe(true);
    expect(check({ field: "count", op: "lt", value: 3 })).toBe(false);
    expect(check({ field: "count", op: "lte", value: 3 })).toBe(true);
    expect(check({ field: "amount", op: "gt", value: 0 }, { ...event, amount: null })).toBe(false);
  });

  it("checks membership with in and not_in", () => {
    expect(check({ field: "status", op: "in", value: ["ok"] })).toBe(true);
    expect(check({ field: "status", op: "not_in", value: ["ok", "failed"] })).toBe(false);
    expect(check({ field: "currency", op: "not_in", value: ["USD", "GBP"] })).toBe(true);
  });

  it("searches substrings with contains and not_contains, null containing nothing", () => {
    const ua = { ...event, note: "Mozilla/5.0 (compatible; Googlebot/2.1)" };
    expect(check({ field: "note", op: "contains", value: "bot" }, ua)).toBe(true);
    expect(check({ field: "note", op: "not_contains", value: "bot" }, ua)).toBe(false);
    expect(check({ field: "note", op: "not_contains", value: "bot" })).toBe(true);
  });

  it("keeps between inclusive of both bounds", () => {
    const between = compileCondition({ field: "amount", op: "between", min: -60, max: 100 }, record, "t");
    expect([-60.1, -60, 20, 100, 100.1].map((amount) => between({ amount }))).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
  });

  it("tells null from a value with exists and is_null", () => {
    expect(check({ field: "note", op: "exists" })).toBe(false);
    expect(check({ field: "note", op: "is_null" })).toBe(true);
    expect(check({ field: "note", op: "exists" }, { ...event, note: "x" })).toBe(true);
  });

  it("refuses a field that is not in the schema, naming the dataset and field", () => {
    const attempt = () => compileCondition({ field: "amout", op: "gt", value: 1 }, record, "transactions");
    expect(attempt).toThrow(PipelineError);
    expect(attempt).toThrow(
      /dataset "transactions": rule "gt" names field "amout", which is not in the schema/,
    );
  });

  it("refuses values that cannot match the field's type", () => {
    const cases: Condition[] = [
      { field: "amount", op: "eq", value: "12" },
      { field: "is_test", op: "eq", value: "true" },
      { field: "status", op: "in", value: ["ok", "unknown"] },
      { field: "currency", op: "gt", value: 3 },
      { field: "amount", op: "contains", value: "1" },
      { field: "currency", op: "between", min: 1, max: 2 },
    ];
    for (const c of cases) {
      expect(() => compileCondition(c, record, "t"), JSON.stringify(c)).toThrow(
        expect.objectContaining({ code: PipelineErrorCode.TypeMismatch }),
      );
    }
  });
});

describe("compileAll", () => {
  it("holds only when every condition holds, and always for an empty list", () => {
    const all = compileAll(
      [
        { field: "is_test", op: "eq", value: false },
        { field: "amount", op: "gt", value: 10 },
      ],
      record,
      "t",
    );
    expect(all(event)).toBe(true);
    expect(all({ ...event, amount: 5 })).toBe(false);
    expect(all({ ...event, is_test: true })).toBe(false);
    expect(compileAll([], record, "t")({})).toBe(true);
  });
});

describe("conditions on decimal fields", () => {
  const payments = createAvroType({
    type: "record",
    name: "payments",
    fields: [
      { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 18, scale: 2 } },
      {
        name: "fee",
        type: ["null", { type: "bytes", logicalType: "decimal", precision: 6, scale: 4 }],
        default: null,
      },
    ],
  } as never) as avsc.types.RecordType;
  // As the processor sees events: decoded from Avro, decimals are text at their scale.
  const decoded = (amount: string, fee: string | null = null) =>
    payments.fromBuffer(payments.toBuffer({ amount, fee })) as Record<string, unknown>;
  const holds = (c: Condition, e: Record<string, unknown>) => compileCondition(c, payments, "payments")(e);

  it("orders them exactly, whatever the digits of the rule's value", () => {
    const big = decoded("1000000000000000.01");
    expect(holds({ field: "amount", op: "gt", value: 10_000 }, big)).toBe(true);
    // 0.1 + 0.2 is not 0.3 in doubles; in decimals it is.
    expect(holds({ field: "amount", op: "gte", value: 0.3 }, decoded("0.30"))).toBe(true);
    expect(holds({ field: "amount", op: "lte", value: "0.3" }, decoded("0.30"))).toBe(true);
    expect(holds({ field: "amount", op: "gt", value: "1000000000000000.005" }, big)).toBe(true);
    expect(holds({ field: "amount", op: "gt", value: "1000000000000000.015" }, big)).toBe(false);
    expect(holds({ field: "amount", op: "lt", value: -0.005 }, decoded("-0.01"))).toBe(true);
    expect(holds({ field: "amount", op: "between", min: 1, max: 2 }, decoded("2.00"))).toBe(true);
    expect(holds({ field: "amount", op: "between", min: 1, max: 2 }, decoded("2.01"))).toBe(false);
    expect(holds({ field: "fee", op: "gt", value: 0 }, decoded("1.00"))).toBe(false);
    expect(holds({ field: "fee", op: "between", min: 0, max: 1 }, decoded("1.00"))).toBe(false);
  });

  it("compares equality with the rule's value at the field's scale", () => {
    expect(holds({ field: "amount", op: "eq", value: "10.5" }, decoded("10.50"))).toBe(true);
    expect(holds({ field: "amount", op: "eq", value: 10.5 }, decoded("10.50"))).toBe(true);
    expect(holds({ field: "amount", op: "in", value: [1, "10.500"] }, decoded("10.5"))).toBe(true);
    expect(holds({ field: "fee", op: "eq", value: null }, decoded("1"))).toBe(true);
  });

  it("refuses a value that is no decimal of the field, naming dataset, field and rule", () => {
    expect(() => holds({ field: "amount", op: "gt", value: "lots" }, decoded("1"))).toThrow(
      'dataset "payments": rule "gt" on field "amount" (decimal(18,2)) needs a decimal number, got "lots"',
    );
    expect(() => holds({ field: "amount", op: "eq", value: "10.505" }, decoded("1"))).toThrow(
      /rule "eq" on field "amount" \(decimal\(18,2\)\) needs a value of type decimal\(18,2\), got "10.505"/,
    );
    expect(() => holds({ field: "amount", op: "contains", value: "1" }, decoded("1"))).toThrow(PipelineError);
  });
});
