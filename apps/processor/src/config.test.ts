import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("gives every key its default", () => {
    const config = loadConfig({});
    expect(config.INLET_PROCESSOR_PORT).toBe(8091);
    expect(config.INLET_PROCESSOR_CONCURRENCY).toBe(8);
    expect(config.INLET_PROCESSOR_MAX_ACK_PENDING).toBe(64);
    expect(config.INLET_PROCESSOR_MAX_DELIVERIES).toBe(5);
    expect(config.INLET_CONFIG_DIR).toBe("config");
  });

  it("lists every bad key", () => {
    expect(() => loadConfig({ INLET_PROCESSOR_PORT: "x", INLET_PROCESSOR_CONCURRENCY: "0" })).toThrow(
      /INLET_PROCESSOR_PORT: expected a TCP port[\s\S]*INLET_PROCESSOR_CONCURRENCY: expected an integer from 1 to 256/,
    );
  });
});
