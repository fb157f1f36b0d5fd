import { ROOT_CONTEXT, type SpanContext, TraceFlags, trace } from "@opentelemetry/api";
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import {
  contextFromTraceparent,
  formatTraceparent,
  linkFromTraceparent,
  parseTraceparent,
  traceIdFromTraceparent,
  traceparentOfSpan,
} from "./trace-context.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const HEADER = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe("parseTraceparent / formatTraceparent", () => {
  it("round-trips a sampled and an unsampled traceparent", () => {
    for (const header of [HEADER, `00-${TRACE_ID}-${SPAN_ID}-00`]) {
      const spanContext = parseTraceparent(header);
      expect(spanContext).toBeDefined();
      expect(formatTraceparent(spanContext as SpanContext)).toBe(header);
    }
  });

  it("reads the ids, the flags, and marks the context remote", () => {
    expect(parseTraceparent(HEADER)).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags).toBe(TraceFlags.NONE);
  });

  it("accepts a later version with extra fields after a dash", () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-future`)?.traceId).toBe(TRACE_ID);
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01`)?.spanId).toBe(SPAN_ID);
  });

  it.each([
    ["missing", undefined],
    ["null", null],
    ["empty", ""],
    ["all-zero trace id", `00-${"0".repeat(32)}-${SPAN_ID}-01`],
    ["all-zero span id", `00-${TRACE_ID}-${"0".repeat(16)}-01`],
    ["uppercase hex", `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ["version ff", `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ["version 00 with trailing data", `${HEADER}-extra`],
    ["later version with trailing data not after a dash", `01-${TRACE_ID}-${SPAN_ID}-01x`],
    ["short trace id", `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
    ["non-hex span id", `00-${TRACE_ID}-00f067aa0ba902bz-01`],
    ["non-hex flags", `00-${TRACE_ID}-${SPAN_ID}-0g`],
    ["wrong separator", `00_${TRACE_ID}-${SPAN_ID}-01`],
    ["garbage", "not a traceparent at all, but long enough to pass the length check"],
  ])("rejects a %s header", (_, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
    expect(traceIdFromTraceparent(header)).toBeUndefined();
  });

  it("formats the flags byte as two lowercase hex digits", () => {
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0xab })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-ab`,
    );
  });
});

describe("traceIdFromTraceparent", () => {
  it("returns the 32-hex trace id of a valid header", () => {
    expect(traceIdFromTraceparent(HEADER)).toBe(TRACE_ID);
  });
});

describe("contextFromTraceparent", () => {
  it("starts a child span of the span named by the header", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer("test");
    const span = tracer.startSpan("child", {}, contextFromTraceparent(HEADER, ROOT_CONTEXT));
    span.end();
    const [finished] = exporter.getFinishedSpans();
    expect(finished?.spanContext().traceId).toBe(TRACE_ID);
    expect(finished?.spanContext().spanId).not.toBe(SPAN_ID);
    expect(finished?.parentSpanContext?.spanId).toBe(SPAN_ID);
    expect(finished?.parentSpanContext?.isRemote).toBe(true);
    await provider.shutdown();
  });

  it("returns the base context unchanged for an invalid header", () => {
    expect(contextFromTraceparent("bogus", ROOT_CONTEXT)).toBe(ROOT_CONTEXT);
    expect(trace.getSpan(contextFromTraceparent(undefined, ROOT_CONTEXT))).toBeUndefined();
  });
});

describe("traceparentOfSpan", () => {
  it("formats a valid span and refuses a no-op span", () => {
    expect(traceparentOfSpan(trace.wrapSpanContext(parseTraceparent(HEADER) as SpanContext))).toBe(HEADER);
    expect(
      traceparentOfSpan(trace.wrapSpanContext({ traceId: "0".repeat(32), spanId: SPAN_ID, traceFlags: 0 })),
    ).toBe(undefined);
  });
});

describe("linkFromTraceparent", () => {
  it("links to the span named by the header, with attributes", () => {
    expect(linkFromTraceparent(HEADER, { "messaging.message.id": "clicks:1" })).toEqual({
      context: { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true },
      attributes: { "messaging.message.id": "clicks:1" },
    });
    expect(linkFromTraceparent("nope")).toBeUndefined();
  });
});
