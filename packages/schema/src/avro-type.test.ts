import { describe, expect, it } from "vitest";
import { type AvroSchema, createAvroType, describeType, normalizedSchema } from "./avro-type.js";
import { SchemaError, SchemaErrorCode } from "./schema-error.js";

const schema = {
  type: "record",
  name: "clicks",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "referrer", type: ["null", "string"], default: null },
    { name: "device", type: { type: "enum", name: "device", symbols: ["desktop", "mobile"] } },
  ],
} as AvroSchema;

describe("createAvroType", () => {
  const type = createAvroType(schema);

  it("takes nullable unions as plain null or value", () => {
    expect(type.isValid({ ts: 1, referrer: null, device: "mobile" })).toBe(true);
    expect(type.isValid({ ts: 1, referrer: "https://example.com", device: "mobile" })).toBe(true);
    const decoded = type.fromBuffer(type.toBuffer({ ts: 1, referrer: "https://a.b", device: "desktop" }));
    expect(decoded.referrer).toBe("https://a.b");
  });

  it("writes ISO-8601 timestamps and decodes every timestamp as milliseconds", () => {
    const fromIso = type.fromBuffer(
      type.toBuffer({ ts: "2024-05-01T10:00:00Z", referrer: null, device: "mobile" }),
    );
    expect(fromIso.ts).toBe(Date.UTC(2024, 4, 1, 10));
    const fromMs = type.fromBuffer(
      type.toBuffer({ ts: 1_700_000_000_123, referrer: null, device: "mobile" }),
    );
    expect(fromMs.ts).toBe(1_700_000_000_123);
  });

  it("treats a bad timestamp string as invalid", () => {
    expect(type.isValid({ ts: "next tuesday", referrer: null, device: "mobile" })).toBe(false);
    expect(() => type.toBuffer({ ts: "next tuesday", referrer: null, device: "mobile" })).toThrow();
  });

  it("fills a missing field that has a default", () => {
    const decoded = type.fromBuffer(type.toBuffer({ ts: 5, device: "mobile" }));
    expect(decoded.referrer).toBeNull();
  });

  it("reads plain long data as a timestamp and timestamp data as plain long", () => {
    const plain = createAvroType({ type: "record", name: "clicks", fields: [{ name: "ts", type: "long" }] });
    const logical = createAvroType({
      type: "record",
      name: "clicks",
      fields: [{ name: "ts", type: { type: "long", logicalType: "timestamp-millis" } }],
    });
    const fromPlain = logical.fromBuffer(plain.toBuffer({ ts: 42 }), logical.createResolver(plain));
    expect(fromPlain.ts).toBe(42);
    const fromLogical = plain.fromBuffer(
      logical.toBuffer({ ts: "1970-01-01T00:00:01Z" }),
      plain.createResolver(logical),
    );
    expect(fromLogical.ts).toBe(1000);
  });

  it("throws SchemaError INVALID_SCHEMA on a broken schema", () => {
    expect(() =>
      createAvroType({ type: "record", name: "x", fields: [{ name: "a", type: "strng" }] }),
    ).toThrow(SchemaError);
    expect(() => createAvroType({ type: "recrd" } as never)).toThrow(
      expect.objectContaining({
        code: SchemaErrorCode.InvalidSchema,
        message: expect.stringMatching(/^invalid Avro schema: /),
      }),
    );
  });

  it("refuses ambiguous unions, which cannot be unwrapped", () => {
    expect(() => createAvroType(["int", "long"])).toThrow(/ambiguous/);
  });
});

describe("describeType", () => {
  it("names types the way error messages show them", () => {
    const type = createAvroType(schema);
    const fields = (type as unknown as { fields: Array<{ type: Parameters<typeof describeType>[0] }> })
      .fields;
    expect(fields.map((f) => describeType(f.type))).toEqual([
      "timestamp-millis",
      "null or string",
      "enum (desktop|mobile)",
    ]);
    expect(describeType(type)).toBe("record clicks");
    expect(describeType(createAvroType({ type: "array", items: "double" }))).toBe("array of double");
    expect(describeType(createAvroType({ type: "map", values: "int" }))).toBe("map of int");
  });
});

describe("normalizedSchema", () => {
  it("is the same for equal schemas written differently and differs when a default changes", () => {
    const a = createAvroType({ type: "record", name: "r", fields: [{ name: "x", type: "int", default: 1 }] });
    const b = createAvroType({ fields: [{ default: 1, type: "int", name: "x" }], name: "r", type: "record" });
    const c = createAvroType({ type: "record", name: "r", fields: [{ name: "x", type: "int", default: 2 }] });
    expect(normalizedSchema(a)).toBe(normalizedSchema(b));
    expect(normalizedSchema(a)).not.toBe(normalizedSchema(c));
  });

  it("keeps the timestamp-millis logical type", () => {
    expect(normalizedSchema(createAvroType(schema))).toContain('"logicalType":"timestamp-millis"');
  });
});
