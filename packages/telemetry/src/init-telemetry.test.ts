import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { context, isValidTraceId, propagation, SpanKind, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { initTelemetry, otlpTracesUrl, type Telemetry } from "./init-telemetry.js";
import { formatTraceparent, traceIdFromTraceparent, traceparentOfSpan } from "./trace-context.js";
import { withSpan } from "./with-span.js";

let telemetry: Telemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

/** A real HTTP server standing in for an OpenTelemetry collector: keeps each OTLP/JSON request body. */
async function startOtlpReceiver(): Promise<{ server: Server; url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url === "/v1/traces" && req.headers["content-type"]?.startsWith("application/json")) {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
    }
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  status?: { code?: number };
  events?: { name: string }[];
}

function exportedSpans(bodies: unknown[]): { services: string[]; spans: OtlpSpan[] } {
  const services: string[] = [];
  const spans: OtlpSpan[] = [];
  for (const body of bodies as {
    resourceSpans: {
      resource: { attributes: { key: string; value: { stringValue?: string } }[] };
      scopeSpans: { spans: OtlpSpan[] }[];
    }[];
  }[]) {
    for (const rs of body.resourceSpans) {
      const name = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue;
      if (name !== undefined) services.push(name);
      for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    }
  }
  return { services, spans };
}

describe("otlpTracesUrl", () => {
  it("appends /v1/traces to a base endpoint once", () => {
    expect(otlpTracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
    expect(otlpTracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces");
    expect(otlpTracesUrl("http://collector:4318/v1/traces")).toBe("http://collector:4318/v1/traces");
  });
});

describe("initTelemetry without an exporter", () => {
  it("still gives every root span a fresh valid trace id, unsampled and not recording", () => {
    telemetry = initTelemetry({ serviceName: "test" });
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const span = telemetry.tracer.startSpan("frame");
      const header = traceparentOfSpan(span);
      expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      const traceId = traceIdFromTraceparent(header);
      expect(isValidTraceId(traceId ?? "")).toBe(true);
      expect(span.isRecording()).toBe(false);
      ids.add(traceId ?? "");
      span.end();
    }
    expect(ids.size).toBe(1000);
  });

  it("keeps the trace of a received traceparent through withSpan, with the span active inside", async () => {
    telemetry = initTelemetry({ serviceName: "test" });
    const parent = telemetry.tracer.startSpan("upstream");
    const parentHeader = traceparentOfSpan(parent) ?? "";
    parent.end();
    const { tracer } = telemetry;
    const inner = await withSpan(
      tracer,
      "process",
      { parent: parentHeader, kind: SpanKind.CONSUMER },
      async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(trace.getSpan(context.active())).toBe(span);
        return span.spanContext();
      },
    );
    expect(inner.traceId).toBe(traceIdFromTraceparent(parentHeader));
    expect(formatTraceparent(inner)).not.toBe(parentHeader);
  });

  it("registers the W3C propagator globally", () => {
    telemetry = initTelemetry({ serviceName: "test" });
    const span = telemetry.tracer.startSpan("publish");
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), carrier);
    expect(carrier.traceparent).toBe(traceparentOfSpan(span));
    span.end();
  });

  it("can be initialised again after shutdown", async () => {
    const first = initTelemetry({ serviceName: "test" });
    await first.shutdown();
    telemetry = initTelemetry({ serviceName: "again" });
    expect(traceparentOfSpan(trace.getTracer("global").startSpan("x"))).toBeDefined();
  });
});

describe("initTelemetry with an OTLP endpoint", () => {
  it("exports sampled spans with service.name and their parent over OTLP/HTTP, flushed by shutdown", async () => {
    const receiver = await startOtlpReceiver();
    try {
      telemetry = initTelemetry({
        serviceName: "inlet-test",
        serviceVersion: "1.2.3",
        otlpEndpoint: receiver.url,
      });
      const { tracer } = telemetry;
      let parentHeader = "";
      await withSpan(tracer, "receive", { kind: SpanKind.CONSUMER }, async (span) => {
        parentHeader = traceparentOfSpan(span) ?? "";
        await withSpan(tracer, "publish", { kind: SpanKind.PRODUCER }, () => undefined);
      });
      await expect(
        withSpan(tracer, "fails", { parent: parentHeader }, () => {
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(parentHeader).toMatch(/-01$/);
      await telemetry.shutdown();

      const { services, spans } = exportedSpans(receiver.bodies);
      expect(new Set(services)).toEqual(new Set(["inlet-test"]));
      const byName = new Map(spans.map((s) => [s.name, s]));
      const receive = byName.get("receive");
      expect(receive?.traceId).toBe(traceIdFromTraceparent(parentHeader));
      expect(byName.get("publish")?.parentSpanId).toBe(receive?.spanId);
      const fails = byName.get("fails");
      expect(fails?.parentSpanId).toBe(receive?.spanId);
      expect(fails?.status?.code).toBe(2);
      expect(fails?.events?.map((e) => e.name)).toContain("exception");
    } finally {
      receiver.server.close();
    }
  });

  it("refuses a sample ratio outside 0–1", () => {
    expect(() =>
      initTelemetry({ serviceName: "x", otlpEndpoint: "http://127.0.0.1:1", sampleRatio: 2 }),
    ).toThrow(RangeError);
  });
});
