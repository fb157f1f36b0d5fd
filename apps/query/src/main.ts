import { ConfigError } from "@inlet/config";
import { runService } from "@inlet/runtime";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { loadConfig, type QueryConfig } from "./config.js";
import { createQueryService } from "./service.js";

let config: QueryConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger({ service: "query", level: config.INLET_LOG_LEVEL });

await runService({
  name: "query",
  logger,
  start: async () => {
    const telemetry = initTelemetry({
      serviceName: "inlet-query",
      otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
    const metrics = initMetrics("inlet-query");
    const service = createQueryService({
      config,
      logger,
      tracer: telemetry.tracer,
      meter: metrics.meter,
      metricsHandler: metrics.handler,
    });
    try {
      await service.start();
    } catch (error) {
      await metrics.shutdown();
      await telemetry.shutdown();
      throw error;
    }
    return {
      async stop() {
        await service.stop();
        await metrics.shutdown();
        await telemetry.shutdown();
      },
    };
  },
});
