// The OpenTelemetry API pieces services use, re-exported so an app depends on one OTel version, here.
export type {
  Attributes,
  Context,
  Link,
  Meter,
  Span,
  SpanContext,
  Tracer,
} from "@opentelemetry/api";
export { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
export type { Telemetry, TelemetryOptions } from "./init-telemetry.js";
export { initTelemetry, otlpTracesUrl } from "./init-telemetry.js";
export type { Logger, LoggerOptions } from "./logger.js";
export { createLogger } from "./logger.js";
export type { Metrics } from "./metrics.js";
export { initMetrics } from "./metrics.js";
export {
  PrometheusTextError,
  PrometheusTextErrorCode,
  parsePrometheusText,
  prometheusKey,
} from "./prometheus-text.js";
export {
  ATTR_INLET_DATASET,
  ATTR_INLET_SCHEMA_ID,
  ATTR_INLET_STAGE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  type ConsumedFrame,
  consumedFrameAttributes,
  MESSAGING_SYSTEM_VALUE_NATS,
  MessagingOperationType,
} from "./semconv.js";
export {
  contextFromTraceparent,
  formatTraceparent,
  linkFromTraceparent,
  parseTraceparent,
  TRACEPARENT_HEADER,
  traceIdFromTraceparent,
  traceparentOfSpan,
} from "./trace-context.js";
export type { WithSpanOptions } from "./with-span.js";
export { withSpan } from "./with-span.js";
