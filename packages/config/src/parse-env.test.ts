import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, ConfigErrorCode } from "./config-error.js";
import { port, positiveInt } from "./fields.js";
import { parseEnv } from "./parse-env.js";

const schema = z.object({
  INLET_HTTP_PORT: port(8080),
  INLET_BATCH_SIZE: positiveInt(1000),
  INLET_MODE: z.enum(["fast", "safe"]).default("safe"),
  INLET_PG_PASSWORD: z.string().min(8).optional(),
});

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseEnv", () => {
  it("returns typed values with defaults for unset variables", () => {
    const config = parseEnv(schema, { INLET_BATCH_SIZE: "50", PATH: "/usr/bin" }, "collector");
    expect(config).toEqual({ INLET_HTTP_PORT: 8080, INLET_BATCH_SIZE: 50, INLET_MODE: "safe" });
  });

  it("treats empty values as unset", () => {
    const config = parseEnv(schema, { INLET_HTTP_PORT: "", INLET_MODE: "  " }, "collector");
    expect(config.INLET_HTTP_PORT).toBe(8080);
    expect(config.INLET_MODE).toBe("safe");
  });

  it("lists every problem, each as KEY: expected …, got …", () => {
    const env = { INLET_HTTP_PORT: "http", INLET_BATCH_SIZE: "0", INLET_MODE: "turbo" };
    const problems = problemsOf(() => parseEnv(schema, env, "collector"));
    expect(problems).toEqual([
      'INLET_HTTP_PORT: expected a TCP port (0-65535), got "http"',
      'INLET_BATCH_SIZE: expected an integer from 1 to 2147483647, got "0"',
      'INLET_MODE: expected one of "fast", "safe", got "turbo"',
    ]);
  });

  it("names the service and the code, and keeps the zod error as cause", () => {
    let error: unknown;
    try {
      parseEnv(schema, { INLET_HTTP_PORT: "x" }, "enricher");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.name).toBe("ConfigError");
    expect(configError.code).toBe(ConfigErrorCode.InvalidConfig);
    expect(configError.message).toBe(
      'invalid configuration for enricher:\n  INLET_HTTP_PORT: expected a TCP port (0-65535), got "x"',
    );
    expect(configError.cause).toBeInstanceOf(z.ZodError);
  });

  it("reports a missing required variable as not set", () => {
    const required = z.object({ INLET_PG_URL: z.string() });
    expect(problemsOf(() => parseEnv(required, {}, "cdc"))).toEqual([
      "INLET_PG_URL: expected string, got nothing (not set)",
    ]);
  });

  it("does not print values of variables that look like secrets", () => {
    const problems = problemsOf(() => parseEnv(schema, { INLET_PG_PASSWORD: "hunter2" }, "cdc"));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^INLET_PG_PASSWORD: expected .*, got a value \(hidden/);
    expect(problems[0]).not.toContain("hunter2");
  });

  it("shortens very long values", () => {
    const problems = problemsOf(() => parseEnv(schema, { INLET_HTTP_PORT: "9".repeat(500) }, "collector"));
    expect(problems[0]!.length).toBeLessThan(160);
  });
});
