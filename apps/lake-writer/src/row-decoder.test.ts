import { encodeFrame } from "@inlet/bus";
import {
  avroColumns,
  ColumnKind,
  type ColumnValues,
  type CuratedColumns,
  type CuratedRow,
  Utf8Column,
} from "@inlet/lake";
import { type AvroSchema, createAvroType, type RegisteredSchema } from "@inlet/schema";
import { describe, expect, it } from "vitest";
import { AvroRowReader } from "./avro-row-reader.js";
import { ColumnsBuilder } from "./columns-builder.js";
import { RejectCode, type RejectedEvent, RowDecoder } from "./row-decoder.js";

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

/** A builder of the columns of `schema`'s table. */
function builderOf(schema: AvroSchema, capacity = 64): ColumnsBuilder {
  return new ColumnsBuilder(
    avroColumns(schema).map((c) => ({ name: c.name, kind: c.kind })),
    capacity,
  );
}

function valueAt(values: ColumnValues, row: number): unknown {
  return values instanceof Utf8Column ? values.at(row) : values[row];
}

/** The builder's rows, each as the event it holds (every column) and its lineage. */
function rowsOf(columns: CuratedColumns, names: readonly string[]): CuratedRow[] {
  return Array.from({ length: columns.rows }, (_, r) => ({
    event: Object.fromEntries(names.map((name, c) => [name, valueAt(columns.data[c]!, r)])),
    eventId: valueAt(columns.eventIds, r) as string,
    ingestedAt: columns.ingestedAts[r]!,
    traceId: (valueAt(columns.traceIds, r) as string | null) ?? "",
    schemaVersion: columns.schemaVersions[r]!,
  }));
}

function decode(decoder: RowDecoder, writer: RegisteredSchema, events: { id: string; payload: Buffer }[]) {
  const builder = builderOf(decoder.schema.schema);
  const rejected: RejectedEvent[] = [];
  const newest = decoder.decodeBody(
    Buffer.from(encodeFrame(events.map((e) => ({ ...e, ingestedAt: 1_700_000_000_123 })))),
    writer,
    trace,
    builder,
    rejected,
  );
  const names = builder.dataColumns.map((c) => c.name);
  return { rows: rowsOf(builder.columns(), names), rejected, newest };
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
    const columns = builderOf(v2, 4);
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
    const built = columns.columns();
    expect(built.data[0]).toEqual([1_000, 2_000, 3_000]);
    expect(built.data[2]).toEqual([1, 4, 2]);
    expect(
      [built.data[1], built.data[3], built.eventIds, built.traceIds].every((c) => c instanceof Utf8Column),
    ).toBe(true);
    expect(rowsOf(built, ["ts", "item", "qty", "coupon"])).toEqual([
      {
        event: { ts: 1_000, item: "pen", qty: 1, coupon: null },
        eventId: "a",
        ingestedAt: 10,
        traceId: "",
        schemaVersion: 1,
      },
      {
        event: { ts: 2_000, item: "ink", qty: 4, coupon: null },
        eventId: "b",
        ingestedAt: 11,
        traceId: "",
        schemaVersion: 1,
      },
      {
        event: { ts: 3_000, item: "cap", qty: 2, coupon: "x" },
        eventId: "c",
        ingestedAt: 12,
        traceId: trace,
        schemaVersion: 2,
      },
    ]);
    expect(built.ingestedAts).toEqual(Float64Array.of(10, 11, 12));
    expect(built.schemaVersions).toEqual(Int32Array.of(1, 1, 2));
  });
});

