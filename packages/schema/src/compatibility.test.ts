import { describe, expect, it } from "vitest";
import type { AvroSchema } from "./avro-type.js";
import { CompatibilityMode, checkCompatibility, isCompatibilityMode } from "./compatibility.js";

function record(fields: object[], name = "clicks"): AvroSchema & { fields: object[] } {
  return { type: "record", name, fields } as AvroSchema & { fields: object[] };
}

const v1 = record([
  { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
  { name: "page", type: "string" },
  { name: "duration_ms", type: "int" },
  { name: "device", type: { type: "enum", name: "device", symbols: ["desktop", "mobile"] } },
]);
const addNullable = record([...v1.fields, { name: "campaign", type: ["null", "string"], default: null }]);
const addRequired = record([...v1.fields, { name: "campaign", type: "string" }]);
const removePage = record(v1.fields.filter((f) => (f as { name: string }).name !== "page"));

describe("checkCompatibility", () => {
  it("accepts adding a field with a default under BACKWARD (the default mode)", () => {
    expect(checkCompatibility(addNullable, v1)).toEqual({ compatible: true });
  });

  it("refuses adding a field without a default under BACKWARD, naming it", () => {
    const result = checkCompatibility(addRequired, v1, CompatibilityMode.Backward);
    expect(result.compatible).toBe(false);
    expect(result.reason).toBe(
      'not BACKWARD compatible: the new schema cannot read data written with the old one: field "campaign" is in the new schema but not in the old one, and has no default',
    );
  });

  it("accepts removing a field under BACKWARD but not under FORWARD", () => {
    expect(checkCompatibility(removePage, v1, CompatibilityMode.Backward).compatible).toBe(true);
    const forward = checkCompatibility(removePage, v1, CompatibilityMode.Forward);
    expect(forward.compatible).toBe(false);
    expect(forward.reason).toContain(
      'field "page" is in the old schema but not in the new one, and has no default',
    );
  });

  it("allows type promotion one way only", () => {
    const wider = record(
      v1.fields.map((f) => ((f as { name: string }).name === "duration_ms" ? { ...f, type: "long" } : f)),
    );
    expect(checkCompatibility(wider, v1, CompatibilityMode.Backward).compatible).toBe(true);
    const full = checkCompatibility(wider, v1, CompatibilityMode.Full);
    expect(full.compatible).toBe(false);
    expect(full.reason).toContain('field "duration_ms" is long in the new schema but int in the old one');
  });

  it("explains an incompatible type change", () => {
    const text = record(
      v1.fields.map((f) => ((f as { name: string }).name === "duration_ms" ? { ...f, type: "string" } : f)),
    );
    const result = checkCompatibility(text, v1);
    expect(result.reason).toContain(
      'field "duration_ms" is int in the old schema but string in the new one, which cannot read it',
    );
  });

  it("explains a removed enum symbol", () => {
    const fewer = record(
      v1.fields.map((f) =>
        (f as { name: string }).name === "device"
          ? { name: "device", type: { type: "enum", name: "device", symbols: ["desktop"] } }
          : f,
      ),
    );
    const result = checkCompatibility(fewer, v1);
    expect(result.compatible).toBe(false);
    expect(result.reason).toContain(
      'field "device": the old schema has symbol(s) mobile that the new one lacks',
    );
  });

  it("explains narrowing a nullable field to a required one", () => {
    const required = record([...v1.fields, { name: "campaign", type: "string", default: "none" }]);
    const result = checkCompatibility(required, addNullable);
    expect(result.reason).toContain(
      'field "campaign" is null or string in the old schema but string in the new one',
    );
  });

  it("explains a renamed record", () => {
    const result = checkCompatibility(record(v1.fields, "click"), v1);
    expect(result.reason).toContain(
      "the record is named clicks in the old schema but click in the new one (add an alias)",
    );
  });

  it("accepts anything under NONE", () => {
    expect(checkCompatibility(record([{ name: "x", type: "string" }]), v1, CompatibilityMode.None)).toEqual({
      compatible: true,
    });
  });

  it("knows its modes", () => {
    expect(isCompatibilityMode("FULL")).toBe(true);
    expect(isCompatibilityMode("full")).toBe(false);
  });
});
