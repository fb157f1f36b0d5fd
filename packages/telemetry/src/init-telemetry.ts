import { context, propagation, type Tracer, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "./semconv.js";

/** Options of {@link initTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of every span, e.g. `inlet-collector`. */
  serviceName: string;
  /** `service.version`, when known. */
  serviceVersion?: string;
  /**
   * OTLP/HTTP collector base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://127.0.0.1:4318`);
   * spans go to `<endpoint>/v1/traces`. Unset: nothing is exported or recorded.
   */
  otlpEndpoint?: string;
  /** Fraction of new traces recorded, 0–1, default 1; a child follows its parent's decision. */
  sampleRatio?: number;
}

/** What {@link initTelemetry} registered. */
export interface Telemetry {
  /** The service's tracer, named after the service. */
  tracer: Tracer;
  /** Flushes pending spans, then unregisters the global provider, context manager and propagator. */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP traces URL for a base endpoint, as the OTLP exporter specification derives it. */
export function otlpTracesUrl(endpoint: string): string {
  return endpoint.endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

/**
 * Registers a tracer provider, the AsyncLocalStorage context manager and the W3C trace context
 * propagator globally. The provider is registered even without an exporter, so every span still gets
 * a fresh valid trace id to put in frame headers and lake rows; without `otlpEndpoint` it samples
 * nothing (AlwaysOff: spans are non-recording and cost almost nothing). Call once per process.
 */
export function initTelemetry(options: TelemetryOptions): Telemetry {
  const resource = resourceFromAttributes(
    options.serviceVersion === undefined
      ? { [ATTR_SERVICE_NAME]: options.serviceName }
      : { [ATTR_SERVICE_NAME]: options.serviceName, [ATTR_SERVICE_VERSION]: options.serviceVersion },
  );
  let sampler: Sampler;
  const spanProcessors: SpanProcessor[] = [];
  if (options.otlpEndpoint === undefined) {
    sampler = new AlwaysOffSampler();
  } else {
    const ratio = options.sampleRatio ?? 1;
    if (!(ratio >= 0 && ratio <= 1))
      throw new RangeError(`sampleRatio must be between 0 and 1, got ${ratio}`);
    sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    spanProcessors.push(
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: otlpTracesUrl(options.otlpEndpoint) }),
      }),
    );
  }
  const provider = new TracerProvider({ resource, sampler, spanProcessors });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(options.serviceName, options.serviceVersion),
    shutdown() {
      stopped ??= provider.shutdown().finally(() => {
        trace.disable();
        propagation.disable();
        context.disable();
      });
      return stopped;
    },
  };
}
