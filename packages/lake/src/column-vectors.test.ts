import { describe, expect, it } from "vitest";
import { ColumnKind } from "./column-kind.js";
import { fitsColumn, prepareColumn, Utf8Column } from "./column-vectors.js";

/** A Utf8Column of `values` (null = NULL), their bytes back to back. */
function utf8Of(values: (string | null)[]): Utf8Column {
  const pieces = values.map((v) => (v === null ? null : Buffer.from(v, "utf8")));
  const bytes = Buffer.concat(pieces.filter((p) => p !== null));
  const starts = new Int32Array(values.length);
  const lengths = new Int32Array(values.length);
  let at = 0;
  pieces.forEach((p, i) => {
    starts[i] = at;
    lengths[i] = p === null ? -1 : p.length;
    at += p?.length ?? 0;
  });
  return new Utf8Column(bytes, starts, lengths);
}

describe("prepareColumn", () => {
  const typeOf = (kind: ColumnKind, values: unknown[]) =>
    prepareColumn(kind, values, "c", undefined, 1).type.toString();

  it("scans each kind as its staging type", () => {
    expect(typeOf(ColumnKind.String, ["a"])).toBe("VARCHAR");
    expect(typeOf(ColumnKind.Json, ["a"])).toBe("VARCHAR");
    expect(typeOf(ColumnKind.Int, [1])).toBe("INTEGER");
    expect(typeOf(ColumnKind.Long, [1])).toBe("BIGINT");
    expect(typeOf(ColumnKind.TimestampMillis, [1])).toBe("BIGINT");
    expect(typeOf(ColumnKind.Date, [1])).toBe("INTEGER");
    expect(typeOf(ColumnKind.Double, [1])).toBe("DOUBLE");
    expect(typeOf(ColumnKind.Float, [1])).toBe("FLOAT");
    expect(typeOf(ColumnKind.Boolean, [true])).toBe("BOOLEAN");
    expect(typeOf(ColumnKind.Binary, [new Uint8Array(1)])).toBe("BLOB");
    expect(prepareColumn(ColumnKind.String, utf8Of(["x"]), "c", undefined, 1).type.toString()).toBe(
      "VARCHAR",
    );
  });

  it("gathers each group's non-null count, min and max", () => {
    const groupOf = [0, 1, 0, 1, 0, 1];
    const stats = (kind: ColumnKind, values: unknown[]) =>
      prepareColumn(kind, values, "c", groupOf, 2).stats.map((s) => ({ ...s }));
    expect(stats(ColumnKind.Int, [3, 10, null, -4, 1, undefined])).toEqual([
      { nonNull: 2, min: 1, max: 3 },
      { nonNull: 2, min: -4, max: 10 },
    ]);
    // NaN sorts above every number in DuckDB: the group has no max, and min skips it.
    expect(stats(ColumnKind.Double, [Number.NaN, 2, 1.5, Number.NaN, -1, Number.NaN])).toEqual([
      { nonNull: 3, min: -1, max: undefined },
      { nonNull: 3, min: 2, max: undefined },
    ]);
    expect(stats(ColumnKind.Float, [0.1, null, null, null, null, null])[0]).toEqual({
      nonNull: 1,
      min: Math.fround(0.1),
      max: Math.fround(0.1),
    });
    expect(stats(ColumnKind.TimestampMillis, [5, 9n, new Date(2), null, 7, null])).toEqual([
      { nonNull: 3, min: 2n, max: 7n },
      { nonNull: 1, min: 9n, max: 9n },
    ]);
    expect(stats(ColumnKind.Long, [2n ** 62n, 1, -(2n ** 63n), 0, 5, 0])).toEqual([
      { nonNull: 3, min: -(2n ** 63n), max: 2n ** 62n },
      { nonNull: 3, min: 0n, max: 1n },
    ]);
    expect(stats(ColumnKind.Boolean, [true, false, null, true, false, true])).toEqual([
      { nonNull: 2, min: undefined, max: undefined },
      { nonNull: 3, min: undefined, max: undefined },
    ]);
    // Strings: counted here; their min and max come from the file DuckDB writes (parquet-writer.test.ts).
    expect(stats(ColumnKind.String, ["b", null, "a\ud800", "é", "ab", "\ud800"])).toEqual([
      { nonNull: 3, min: undefined, max: undefined },
      { nonNull: 2, min: undefined, max: undefined },
    ]);
    const utf8 = prepareColumn(ColumnKind.String, utf8Of(["b", "z", "", null, null, null]), "c", groupOf, 2);
    expect(utf8.stats).toEqual([
      { nonNull: 2, min: undefined, max: undefined },
      { nonNull: 1, min: undefined, max: undefined },
    ]);
  });

  it("names the column and row of the first value of the wrong type", () => {
    expect(() => prepareColumn(ColumnKind.Int, [1, 2 ** 31], "n", undefined, 1)).toThrow(
      'column "n" row 1: expected int, got 2147483648',
    );
    expect(() => prepareColumn(ColumnKind.String, ["a", 1], "s", undefined, 1)).toThrow(
      'column "s" row 1: expected string, got 1',
    );
    expect(() => prepareColumn(ColumnKind.Int, utf8Of(["1"]), "n", undefined, 1)).toThrow(
      'column "n" row 0: expected int, got UTF-8 text',
    );
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
