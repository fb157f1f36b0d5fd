import { encodeFrame } from "@inlet/bus";
import type { CuratedRow } from "@inlet/lake";
import { type AvroSchema, createAvroType, type RegisteredSchema } from "@inlet/schema";
import { describe, expect, it } from "vitest";
import { ColumnsBuilder, RejectCode, type RejectedEvent, RowDecoder } from "./row-decoder.js";

const v1: AvroSchema = {
  type: "record",
  name: "orders",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "item", type: "string" },
    { name: "qty", type: "int" },
  ],
};
const v2: AvroSchema = {
  type: "record",
  name: "orders",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "item", type: "string" },
    { name: "qty", type: "int" },
    { name: "coupon", type: ["null", "string"], default: null },
  ],
};

function registered(schema: AvroSchema, version: number): RegisteredSchema {
  return { id: `orders@${version}`, dataset: "orders", version, schema, type: createAvroType(schema) };
}

const s1 = registered(v1, 1);
const s2 = registered(v2, 2);
const trace = "4bf92f3577b34da6a3ce929d0e0e4736";

function decode(decoder: RowDecoder, writer: RegisteredSchema, events: { id: string; payload: Buffer }[]) {
  const rows: CuratedRow[] = [];
  const sink = {
    add: (
      event: Record<string, unknown>,
      eventId: string,
      ingestedAt: number,
      traceId: string,
      schemaVersion: number,
    ) => rows.push({ event, eventId, ingestedAt, traceId, schemaVersion }),
  };
  const rejected: RejectedEvent[] = [];
  const newest = decoder.decodeBody(
    Buffer.from(encodeFrame(events.map((e) => ({ ...e, ingestedAt: 1_700_000_000_123 })))),
    writer,
    trace,
    sink,
    rejected,
  );
  return { rows, rejected, newest };
}

describe("RowDecoder", () => {
  it("decodes events of the table's version with their lineage", () => {
    const decoder = new RowDecoder(s2, "ts");
    const payload = s2.type.toBuffer({ ts: 1_700_000_000_000, item: "pen", qty: 2, coupon: "x" });
    const { rows, rejected, newest } = decode(decoder, s2, [{ id: "e1", payload }]);
    expect(rejected).toEqual([]);
    expect(rows).toEqual([
      {
        event: { ts: 1_700_000_000_000, item: "pen", qty: 2, coupon: "x" },
        eventId: "e1",
        ingestedAt: 1_700_000_000_123,
        traceId: trace,
        schemaVersion: 2,
      },
    ]);
    expect(newest).toBe(1_700_000_000_000);
  });

  it("reads an older version under the newest schema, missing fields null, keeping the old version number", () => {
    const decoder = new RowDecoder(s2, "ts");
    const a = s1.type.toBuffer({ ts: 1_000, item: "pen", qty: 1 });
    const b = s1.type.toBuffer({ ts: 3_000, item: "ink", qty: 5 });
    const { rows, newest } = decode(decoder, s1, [
      { id: "a", payload: a },
      { id: "b", payload: b },
    ]);
    expect(rows.map((r) => r.event)).toEqual([
      { ts: 1_000, item: "pen", qty: 1, coupon: null },
      { ts: 3_000, item: "ink", qty: 5, coupon: null },
    ]);
    expect(rows.map((r) => r.schemaVersion)).toEqual([1, 1]);
    expect(newest).toBe(3_000);
  });

  it("rejects an undecodable payload and keeps the rest of the frame", () => {
    const decoder = new RowDecoder(s1, "ts");
    const good = s1.type.toBuffer({ ts: 1_000, item: "pen", qty: 1 });
    const { rows, rejected } = decode(decoder, s1, [
      { id: "bad", payload: Buffer.from([0xff]) },
      { id: "good", payload: good },
    ]);
    expect(rows.map((r) => r.eventId)).toEqual(["good"]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ eventId: "bad", code: RejectCode.Undecodable, event: "/w==" });
    expect(rejected[0]?.reason).toMatch(/^dataset "orders": event is not Avro of orders@1/);
  });

  it("rejects a payload with bytes to spare or too few, reading the next event right", () => {
    const decoder = new RowDecoder(s1, "ts");
    const good = s1.type.toBuffer({ ts: 1_000, item: "pen", qty: 1 });
    const { rows, rejected } = decode(decoder, s1, [
      { id: "long", payload: Buffer.concat([good, Buffer.from([0x02])]) },
      { id: "short", payload: good.subarray(0, 3) },
      { id: "good", payload: good },
    ]);
    expect(rows.map((r) => [r.eventId, r.event])).toEqual([["good", { ts: 1_000, item: "pen", qty: 1 }]]);
    expect(rejected.map((r) => [r.eventId, r.reason.split(": ").at(-1)])).toEqual([
      ["long", "trailing data"],
      ["short", "truncated buffer"],
    ]);
  });

  it("rejects an event time the lake cannot place in a partition", () => {
    const decoder = new RowDecoder(s1, "ts");
    const farFuture = s1.type.toBuffer({ ts: 9_000_000_000_000_000, item: "pen", qty: 1 });
    const { rows, rejected } = decode(decoder, s1, [{ id: "late", payload: farFuture }]);
    expect(rows).toEqual([]);
    expect(rejected).toEqual([
      expect.objectContaining({
        eventId: "late",
        code: RejectCode.Unwritable,
        field: "ts",
        got: 9_000_000_000_000_000,
        reason:
          'dataset "orders": field "ts" expected a timestamp between the years -271821 and 275760, got 9000000000000000',
      }),
    ]);
  });

  it("refuses a writer schema the table's schema cannot read", () => {
    const other = registered(
      { type: "record", name: "orders", fields: [{ name: "qty", type: "string" }] } as AvroSchema,
      3,
    );
    const decoder = new RowDecoder(s1, "ts");
    expect(() => decode(decoder, other, [{ id: "x", payload: other.type.toBuffer({ qty: "1" }) }])).toThrow();
    expect(() => decoder.check(other)).toThrow();
    expect(() => decoder.check(s1)).not.toThrow();
  });
});

describe("ColumnsBuilder", () => {
  it("gathers decoded rows as the table's columns, a missing trace as null", () => {
    const decoder = new RowDecoder(s2, "ts");
    const columns = new ColumnsBuilder(["ts", "item", "qty", "coupon"], 4);
    const events = [
      { id: "a", ingestedAt: 10, payload: s1.type.toBuffer({ ts: 1_000, item: "pen", qty: 1 }) },
      { id: "b", ingestedAt: 11, payload: s1.type.toBuffer({ ts: 2_000, item: "ink", qty: 4 }) },
    ];
    decoder.decodeBody(Buffer.from(encodeFrame(events)), s1, "", columns, []);
    const v2Event = {
      id: "c",
      ingestedAt: 12,
      payload: s2.type.toBuffer({ ts: 3_000, item: "cap", qty: 2, coupon: "x" }),
    };
    decoder.decodeBody(Buffer.from(encodeFrame([v2Event])), s2, trace, columns, []);
    expect(columns.columns()).toEqual({
      rows: 3,
      data: [
        [1_000, 2_000, 3_000],
        ["pen", "ink", "cap"],
        [1, 4, 2],
        [null, null, "x"],
      ],
      eventIds: ["a", "b", "c"],
      ingestedAts: Float64Array.of(10, 11, 12),
      traceIds: [null, null, trace],
      schemaVersions: Int32Array.of(1, 1, 2),
    });
  });
});
