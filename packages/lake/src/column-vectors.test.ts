import { describe, expect, it } from "vitest";
import { ColumnKind } from "./column-kind.js";
import { columnVectors, fitsColumn } from "./column-vectors.js";

describe("columnVectors", () => {
  const typeOf = (kind: ColumnKind, values: unknown[]) => columnVectors(kind, values).type.toString();

  it("stages a string column of few distinct values as an ENUM read back as VARCHAR", () => {
    const vectors = columnVectors(ColumnKind.String, ["b", "a", null, "b", "it's", ""]);
    expect(vectors.type.toString()).toBe("ENUM('b', 'a', 'it''s', '')");
    expect(vectors.read('"c0"')).toBe('CAST("c0" AS VARCHAR)');
  });

  it("stages other string columns as VARCHAR", () => {
    const many = Array.from({ length: 256 }, (_, i) => `v${i}`);
    expect(typeOf(ColumnKind.String, many)).toBe("VARCHAR");
    expect(typeOf(ColumnKind.String, ["x", "a\0b"])).toBe("VARCHAR");
    expect(typeOf(ColumnKind.String, ["x", "\ud800"])).toBe("VARCHAR");
    expect(typeOf(ColumnKind.String, [null, undefined])).toBe("VARCHAR");
    expect(typeOf(ColumnKind.String, ["x", 1])).toBe("VARCHAR"); // the VARCHAR path reports the 1
    expect(typeOf(ColumnKind.String, ["x".repeat(70_000)])).toBe("VARCHAR");
    expect(columnVectors(ColumnKind.String, many).read('"c0"')).toBe('"c0"');
  });

  it("stages every other kind in its fixed staging type", () => {
    expect(typeOf(ColumnKind.Json, ["a"])).toBe("VARCHAR");
    expect(typeOf(ColumnKind.Int, [1])).toBe("INTEGER");
    expect(typeOf(ColumnKind.Long, [1])).toBe("BIGINT");
    expect(typeOf(ColumnKind.TimestampMillis, [1])).toBe("BIGINT");
    expect(typeOf(ColumnKind.Date, [1])).toBe("INTEGER");
    expect(typeOf(ColumnKind.Double, [1])).toBe("DOUBLE");
    expect(typeOf(ColumnKind.Binary, [new Uint8Array(1)])).toBe("BLOB");
  });
});

describe("fitsColumn", () => {
  it("takes exactly what a column's vectors take, per kind", () => {
    const cases: [ColumnKind, unknown[], unknown[]][] = [
      [ColumnKind.String, ["", "é"], [1, Buffer.from("x")]],
      [ColumnKind.Int, [0, -(2 ** 31), 2 ** 31 - 1], [2 ** 31, 1.5, "1", 1n]],
      [ColumnKind.Long, [2 ** 53 - 1, -(2n ** 63n), 2n ** 63n - 1n], [2 ** 53, 2n ** 63n, 0.5, "1"]],
      [ColumnKind.TimestampMillis, [0, new Date(0), 1n], [1.5, "2024-01-01"]],
      [ColumnKind.Date, [19_844, new Date(0)], [1.5, "2024-01-01"]],
      [ColumnKind.Double, [Number.NaN, 1.5], ["1.5", true]],
      [ColumnKind.Boolean, [true, false], [0, "true"]],
      [ColumnKind.Binary, [new Uint8Array(1)], ["x"]],
      [ColumnKind.Json, [{ a: [1] }, [1n]], [undefined, () => 1]],
    ];
    for (const [kind, good, bad] of cases) {
      for (const v of good) expect([kind, v, fitsColumn(kind, v)]).toEqual([kind, v, true]);
      for (const v of bad) expect([kind, v, fitsColumn(kind, v)]).toEqual([kind, v, false]);
    }
  });
});