describe("ColumnsBuilder.reuse", () => {
  it("starts an empty batch in the same memory, sharing no bytes with the last", () => {
    const decoder = new RowDecoder(s2, "ts");
    const builder = builderOf(v2, 4);
    const frame = (item: string) =>
      Buffer.from(
        encodeFrame([
          {
            id: `id-${item}`,
            ingestedAt: 1,
            payload: s2.type.toBuffer({ ts: 1, item, qty: 1, coupon: null }),
          },
        ]),
      );
    decoder.decodeBody(frame("first item"), s2, trace, builder, []);
    const names = ["ts", "item", "qty", "coupon"];
    expect(rowsOf(builder.columns(), names).map((r) => [r.eventId, r.event.item, r.traceId])).toEqual([
      ["id-first item", "first item", trace],
    ]);
    expect(builder.reuse(builder.dataColumns, 5)).toBe(false); // more rows than it was made for
    expect(builder.reuse([{ name: "ts", kind: ColumnKind.TimestampMillis }], 1)).toBe(false);
    expect(builder.reuse(builder.dataColumns, 4)).toBe(true);
    expect(builder.rows).toBe(0);
    decoder.decodeBody(frame("second"), s2, trace, builder, []);
    decoder.decodeBody(frame("third"), s2, trace, builder, []);
    expect(rowsOf(builder.columns(), names).map((r) => [r.eventId, r.event.item, r.traceId])).toEqual([
      ["id-second", "second", trace],
      ["id-third", "third", trace],
    ]);
  });
});

