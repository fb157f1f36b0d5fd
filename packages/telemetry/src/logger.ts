import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { type DestinationStream, type Level, type Logger, pino } from "pino";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Written as `service` on every line, e.g. `collector`. */
  service: string;
  /** The lowest level written, default `info`; `silent` writes nothing. */
  level?: Level | "silent";
  /** Where lines go, default stdout (synchronously, so nothing is lost when the process exits). */
  destination?: DestinationStream;
}

/**
 * `trace_id`/`span_id` of the active span, so a log line can be found from its trace. Returns a new
 * object every time: pino merges the line's fields into it.
 */
function traceFields(): object {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/**
 * A pino logger writing one JSON object per line: `level` as a name, ISO `time`, `service`, the
 * active span's `trace_id`/`span_id`, and errors under `err` with their `cause` chain. Messages are
 * constant lowercase phrases; ids go in fields (`logger.info({ dataset }, "frame published")`).
 */
export function createLogger(options: LoggerOptions): Logger {
  const loggerOptions = {
    level: options.level ?? "info",
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.errWithCause, error: pino.stdSerializers.errWithCause },
    mixin: traceFields,
  };
  // Synchronous writes keep lines in order and complete when the process exits; logs are not on the
  // per-event path, so the cost does not matter.
  return pino(loggerOptions, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

export type { Logger } from "pino";
