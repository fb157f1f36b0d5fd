import avsc from "avsc";
import { describe, expect, it } from "vitest";
import type { Join } from "./enrichment-config.js";
import { EnrichmentErrorCode } from "./enrichment-error.js";
import { compileJoin, type ReferenceRow } from "./join.js";

const record = avsc.Type.forSchema(
  {
    type: "record",
    name: "transactions",
    fields: [
      { name: "merchant_id", type: "string" },
      { name: "amount", type: "double" },
      { name: "merchant_name", type: ["null", "string"], default: null },
      { name: "merchant_category", type: ["null", "string"], default: null },
      { name: "merchant_found", type: ["null", "boolean"], default: null },
    ],
  },
  { wrapUnions: false },
) as avsc.types.RecordType;

const merchants = new Map<string, ReferenceRow>([
  ["m-0001", { name: "Corner Shop", category: "grocery", country: "DE" }],
]);
const join: Join = {
  table: "merchants",
  key: "merchant_id",
  set: { merchant_name: "name", merchant_category: "category" },
  foundField: "merchant_found",
};

describe("compileJoin", () => {
  it("copies the row's columns into the event and marks it found", () => {
    const enrich = compileJoin(join, record, "transactions", merchants);
    const event: Record<string, unknown> = { merchant_id: "m-0001", amount: 3 };
    expect(enrich(event)).toBe(true);
    expect(event).toEqual({
      merchant_id: "m-0001",
      amount: 3,
      merchant_name: "Corner Shop",
      merchant_category: "grocery",
      merchant_found: true,
    });
  });

  it("marks a miss: the fields null and found false, the event kept", () => {
    const enrich = compileJoin(join, record, "transactions", merchants);
    const event: Record<string, unknown> = {
      merchant_id: "m-9999",
      merchant_name: "stale",
      merchant_found: null,
    };
    expect(enrich(event)).toBe(false);
    expect(event).toEqual({
      merchant_id: "m-9999",
      merchant_name: null,
      merchant_category: null,
      merchant_found: false,
    });
  });

  it("treats a null key as a miss and a missing column as null", () => {
    const rows = new Map<string, ReferenceRow>([["m-2", { name: "No Category" }]]);
    const enrich = compileJoin(join, record, "transactions", rows);
    const partial: Record<string, unknown> = { merchant_id: "m-2" };
    expect(enrich(partial)).toBe(true);
    expect(partial.merchant_category).toBeNull();
    expect(enrich({ merchant_id: null })).toBe(false);
  });

  it("sees changes to the table at the next lookup", () => {
    const rows = new Map<string, ReferenceRow>();
    const enrich = compileJoin(join, record, "transactions", rows);
    expect(enrich({ merchant_id: "m-3" })).toBe(false);
    rows.set("m-3", { name: "New Shop", category: "cafe" });
    const event: Record<string, unknown> = { merchant_id: "m-3" };
    expect(enrich(event)).toBe(true);
    expect(event.merchant_name).toBe("New Shop");
  });

  it("refuses joins that name missing fields or fill fields that cannot be null", () => {
    const cases: Array<[Partial<Join>, RegExp]> = [
      [{ key: "merchant" }, /key field "merchant" is not in the schema/],
      [{ set: { merchant_city: "city" } }, /field "merchant_city" is not in the schema/],
      [{ set: { amount: "name" } }, /field "amount" must be a nullable field .* it is double/],
      [{ foundField: "merchant_name" }, /field "merchant_name" must be a nullable boolean field/],
    ];
    for (const [change, message] of cases) {
      const attempt = () => compileJoin({ ...join, ...change }, record, "transactions", merchants);
      expect(attempt).toThrow(message);
      expect(attempt).toThrow(expect.objectContaining({ code: EnrichmentErrorCode.SchemaMismatch }));
    }
  });
});
