import { runService } from "@inlet/runtime";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { loadConfig } from "./config.js";
import { createCollector } from "./service.js";

const config = loadConfig(process.env);
const logger = createLogger({ service: "collector", level: config.INLET_LOG_LEVEL });
const telemetry = initTelemetry({
  serviceName: "inlet-collector",
  ...(config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
    ? {}
    : { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT }),
});
const metrics = initMetrics("inlet-collector");
const collector = createCollector({
  config,
  logger,
  tracer: telemetry.tracer,
  meter: metrics.meter,
  metricsHandler: metrics.handler,
});

await runService({
  name: "collector",
  logger,
  start: async () => {
    await collector.start();
    return {
      async stop() {
        await collector.stop();
        await Promise.all([telemetry.shutdown(), metrics.shutdown()]);
      },
    };
  },
});
