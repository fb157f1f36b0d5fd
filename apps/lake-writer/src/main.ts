import { connectBus } from "@inlet/bus";
import { runService } from "@inlet/runtime";
import { loadDatasets, SchemaRegistry } from "@inlet/schema";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { loadConfig } from "./config.js";
import { createLakeWriter } from "./service.js";

const config = loadConfig(process.env);
const logger = createLogger({ service: "lake-writer", level: config.INLET_LOG_LEVEL });

await runService({
  name: "lake-writer",
  logger,
  async start() {
    const datasets = await loadDatasets(config.INLET_CONFIG_DIR);
    const telemetry = initTelemetry({
      serviceName: "inlet-lake-writer",
      ...(config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
        ? {}
        : { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT }),
    });
    const metrics = initMetrics("inlet-lake-writer");
    const bus = await connectBus({ servers: config.INLET_NATS_URL, name: "lake-writer" });
    const registry = await SchemaRegistry.create(bus.nc, { replicas: config.INLET_STREAM_REPLICAS });
    const writer = createLakeWriter({
      config,
      bus,
      registry,
      datasets,
      logger,
      tracer: telemetry.tracer,
      meter: metrics.meter,
      metricsHandler: metrics.handler,
    });
    try {
      await writer.start();
    } catch (err) {
      await writer.stop().catch(() => {});
      throw err;
    }
    return {
      async stop() {
        await writer.stop();
        await registry.close();
        await metrics.shutdown();
        await telemetry.shutdown();
      },
    };
  },
});
