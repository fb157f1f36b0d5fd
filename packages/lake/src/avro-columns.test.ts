import { describe, expect, it } from "vitest";
import { type AvroSchema, avroColumns } from "./avro-columns.js";
import { ColumnKind } from "./column-kind.js";
import { LakeSchemaError } from "./errors.js";

describe("avroColumns", () => {
  it("maps each Avro type to a column kind, nullable unions included", () => {
    const schema = {
      type: "record",
      name: "Reading",
      namespace: "inlet.demo",
      fields: [
        { name: "ts", type: { type: "long", logicalType: "timestamp-millis" }, doc: "When." },
        { name: "us", type: ["null", { type: "long", logicalType: "timestamp-micros" }] },
        { name: "day", type: { type: "int", logicalType: "date" } },
        { name: "s", type: "string" },
        { name: "i", type: "int" },
        { name: "l", type: { type: "long" } },
        { name: "f", type: "float" },
        { name: "d", type: ["null", "double"] },
        { name: "b", type: "boolean" },
        { name: "raw", type: "bytes" },
        { name: "kind", type: { type: "enum", name: "Kind", symbols: ["A", "B"] } },
        { name: "again", type: "Kind" },
        { name: "qualified", type: ["inlet.demo.Kind", "null"] },
        { name: "hash", type: { type: "fixed", name: "Hash", size: 4 } },
        { name: "where", type: { type: "record", name: "Place", fields: [{ name: "x", type: "double" }] } },
        { name: "tags", type: { type: "array", items: "string" } },
        { name: "attrs", type: ["null", { type: "map", values: "long" }] },
        { name: "either", type: ["null", "string", "long"] },
      ],
    } as AvroSchema;
    expect(avroColumns(schema)).toEqual([
      { name: "ts", kind: ColumnKind.TimestampMillis, nullable: false, doc: "When." },
      { name: "us", kind: ColumnKind.TimestampMicros, nullable: true },
      { name: "day", kind: ColumnKind.Date, nullable: false },
      { name: "s", kind: ColumnKind.String, nullable: false },
      { name: "i", kind: ColumnKind.Int, nullable: false },
      { name: "l", kind: ColumnKind.Long, nullable: false },
      { name: "f", kind: ColumnKind.Float, nullable: false },
      { name: "d", kind: ColumnKind.Double, nullable: true },
      { name: "b", kind: ColumnKind.Boolean, nullable: false },
      { name: "raw", kind: ColumnKind.Binary, nullable: false },
      { name: "kind", kind: ColumnKind.String, nullable: false },
      { name: "again", kind: ColumnKind.String, nullable: false },
      { name: "qualified", kind: ColumnKind.String, nullable: true },
      { name: "hash", kind: ColumnKind.Binary, nullable: false },
      { name: "where", kind: ColumnKind.Json, nullable: false },
      { name: "tags", kind: ColumnKind.Json, nullable: false },
      { name: "attrs", kind: ColumnKind.Json, nullable: true },
      { name: "either", kind: ColumnKind.Json, nullable: true },
    ]);
  });

  it("refuses a schema that is not a record, or names an unknown type", () => {
    expect(() => avroColumns("string")).toThrow(LakeSchemaError);
    expect(() =>
      avroColumns({ type: "record", name: "r", fields: [{ name: "a", type: "Nope" }] } as AvroSchema),
    ).toThrow('field "a": unknown Avro type "Nope"');
  });
});
