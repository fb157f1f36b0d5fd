import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("gives every key its default", () => {
    const config = loadConfig({});
    expect(config.INLET_ENRICHER_PORT).toBe(8092);
    expect(config.INLET_ENRICHER_CONCURRENCY).toBe(8);
    expect(config.INLET_ENRICHER_MAX_ACK_PENDING).toBe(64);
    expect(config.INLET_ENRICHER_MAX_DELIVERIES).toBe(5);
    expect(config.INLET_ENRICHER_LOAD_REFERENCE).toBe(true);
    expect(config.INLET_ENRICHER_MAX_REFERENCE_ENTRIES).toBe(100_000);
  });

  it("reads booleans and lists every bad key", () => {
    expect(loadConfig({ INLET_ENRICHER_LOAD_REFERENCE: "false" }).INLET_ENRICHER_LOAD_REFERENCE).toBe(false);
    expect(() =>
      loadConfig({ INLET_ENRICHER_LOAD_REFERENCE: "maybe", INLET_ENRICHER_MAX_REFERENCE_ENTRIES: "0" }),
    ).toThrow(
      /INLET_ENRICHER_LOAD_REFERENCE: expected true or false[\s\S]*INLET_ENRICHER_MAX_REFERENCE_ENTRIES: expected an integer/,
    );
  });
});
