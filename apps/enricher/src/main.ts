import { join } from "node:path";
import { connectBus } from "@inlet/bus";
import { createServiceHttp, runService } from "@inlet/runtime";
import { SchemaRegistry } from "@inlet/schema";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { loadConfig } from "./config.js";
import { loadEnrichmentConfig } from "./enrichment-config.js";
import { createEnricher } from "./service.js";

const config = loadConfig(process.env);
const logger = createLogger({ service: "enricher", level: config.INLET_LOG_LEVEL });

await runService({
  name: "enricher",
  logger,
  async start() {
    const enrichment = await loadEnrichmentConfig(join(config.INLET_CONFIG_DIR, "enrichment.json"));
    const telemetry = initTelemetry({
      serviceName: "inlet-enricher",
      otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
    const metrics = initMetrics("inlet-enricher");
    const bus = await connectBus({ servers: config.INLET_NATS_URL, name: "enricher" });
    const registry = await SchemaRegistry.create(bus.nc, { replicas: config.INLET_STREAM_REPLICAS });
    const enricher = createEnricher({
      bus,
      registry,
      enrichment,
      configDir: config.INLET_CONFIG_DIR,
      logger,
      tracer: telemetry.tracer,
      meter: metrics.meter,
      replicas: config.INLET_STREAM_REPLICAS,
      loadReference: config.INLET_ENRICHER_LOAD_REFERENCE,
      maxReferenceEntries: config.INLET_ENRICHER_MAX_REFERENCE_ENTRIES,
      concurrency: config.INLET_ENRICHER_CONCURRENCY,
      maxAckPending: config.INLET_ENRICHER_MAX_ACK_PENDING,
      maxDeliveries: config.INLET_ENRICHER_MAX_DELIVERIES,
    });
    // Listening first: /healthz answers while the reference tables load, /readyz says 503 until then.
    const http = await createServiceHttp({
      port: config.INLET_ENRICHER_PORT,
      ready: () => enricher.ready() && !bus.nc.isClosed(),
      metricsHandler: metrics.handler,
      logger,
    });
    await enricher.start();
    logger.info({ port: http.port }, "enricher listening");
    return {
      async stop() {
        await enricher.stop();
        await http.close();
        await registry.close();
        await bus.close();
        await metrics.shutdown();
        await telemetry.shutdown();
      },
    };
  },
});
