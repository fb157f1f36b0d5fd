import type { IncomingMessage, ServerResponse } from "node:http";
import { type Meter, metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { ATTR_SERVICE_NAME } from "./semconv.js";

/** What {@link initMetrics} registered. */
export interface Metrics {
  /** The service's meter, named after the service. */
  meter: Meter;
  /** Answers a scrape with every metric in Prometheus text format; mount it at `GET /metrics`. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  /** Unregisters the global meter provider; the handler answers nothing useful afterwards. */
  shutdown(): Promise<void>;
}

/**
 * Registers a global meter provider read by a Prometheus exporter that starts no server of its own:
 * each service serves `handler` from its own HTTP server. OpenTelemetry names become Prometheus
 * names (`inlet.events.accepted` → `inlet_events_accepted_total` for a counter). Scope labels are
 * left out (one meter per service). Call once per process.
 */
export function initMetrics(serviceName: string): Metrics {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    readers: [exporter],
  });
  metrics.setGlobalMeterProvider(provider);
  let stopped: Promise<void> | undefined;
  return {
    meter: provider.getMeter(serviceName),
    handler: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown() {
      stopped ??= provider.shutdown().finally(() => metrics.disable());
      return stopped;
    },
  };
}
