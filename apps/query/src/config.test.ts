import { ConfigError } from "@inlet/config";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("defaults every query key", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      INLET_LAKE_DIR: "lake",
      INLET_QUERY_PORT: 8082,
      INLET_QUERY_HOST: "0.0.0.0",
      INLET_QUERY_MAX_ROWS: 100_000,
      INLET_QUERY_TIMEOUT_MS: 30_000,
      INLET_QUERY_MAX_CONCURRENT: 4,
    });
    expect(config.INLET_QUERY_MEMORY_LIMIT).toBeUndefined();
    expect(config.INLET_QUERY_THREADS).toBeUndefined();
    expect(config.INLET_QUERY_TEMP_DIR).toBeUndefined();
  });

  it("reads durations with units and DuckDB sizes", () => {
    const config = loadConfig({
      INLET_QUERY_TIMEOUT_MS: "5s",
      INLET_QUERY_MEMORY_LIMIT: "512MB",
      INLET_QUERY_THREADS: "2",
    });
    expect(config.INLET_QUERY_TIMEOUT_MS).toBe(5000);
    expect(config.INLET_QUERY_MEMORY_LIMIT).toBe("512MB");
    expect(config.INLET_QUERY_THREADS).toBe(2);
  });

  it("lists every bad key at once", () => {
    let error: unknown;
    try {
      loadConfig({ INLET_QUERY_PORT: "http", INLET_QUERY_MAX_ROWS: "0", INLET_QUERY_MEMORY_LIMIT: "lots" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toContain('INLET_QUERY_PORT: expected a TCP port (0-65535), got "http"');
    expect(problems).toContain('INLET_QUERY_MAX_ROWS: expected an integer from 1 to 2147483647, got "0"');
    expect(problems).toContain('INLET_QUERY_MEMORY_LIMIT: expected a size such as 512MB or 2GB, got "lots"');
  });
});
