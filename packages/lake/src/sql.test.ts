import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { quoteIdent, quoteString } from "./sql.js";

describe("quoteIdent / quoteString", () => {
  it("doubles embedded quotes", () => {
    expect(quoteIdent('my "col"')).toBe('"my ""col"""');
    expect(quoteString("it's")).toBe("'it''s'");
  });

  it("refuses NUL, which would cut the statement short", () => {
    expect(() => quoteIdent("a\0b")).toThrow(TypeError);
    expect(() => quoteString("a\0b")).toThrow(TypeError);
  });

  it("round-trips awkward names and values through DuckDB", async () => {
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const name = `we"ird 'name'; DROP TABLE x; --`;
      const value = `o'clock "quoted" \\ back`;
      const reader = await connection.runAndReadAll(`SELECT ${quoteString(value)} AS ${quoteIdent(name)}`);
      expect(reader.columnNames()).toEqual([name]);
      expect(reader.getRows()).toEqual([[value]]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
