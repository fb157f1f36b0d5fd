import { join } from "node:path";
import { connectBus } from "@inlet/bus";
import { createServiceHttp, runService } from "@inlet/runtime";
import { SchemaRegistry } from "@inlet/schema";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { loadConfig } from "./config.js";
import { loadPipelineConfig } from "./pipeline-config.js";
import { createProcessor } from "./service.js";

const config = loadConfig(process.env);
const logger = createLogger({ service: "processor", level: config.INLET_LOG_LEVEL });

await runService({
  name: "processor",
  logger,
  async start() {
    const pipeline = await loadPipelineConfig(join(config.INLET_CONFIG_DIR, "pipeline.json"));
    const telemetry = initTelemetry({
      serviceName: "inlet-processor",
      otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
    const metrics = initMetrics("inlet-processor");
    const bus = await connectBus({ servers: config.INLET_NATS_URL, name: "processor" });
    const registry = await SchemaRegistry.create(bus.nc, { replicas: config.INLET_STREAM_REPLICAS });
    const processor = createProcessor({
      bus,
      registry,
      pipeline,
      logger,
      tracer: telemetry.tracer,
      meter: metrics.meter,
      replicas: config.INLET_STREAM_REPLICAS,
      concurrency: config.INLET_PROCESSOR_CONCURRENCY,
      maxAckPending: config.INLET_PROCESSOR_MAX_ACK_PENDING,
      maxDeliveries: config.INLET_PROCESSOR_MAX_DELIVERIES,
    });
    const http = await createServiceHttp({
      port: config.INLET_PROCESSOR_PORT,
      ready: () => processor.ready() && !bus.nc.isClosed(),
      metricsHandler: metrics.handler,
      logger,
    });
    await processor.start();
    logger.info({ port: http.port }, "processor listening");
    return {
      async stop() {
        await processor.stop();
        await http.close();
        await registry.close();
        await bus.close();
        await metrics.shutdown();
        await telemetry.shutdown();
      },
    };
  },
});
