import { createAvroType } from "@inlet/schema";
import { describe, expect, it } from "vitest";
import { CaptureError, changeSchema, lsnToNumber } from "./change-schema.js";
import { PgType } from "./pg-value.js";

const source = { database: "shop", schema: "public", table: "accounts" };

describe("changeSchema", () => {
  it("makes key columns required and the rest nullable, then _op, _lsn and _committed_at", () => {
    const schema = changeSchema(
      "accounts",
      source,
      [
        { name: "id", typeOid: PgType.Int8, typeMod: -1 },
        { name: "owner", typeOid: 25, typeMod: -1 },
      ],
      ["id"],
    );
    const type = createAvroType(schema);
    // A delete carries the key alone.
    const bytes = type.toBuffer({ id: 7, _op: "d", _lsn: 1, _committed_at: 0 });
    expect(type.fromBuffer(bytes)).toMatchObject({ id: 7, owner: null, _op: "d" });
    expect((schema as unknown as Record<string, unknown>)["inlet.cdc"]).toEqual({
      source: "shop.public.accounts",
      key: ["id"],
    });
  });

  it("refuses a table without a key and columns the lake cannot take, naming them", () => {
    const id = { name: "id", typeOid: PgType.Int4, typeMod: -1 };
    expect(() => changeSchema("a", source, [id], [])).toThrow(/has no primary key/);
    expect(() =>
      changeSchema("a", source, [id, { name: "my col", typeOid: 25, typeMod: -1 }], ["id"]),
    ).toThrow(CaptureError);
    expect(() => changeSchema("a", source, [id, { name: "_op", typeOid: 25, typeMod: -1 }], ["id"])).toThrow(
      /clashes/,
    );
    expect(() =>
      changeSchema(
        "a",
        source,
        [id, { name: "Name", typeOid: 25, typeMod: -1 }, { name: "name", typeOid: 25, typeMod: -1 }],
        ["id"],
      ),
    ).toThrow(/differ only by case/);
  });
});

describe("lsnToNumber", () => {
  it("reads both halves", () => {
    expect(lsnToNumber("0/1974818")).toBe(0x1974818);
    expect(lsnToNumber("16/B374D848")).toBe(0x16 * 2 ** 32 + 0xb374d848);
  });
});
