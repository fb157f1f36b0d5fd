import { ConfigError } from "@inlet/config";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("has defaults for every writer setting", () => {
    const config = loadConfig({});
    expect(config.INLET_LAKE_WRITER_PORT).toBe(8093);
    expect(config.INLET_WRITER_DATASETS).toBeUndefined();
    expect(config.INLET_WRITER_MAX_ROWS).toBe(50_000);
    expect(config.INLET_WRITER_MAX_BYTES).toBe(1_572_864);
    expect(config.INLET_WRITER_DUCKDB_MEMORY).toBe("64MB");
    expect(config.INLET_WRITER_DUCKDB_THREADS).toBe(1);
    expect(config.INLET_WRITER_FLUSH_MS).toBe(5_000);
    expect(config.INLET_WRITER_ACK_WAIT_MS).toBe(30_000);
    expect(config.INLET_WRITER_MAX_ACK_PENDING).toBe(500);
    expect(config.INLET_RAW_ENABLED).toBe(true);
    expect(config.INLET_WRITER_TARGET_FILE_BYTES).toBe(128 * 1024 * 1024);
    expect(config.INLET_WRITER_COMPACT_INTERVAL_MS).toBe(600_000);
    expect(config.INLET_WRITER_COMPACT_MIN_FILES).toBe(20);
    expect(config.INLET_WRITER_VACUUM_INTERVAL_MS).toBe(3_600_000);
    expect(config.INLET_WRITER_VACUUM_RETENTION_MS).toBe(7 * 24 * 3_600_000);
  });

  it("turns compaction and vacuum off with an interval of 0", () => {
    const config = loadConfig({
      INLET_WRITER_COMPACT_INTERVAL_MS: "0",
      INLET_WRITER_VACUUM_INTERVAL_MS: "0",
    });
    expect(config.INLET_WRITER_COMPACT_INTERVAL_MS).toBe(0);
    expect(config.INLET_WRITER_VACUUM_INTERVAL_MS).toBe(0);
  });

  it("refuses a vacuum retention under an hour and compaction of fewer than 2 files", () => {
    let error: unknown;
    try {
      loadConfig({ INLET_WRITER_VACUUM_RETENTION_MS: "10m", INLET_WRITER_COMPACT_MIN_FILES: "1" });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).problems.map((p) => p.split(":")[0])).toEqual([
      "INLET_WRITER_COMPACT_MIN_FILES",
      "INLET_WRITER_VACUUM_RETENTION_MS",
    ]);
  });

  it("derives the ack wait from a long flush interval", () => {
    expect(loadConfig({ INLET_WRITER_FLUSH_MS: "20s" }).INLET_WRITER_ACK_WAIT_MS).toBe(80_000);
  });

  it("reads a dataset split and explicit bounds", () => {
    const config = loadConfig({
      INLET_WRITER_DATASETS: "clicks, transactions",
      INLET_WRITER_MAX_ROWS: "5000",
      INLET_WRITER_FLUSH_MS: "250ms",
      INLET_WRITER_ACK_WAIT_MS: "2s",
      INLET_RAW_ENABLED: "false",
    });
    expect(config.INLET_WRITER_DATASETS).toEqual(["clicks", "transactions"]);
    expect(config.INLET_WRITER_MAX_ROWS).toBe(5000);
    expect(config.INLET_WRITER_FLUSH_MS).toBe(250);
    expect(config.INLET_WRITER_ACK_WAIT_MS).toBe(2000);
    expect(config.INLET_RAW_ENABLED).toBe(false);
  });

  it("lists every bad key at once", () => {
    let error: unknown;
    try {
      loadConfig({ INLET_WRITER_DATASETS: "Clicks", INLET_WRITER_MAX_ROWS: "0" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.split(":")[0])).toEqual([
      "INLET_WRITER_DATASETS",
      "INLET_WRITER_MAX_ROWS",
    ]);
  });

  it("refuses an ack wait shorter than two flush intervals", () => {
    expect(() => loadConfig({ INLET_WRITER_FLUSH_MS: "5s", INLET_WRITER_ACK_WAIT_MS: "6s" })).toThrow(
      /INLET_WRITER_ACK_WAIT_MS: expected an ack wait of at least twice INLET_WRITER_FLUSH_MS/,
    );
  });

  it("takes DuckDB's memory limit as a size, and refuses anything else", () => {
    expect(loadConfig({ INLET_WRITER_DUCKDB_MEMORY: "256MiB" }).INLET_WRITER_DUCKDB_MEMORY).toBe("256MiB");
    expect(() => loadConfig({ INLET_WRITER_DUCKDB_MEMORY: "lots" })).toThrow(
      /INLET_WRITER_DUCKDB_MEMORY: expected a size such as 64MB or 1GiB/,
    );
  });

  it("takes DuckDB's threads per statement as a positive integer", () => {
    expect(loadConfig({ INLET_WRITER_DUCKDB_THREADS: "2" }).INLET_WRITER_DUCKDB_THREADS).toBe(2);
    expect(() => loadConfig({ INLET_WRITER_DUCKDB_THREADS: "0" })).toThrow(/INLET_WRITER_DUCKDB_THREADS/);
  });
});
