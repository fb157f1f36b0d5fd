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