describe("AvroRowReader", () => {
  const wide: AvroSchema = {
    type: "record",
    name: "wide",
    namespace: "test",
    fields: [
      { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
      { name: "us", type: ["null", { type: "long", logicalType: "timestamp-micros" }], default: null },
      { name: "day", type: { type: "int", logicalType: "date" } },
      { name: "s", type: "string" },
      { name: "maybe", type: ["string", "null"] },
      { name: "kind", type: { type: "enum", name: "kind", symbols: ["a", "bb", "ccc"] } },
      { name: "again", type: ["null", "kind"], default: null },
      { name: "n", type: "int" },
      { name: "big", type: "long" },
      { name: "f", type: "float" },
      { name: "d", type: ["null", "double"], default: null },
      { name: "ok", type: "boolean" },
      { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 38, scale: 2 } },
      {
        name: "rate",
        type: [
          "null",
          { type: "fixed", name: "rate", size: 6, logicalType: "decimal", precision: 12, scale: 5 },
        ],
        default: null,
      },
    ],
  } as AvroSchema;
  const schema = registered(wide, 1);
  const amounts = [
    "0.00",
    "-0.01",
    "1.28",
    "-1.29",
    "123456789012345678901234567890123456.78",
    "-99999999.99",
  ];
  const reader = () => AvroRowReader.for(wide, builderOf(wide), "ts")!;
  const texts = ["", "x", "twelve bytes", "thirteen byte", "é😀 ünïcödé", "a\u0000b", "long ".repeat(40)];
  const eventOf = (i: number) => ({
    ts: 1_700_000_000_000 + i,
    us: i % 3 === 0 ? null : 1_700_000_000_000_000 + i,
    day: 19_000 + i,
    s: texts[i % texts.length]!,
    maybe: i % 2 === 0 ? null : texts[(i + 3) % texts.length]!,
    kind: ["a", "bb", "ccc"][i % 3]!,
    again: i % 4 === 0 ? null : ["a", "bb", "ccc"][(i + 1) % 3]!,
    n: i % 2 === 0 ? -(2 ** 31) + i : 2 ** 31 - 1 - i,
    big: i % 2 === 0 ? 2 ** 52 - 1 - i : -(2 ** 52) + i,
    f: Math.fround(i / 7),
    d: i % 5 === 0 ? null : i * -1.5,
    ok: i % 2 === 0,
    amount: amounts[i % amounts.length]!,
    rate: i % 3 === 1 ? null : `${i % 2 === 0 ? "-" : ""}${i * 1234 + 1}.${String(i * 7).padStart(5, "0")}`,
  });

  it("reads every type it takes exactly as avsc decodes it", () => {
    const n = 50;
    const events = Array.from({ length: n }, (_, i) => ({
      id: `id-${i}-é`,
      ingestedAt: 10 + i,
      payload: schema.type.toBuffer(eventOf(i)),
    }));
    const body = Buffer.from(encodeFrame(events));
    expect(reader()).toBeDefined();
    // The byte reader (the table's own version), and avsc through ColumnsBuilder.add.
    const fast = builderOf(wide);
    const rejected: RejectedEvent[] = [];
    const newest = new RowDecoder(schema, "ts").decodeBody(body, schema, trace, fast, rejected);
    const slow = builderOf(wide);
    for (const e of events) slow.add(schema.type.fromBuffer(e.payload), e.id, e.ingestedAt, trace, 1);
    const names = fast.dataColumns.map((c) => c.name);
    expect(rejected).toEqual([]);
    expect(newest).toBe(1_700_000_000_000 + n - 1);
    const fastRows = rowsOf(fast.columns(), names);
    expect(fastRows).toEqual(rowsOf(slow.columns(), names));
    expect(fastRows.map((r) => r.event)).toEqual(events.map((_, i) => eventOf(i)));
  });

  it("gives up on what only avsc words right, keeping nothing of the event", () => {
    const good = schema.type.toBuffer(eventOf(1));
    const builder = builderOf(wide);
    const r = reader();
    const body = Buffer.concat([good, Buffer.from("id")]);
    const id = { start: good.length, end: good.length + 2 };
    const tryRead = (payload: Buffer) => {
      const b = Buffer.concat([payload, Buffer.from("id")]);
      return r.read(b, 0, payload.length, builder, payload.length, payload.length + 2, 0, "", 1);
    };
    // Text that is not UTF-8: the first string is the 4th field, after two varints and an int.
    const badText = Buffer.from(good);
    const sAt = good.indexOf(Buffer.from("x"));
    badText[sAt] = 0xff;
    const boolAt = good.length - 1;
    const badBool = Buffer.from(good);
    badBool[boolAt] = 2;
    for (const payload of [
      badText,
      badBool,
      good.subarray(0, good.length - 1), // truncated
      Buffer.concat([good, Buffer.from([0])]), // trailing data
      Buffer.concat([Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]), good.subarray(6)]), // ts beyond 2^53
      schema.type.toBuffer({ ...eventOf(1), big: 2 ** 53 - 2 }), // a long avsc sums inexactly
    ]) {
      expect(tryRead(payload)).toBeNaN();
    }
    expect(builder.rows).toBe(0);
    expect(r.read(body, 0, good.length, builder, id.start, id.end, 5, "", 1)).toBe(eventOf(1).ts);
    expect(
      rowsOf(
        builder.columns(),
        builder.dataColumns.map((c) => c.name),
      )[0]?.event,
    ).toEqual(eventOf(1));
  });

  it("takes no schema with a field it does not read", () => {
    const nested = {
      type: "record",
      name: "r",
      fields: [
        { name: "a", type: "string" },
        { name: "inner", type: { type: "record", name: "i", fields: [{ name: "x", type: "int" }] } },
      ],
    } as AvroSchema;
    expect(AvroRowReader.for(nested, builderOf(nested), "a")).toBeUndefined();
    const bytes = { type: "record", name: "b", fields: [{ name: "raw", type: "bytes" }] } as AvroSchema;
    expect(AvroRowReader.for(wide, builderOf(wide), "ts")).toBeDefined();
    expect(AvroRowReader.for(bytes, builderOf(bytes), "raw")).toBeUndefined();
  });

  it("leaves a column no field fills NULL", () => {
    const fewer = { type: "record", name: "orders", fields: v2.fields.slice(0, 3) } as AvroSchema;
    const builder = builderOf(v2);
    const r = AvroRowReader.for(fewer, builder, "ts")!;
    const payload = createAvroType(fewer).toBuffer({ ts: 5, item: "pen", qty: 1 });
    const body = Buffer.concat([payload, Buffer.from("e")]);
    expect(r.read(body, 0, payload.length, builder, payload.length, payload.length + 1, 0, "", 1)).toBe(5);
    expect(rowsOf(builder.columns(), ["ts", "item", "qty", "coupon"])[0]?.event).toEqual({
      ts: 5,
      item: "pen",
      qty: 1,
      coupon: null,
    });
  });
});
