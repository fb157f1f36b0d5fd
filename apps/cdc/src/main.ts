import { connectBus, Subjects } from "@inlet/bus";
import { createServiceHttp, runService, sendJson } from "@inlet/runtime";
import { SchemaRegistry } from "@inlet/schema";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { loadConfig } from "./config.js";
import { createCdcSource } from "./service.js";

const config = loadConfig(process.env);
const logger = createLogger({ service: "cdc", level: config.INLET_LOG_LEVEL });

await runService({
  name: "cdc",
  logger,
  async start() {
    const telemetry = initTelemetry({
      serviceName: "inlet-cdc",
      otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
    const metrics = initMetrics("inlet-cdc");
    const bus = await connectBus({ servers: config.INLET_NATS_URL, name: "cdc" });
    const registry = await SchemaRegistry.create(bus.nc, { replicas: config.INLET_STREAM_REPLICAS });
    const databaseName =
      decodeURIComponent(new URL(config.INLET_CDC_DATABASE_URL).pathname.slice(1)) || "postgres";
    const source = createCdcSource({
      databaseUrl: config.INLET_CDC_DATABASE_URL,
      tables: config.INLET_CDC_TABLES,
      slot: config.INLET_CDC_SLOT,
      publication: config.INLET_CDC_PUBLICATION,
      subjectDatabase: config.INLET_CDC_SUBJECT_DATABASE ?? databaseName,
      snapshot: config.INLET_CDC_SNAPSHOT,
      lingerMs: config.INLET_CDC_LINGER_MS,
      maxPendingEvents: config.INLET_CDC_MAX_PENDING_EVENTS,
      retryMs: config.INLET_CDC_RETRY_MS,
      nc: bus.nc,
      js: bus.js,
      jsm: bus.jsm,
      registry,
      subjects: Subjects,
      replicas: config.INLET_STREAM_REPLICAS,
      logger,
      tracer: telemetry.tracer,
      meter: metrics.meter,
    });
    // Listening first: /healthz answers while the snapshots run, /readyz says 503 until streaming.
    const http = await createServiceHttp({
      port: config.INLET_CDC_PORT,
      ready: () => source.ready() && !bus.nc.isClosed(),
      metricsHandler: metrics.handler,
      routes: [
        { method: "GET", path: "/status", handler: (_req, res) => sendJson(res, 200, source.status()) },
      ],
      logger,
    });
    await source.start();
    logger.info({ port: http.port }, "cdc source listening");
    return {
      async stop() {
        await source.stop();
        await http.close();
        await registry.close();
        await bus.close();
        await metrics.shutdown();
        await telemetry.shutdown();
      },
    };
  },
});
