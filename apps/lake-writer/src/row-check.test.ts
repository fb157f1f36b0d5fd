import type { AvroSchema } from "@inlet/schema";
import { describe, expect, it } from "vitest";
import { RowCheck } from "./row-check.js";

const schema: AvroSchema = {
  type: "record",
  name: "readings",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "sensor", type: "string" },
    { name: "value", type: "double" },
    { name: "count", type: "long" },
    { name: "note", type: ["null", "string"], default: null },
    { name: "tags", type: { type: "array", items: "string" } },
  ],
};

const good = { ts: 1_000, sensor: "s1", value: 1.5, count: 3, note: null, tags: ["a"] };

describe("RowCheck", () => {
  const check = new RowCheck("readings", schema, "ts");

  it("accepts an event the table can store", () => {
    expect(check.problem(good)).toBeUndefined();
  });

  it("names the field, the expected type and the value the lake would refuse", () => {
    expect(check.problem({ ...good, value: "12,5" })).toEqual({
      field: "value",
      expected: "double",
      got: "12,5",
      reason: 'dataset "readings": field "value" expected double, got "12,5"',
    });
    expect(check.problem({ ...good, count: 2 ** 60 })?.field).toBe("count");
    // A bigint is taken only while it fits a BIGINT column: the batch must never fail on one row.
    expect(check.problem({ ...good, count: 2n ** 62n })).toBeUndefined();
    expect(check.problem({ ...good, count: 2n ** 63n })?.field).toBe("count");
  });

  it("refuses a missing value in a non-null column but not in a nullable one", () => {
    expect(check.problem({ ...good, sensor: undefined })?.reason).toBe(
      'dataset "readings": field "sensor" expected string, got null',
    );
    expect(check.problem({ ...good, note: undefined })).toBeUndefined();
  });

  it("refuses an event time outside what a date partition can hold", () => {
    expect(check.problem({ ...good, ts: 8.64e15 })).toBeUndefined();
    expect(check.problem({ ...good, ts: -8.64e15 - 1 })?.field).toBe("ts");
  });
});
