import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { initTelemetry, type Telemetry } from "./init-telemetry.js";
import { createLogger } from "./logger.js";
import { withSpan } from "./with-span.js";

/** A destination that keeps every JSON line pino writes. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

let telemetry: Telemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

describe("createLogger", () => {
  it("writes JSON lines with the level name, time and service, and no trace ids outside a span", () => {
    const out = capture();
    const logger = createLogger({ service: "collector", destination: out.stream });
    logger.info({ dataset: "clicks" }, "frame published");
    logger.debug("hidden at info");
    const [line, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      level: "info",
      service: "collector",
      dataset: "clicks",
      msg: "frame published",
    });
    expect(typeof line?.time).toBe("string");
    expect(line).not.toHaveProperty("trace_id");
  });

  it("adds the active span's trace_id and span_id", async () => {
    telemetry = initTelemetry({ serviceName: "test" });
    const out = capture();
    const logger = createLogger({ service: "processor", level: "debug", destination: out.stream });
    const ids = await withSpan(telemetry.tracer, "process", {}, async (span) => {
      await Promise.resolve();
      logger.debug("frame processed");
      return span.spanContext();
    });
    expect(out.lines()[0]).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, level: "debug" });
  });

  it("logs an error with its cause chain and codes", () => {
    const out = capture();
    const logger = createLogger({ service: "x", destination: out.stream });
    const cause = Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" });
    logger.error({ err: new Error("cannot connect to nats", { cause }) }, "service failed to start");
    const err = out.lines()[0]?.err as { message: string; cause: { message: string; code: string } };
    expect(err.message).toBe("cannot connect to nats");
    expect(err.cause).toMatchObject({ message: "connection refused", code: "ECONNREFUSED" });
  });
});
