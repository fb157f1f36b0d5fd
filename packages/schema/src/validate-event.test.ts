import { describe, expect, it } from "vitest";
import { createAvroType } from "./avro-type.js";
import { validateEvent } from "./validate-event.js";

const transactions = createAvroType({
  type: "record",
  name: "transactions",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "transaction_id", type: "string" },
    { name: "amount", type: "double" },
    { name: "status", type: { type: "enum", name: "status", symbols: ["authorized", "captured"] } },
    { name: "is_test", type: "boolean", default: false },
    { name: "merchant_name", type: ["null", "string"], default: null },
    {
      name: "items",
      type: {
        type: "array",
        items: { type: "record", name: "item", fields: [{ name: "sku", type: "string" }] },
      },
      default: [],
    },
  ],
});

const good = { ts: "2024-05-01T10:00:00Z", transaction_id: "t-1", amount: 12.5, status: "captured" };

describe("validateEvent", () => {
  it("returns no issues for a valid event, with or without defaulted fields", () => {
    expect(validateEvent(transactions, good, "transactions@1")).toEqual([]);
    expect(
      validateEvent(transactions, { ...good, ts: 1, merchant_name: "Shop", is_test: true }, "transactions@1"),
    ).toEqual([]);
  });

  it("names the dataset, the field, the expected type and what came", () => {
    const issues = validateEvent(transactions, { ...good, amount: "12,5" }, "transactions@1");
    expect(issues).toEqual([
      {
        field: "amount",
        expected: "double",
        got: '"12,5"',
        message: 'dataset "transactions": field "amount" expected double, got "12,5"',
      },
    ]);
  });

  it("reports a missing required field as required", () => {
    const { transaction_id: _, ...missing } = good;
    const [issue] = validateEvent(transactions, missing, "transactions@1");
    expect(issue).toMatchObject({ field: "transaction_id", expected: "string", got: "undefined" });
    expect(issue?.message).toBe(
      'dataset "transactions": field "transaction_id" is required (expected string)',
    );
  });

  it("reports fields that are not in the schema", () => {
    const issues = validateEvent(transactions, { ...good, amount_eur: 12.5 }, "transactions@1");
    expect(issues).toEqual([
      {
        field: "amount_eur",
        expected: "no such field",
        got: "12.5",
        message: 'dataset "transactions": field "amount_eur" is not in schema transactions@1',
      },
    ]);
  });

  it("lists every problem of an event at once", () => {
    const bad = { ...good, ts: "soon", status: "pending", merchant_name: 7, extra: true };
    const issues = validateEvent(transactions, bad, "transactions@1");
    expect(issues.map((i) => i.message)).toEqual([
      'dataset "transactions": field "ts" expected timestamp-millis, got "soon"',
      'dataset "transactions": field "status" expected enum (authorized|captured), got "pending"',
      'dataset "transactions": field "merchant_name" expected null or string, got 7',
      'dataset "transactions": field "extra" is not in schema transactions@1',
    ]);
  });

  it("gives dotted paths inside arrays of records, including unknown nested fields", () => {
    const bad = { ...good, items: [{ sku: "a" }, { sku: 5 }, { sku: "c", colour: "red" }] };
    const issues = validateEvent(transactions, bad, "transactions@1");
    expect(issues.map((i) => [i.field, i.expected])).toEqual([
      ["items.1.sku", "string"],
      ["items.2.colour", "no such field"],
    ]);
  });

  it("reports a non-object event as a whole", () => {
    const [issue] = validateEvent(transactions, "hello", "transactions@1");
    expect(issue).toMatchObject({ field: "", expected: "record transactions", got: '"hello"' });
    expect(issue?.message).toBe('dataset "transactions": event expected record transactions, got "hello"');
  });

  it("truncates long values in messages", () => {
    const [issue] = validateEvent(transactions, { ...good, amount: "x".repeat(1000) }, "transactions");
    expect(issue!.got.length).toBeLessThanOrEqual(40);
    expect(issue!.got.endsWith("…")).toBe(true);
  });

  it("accepts a dataset name instead of a schema id", () => {
    const [issue] = validateEvent(transactions, { ...good, extra: 1 }, "transactions");
    expect(issue?.message).toBe('dataset "transactions": field "extra" is not in schema transactions');
  });

  it("caps the number of issues for absurd events", () => {
    const absurd: Record<string, number> = {};
    for (let i = 0; i < 500; i++) absurd[`f${i}`] = i;
    expect(validateEvent(transactions, { ...good, ...absurd }, "transactions@1").length).toBeLessThanOrEqual(
      20,
    );
  });
});
