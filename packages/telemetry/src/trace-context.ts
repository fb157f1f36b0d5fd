import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  type Span,
  type SpanContext,
  trace,
} from "@opentelemetry/api";

/** The W3C trace context header name (lowercase, as HTTP/2 and NATS carry it). */
export const TRACEPARENT_HEADER = "traceparent";

// "00-" + 32 hex trace id + "-" + 16 hex span id + "-" + 2 hex flags.
const TRACEPARENT_LENGTH = 55;
const TRACE_ID_START = 3;
const TRACE_ID_END = 35;
const SPAN_ID_START = 36;
const SPAN_ID_END = 52;
const FLAGS_START = 53;
const DASH = 0x2d;

// Two lowercase hex digits for every flags byte, built once so formatting allocates only the result.
const FLAG_HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The value of a lowercase hex digit, or -1 (W3C trace context allows lowercase only). */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/** True when `s[start, end)` is lowercase hex and not all zeros (an all-zero id is invalid). */
function isNonZeroHex(s: string, start: number, end: number): boolean {
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const v = hexValue(s.charCodeAt(i));
    if (v < 0) return false;
    if (v !== 0) nonZero = true;
  }
  return nonZero;
}

/**
 * The trace flags of a well-formed traceparent, or -1. Checks by character code, without a regex or
 * substrings, because every frame on every stage goes through here.
 */
function checkTraceparent(header: string): number {
  const length = header.length;
  if (length < TRACEPARENT_LENGTH) return -1;
  const v0 = hexValue(header.charCodeAt(0));
  const v1 = hexValue(header.charCodeAt(1));
  if (v0 < 0 || v1 < 0) return -1;
  const version = v0 * 16 + v1;
  if (version === 0xff) return -1;
  // Version 00 has exactly this length; a later version may append fields after a dash.
  if (
    version === 0
      ? length !== TRACEPARENT_LENGTH
      : length > TRACEPARENT_LENGTH && header.charCodeAt(55) !== DASH
  ) {
    return -1;
  }
  if (
    header.charCodeAt(2) !== DASH ||
    header.charCodeAt(TRACE_ID_END) !== DASH ||
    header.charCodeAt(SPAN_ID_END) !== DASH
  ) {
    return -1;
  }
  if (!isNonZeroHex(header, TRACE_ID_START, TRACE_ID_END)) return -1;
  if (!isNonZeroHex(header, SPAN_ID_START, SPAN_ID_END)) return -1;
  const f0 = hexValue(header.charCodeAt(FLAGS_START));
  const f1 = hexValue(header.charCodeAt(FLAGS_START + 1));
  if (f0 < 0 || f1 < 0) return -1;
  return f0 * 16 + f1;
}

/**
 * Parses a W3C `traceparent` header into a remote span context; undefined when it is missing,
 * malformed, uses uppercase hex, or carries an all-zero trace or span id. `tracestate` is not read.
 */
export function parseTraceparent(header: string | undefined | null): SpanContext | undefined {
  if (typeof header !== "string") return undefined;
  const traceFlags = checkTraceparent(header);
  if (traceFlags < 0) return undefined;
  return {
    traceId: header.slice(TRACE_ID_START, TRACE_ID_END),
    spanId: header.slice(SPAN_ID_START, SPAN_ID_END),
    traceFlags,
    isRemote: true,
  };
}

/** The 32-hex trace id of a valid `traceparent` header, or undefined (the lake's `_trace_id`). */
export function traceIdFromTraceparent(header: string | undefined | null): string | undefined {
  if (typeof header !== "string" || checkTraceparent(header) < 0) return undefined;
  return header.slice(TRACE_ID_START, TRACE_ID_END);
}

/** Formats a span context as a version-00 `traceparent` header; the caller passes a valid context. */
export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${FLAG_HEX[spanContext.traceFlags & 0xff]}`;
}

/** The `traceparent` of a span, or undefined when its context is invalid (a no-op tracer's span). */
export function traceparentOfSpan(span: Span): string | undefined {
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? formatTraceparent(spanContext) : undefined;
}

/**
 * A context whose parent is the span named by `header`, for starting a child span of a received
 * frame; `base` (default: the active context) unchanged when the header is missing or invalid.
 */
export function contextFromTraceparent(
  header: string | undefined | null,
  base: Context = context.active(),
): Context {
  const spanContext = parseTraceparent(header);
  return spanContext === undefined ? base : trace.setSpanContext(base, spanContext);
}

/** A span link to the span named by `header` (a batch span links the frames it holds), or undefined. */
export function linkFromTraceparent(
  header: string | undefined | null,
  attributes?: Attributes,
): Link | undefined {
  const spanContext = parseTraceparent(header);
  if (spanContext === undefined) return undefined;
  return attributes === undefined ? { context: spanContext } : { context: spanContext, attributes };
}
