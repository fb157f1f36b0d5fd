import { decodeFrame, encodeFrame } from "@inlet/bus";
import { type AvroSchema, createAvroType, type RegisteredSchema } from "@inlet/schema";
import { describe, expect, it } from "vitest";
import { parseBody } from "./body.js";
import { RejectCode, validateBatch } from "./validate-batch.js";

const schemaJson = {
  type: "record",
  name: "payments",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "amount", type: "double" },
    { name: "note", type: ["null", "string"], default: null },
  ],
} as AvroSchema;
const schema: RegisteredSchema = {
  id: "payments@1",
  dataset: "payments",
  version: 1,
  schema: schemaJson,
  type: createAvroType(schemaJson),
};

const parse = (text: string) =>
  parseBody(new TextEncoder().encode(text), undefined, { maxBytes: 2_000_000, maxEvents: 100 });

describe("validateBatch", () => {
  it("encodes valid events with their ids and the ingest time", () => {
    const batch = validateBatch(
      parse('[{"_event_id":"p-1","ts":1700000000000,"amount":12.5,"note":null}]'),
      schema,
      42,
    );
    expect(batch.rejected.size).toBe(0);
    expect(batch.ids).toEqual(["p-1"]);
    expect(batch.validIndex).toEqual([0]);
    const [event] = decodeFrame(encodeFrame(batch.valid));
    expect(event?.id).toBe("p-1");
    expect(event?.ingestedAt).toBe(42);
    expect(schema.type.fromBuffer(Buffer.from(event!.payload))).toEqual({
      ts: 1700000000000,
      amount: 12.5,
      note: null,
    });
  });

  it("accepts an ISO-8601 timestamp and assigns an id when none is given", () => {
    const batch = validateBatch(parse('{"ts":"2024-01-02T03:04:05Z","amount":1}'), schema, 1);
    expect(batch.rejected.size).toBe(0);
    expect(batch.ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(schema.type.fromBuffer(Buffer.from(batch.valid[0]!.payload))).toMatchObject({ ts: 1704164645000 });
  });

  it("rejects a schema mismatch with field, expected and got, keeping the event id", () => {
    const batch = validateBatch(
      parse('[{"ts":1,"amount":1},{"_event_id":"bad","ts":1,"amount":"12,5"}]'),
      schema,
      1,
    );
    expect(batch.validIndex).toEqual([0]);
    const rejection = batch.rejected.get(1);
    expect(rejection?.id).toBe("bad");
    expect(rejection?.code).toBe(RejectCode.SchemaMismatch);
    expect(rejection?.errors[0]).toEqual({
      field: "amount",
      expected: "double",
      got: '"12,5"',
      message: 'dataset "payments": field "amount" expected double, got "12,5"',
    });
    expect(rejection?.event).toEqual({ ts: 1, amount: "12,5" });
  });

  it("rejects non-objects, bad event ids and malformed lines, each on its own", () => {
    const batch = validateBatch(
      parse('[1]\n{"_event_id":7,"ts":1,"amount":1}\n{"ts":\n{"ts":1,"amount":2}'),
      schema,
      1,
    );
    expect(batch.validIndex).toEqual([3]);
    expect(batch.rejected.get(0)).toMatchObject({
      code: RejectCode.NotAnObject,
      errors: [{ field: "", expected: "object", got: "[1]" }],
    });
    expect(batch.rejected.get(1)).toMatchObject({
      id: undefined,
      code: RejectCode.InvalidEventId,
      errors: [{ field: "_event_id", got: "7" }],
    });
    const malformed = batch.rejected.get(2);
    expect(malformed?.code).toBe(RejectCode.MalformedJson);
    expect(malformed?.event).toBe('{"ts":');
    expect(malformed?.errors[0]?.message).toBe(
      'dataset "payments": malformed JSON at line 3, column 7: unexpected end of input, expected a JSON value',
    );
  });

  it("rejects an event too large for a frame", () => {
    const batch = validateBatch(
      parse(JSON.stringify({ ts: 1, amount: 1, note: "x".repeat(950_000) })),
      schema,
      1,
    );
    expect(batch.rejected.get(0)?.code).toBe(RejectCode.EventTooLarge);
    expect(batch.valid).toHaveLength(0);
  });
});
