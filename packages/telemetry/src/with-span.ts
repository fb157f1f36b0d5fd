import {
  type Attributes,
  type Context,
  context,
  type Link,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { contextFromTraceparent } from "./trace-context.js";

/** Options of {@link withSpan}. */
export interface WithSpanOptions {
  /** The span kind, default INTERNAL (PRODUCER for a publish, CONSUMER for processing a frame). */
  kind?: SpanKind;
  /** Attributes known when the span starts (names from `semconv.ts`). */
  attributes?: Attributes;
  /** Links to other spans, e.g. every frame folded into one lake commit. */
  links?: Link[];
  /**
   * The parent: a `traceparent` header (a received frame's), or a context. Default: the active
   * context. A missing or invalid header falls back to the active context.
   */
  parent?: string | Context;
}

/**
 * Runs `fn` inside a new active span and ends the span when `fn` settles; a thrown error is recorded
 * on the span (exception event, status ERROR) and rethrown.
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  options: WithSpanOptions,
  fn: (span: Span) => T | Promise<T>,
): Promise<T> {
  const parent =
    options.parent === undefined
      ? context.active()
      : typeof options.parent === "string"
        ? contextFromTraceparent(options.parent)
        : options.parent;
  const span = tracer.startSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links: options.links },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), fn, undefined, span);
  } catch (error) {
    if (span.isRecording()) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    throw error;
  } finally {
    span.end();
  }
}
