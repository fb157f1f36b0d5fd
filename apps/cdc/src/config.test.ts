import { ConfigError } from "@inlet/config";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const base = { INLET_CDC_DATABASE_URL: "postgres://inlet@127.0.0.1:5432/shop" };

describe("the CDC source's configuration", () => {
  it("reads tables with or without a schema and a dataset", () => {
    const config = loadConfig({
      ...base,
      INLET_CDC_TABLES: "public.accounts=accounts, Orders, sales.line_items=items",
    });
    expect(config.INLET_CDC_TABLES).toEqual([
      { schema: "public", table: "accounts", dataset: "accounts" },
      { schema: "public", table: "Orders", dataset: "orders" },
      { schema: "sales", table: "line_items", dataset: "items" },
    ]);
    expect(config.INLET_CDC_SLOT).toBe("inlet");
    expect(config.INLET_CDC_PORT).toBe(8094);
  });

  it("names every problem: no URL, a bad entry, a dataset twice, a bad slot", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return "";
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(problems({ INLET_CDC_TABLES: "a" })).toContain("INLET_CDC_DATABASE_URL");
    expect(problems({ ...base, INLET_CDC_TABLES: "a.b.c" })).toContain('got "a.b.c"');
    expect(problems({ ...base, INLET_CDC_TABLES: "a=x, b=x" })).toContain('dataset "x" appears twice');
    expect(problems({ ...base, INLET_CDC_TABLES: "Weird-Name" })).toContain("INLET_CDC_TABLES");
    expect(problems({ ...base, INLET_CDC_TABLES: "a", INLET_CDC_SLOT: "Bad-Slot" })).toContain(
      "INLET_CDC_SLOT",
    );
    expect(problems({ ...base, INLET_CDC_TABLES: " , " })).toContain("names no table");
  });
});
