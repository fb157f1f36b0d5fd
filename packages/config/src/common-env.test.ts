import { describe, expect, it } from "vitest";
import { z } from "zod";
import { commonEnv } from "./common-env.js";
import { ConfigError } from "./config-error.js";
import { durationMs } from "./fields.js";
import { parseEnv } from "./parse-env.js";

describe("commonEnv", () => {
  it("has working defaults for a laptop", () => {
    expect(parseEnv(commonEnv, {}, "test")).toEqual({
      INLET_NATS_URL: ["nats://127.0.0.1:4222"],
      INLET_STREAM_REPLICAS: 1,
      INLET_LOG_LEVEL: "info",
      INLET_CONFIG_DIR: "config",
      INLET_LAKE_DIR: "lake",
    });
  });

  it("reads a cluster setup", () => {
    const env = {
      INLET_NATS_URL: "nats://n1:4222,nats://n2:4222,nats://n3:4222",
      INLET_STREAM_REPLICAS: "3",
      INLET_LOG_LEVEL: "debug",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318",
      INLET_LAKE_DIR: "/data/lake",
    };
    const config = parseEnv(commonEnv, env, "test");
    expect(config.INLET_NATS_URL).toHaveLength(3);
    expect(config.INLET_STREAM_REPLICAS).toBe(3);
    expect(config.INLET_LOG_LEVEL).toBe("debug");
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel:4318");
    expect(config.INLET_LAKE_DIR).toBe("/data/lake");
  });

  it("rejects more than five replicas, unknown log levels and a bad OTLP endpoint together", () => {
    const env = { INLET_STREAM_REPLICAS: "7", INLET_LOG_LEVEL: "loud", OTEL_EXPORTER_OTLP_ENDPOINT: "otel" };
    let error: unknown;
    try {
      parseEnv(commonEnv, env, "test");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.split(":")[0])).toEqual([
      "INLET_STREAM_REPLICAS",
      "INLET_LOG_LEVEL",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]);
  });

  it("is extended by services with their own keys", () => {
    const serviceEnv = commonEnv.extend({ INLET_FLUSH_INTERVAL: durationMs(5000), INLET_NAME: z.string() });
    const config = parseEnv(serviceEnv, { INLET_FLUSH_INTERVAL: "2s", INLET_NAME: "w1" }, "lake-writer");
    expect(config.INLET_FLUSH_INTERVAL).toBe(2000);
    expect(config.INLET_NAME).toBe("w1");
    expect(config.INLET_LOG_LEVEL).toBe("info");
  });
});
