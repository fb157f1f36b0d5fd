import { join } from "node:path";
import type { PubSub } from "@google-cloud/pubsub";
import { connectBus, createSubjects, StreamName, streamName } from "@inlet/bus";
import { createServiceHttp, runService } from "@inlet/runtime";
import { SchemaRegistry } from "@inlet/schema";
import { createLogger, initMetrics, initTelemetry } from "@inlet/telemetry";
import { type AlertForwarder, startAlertForwarder } from "./alert-forwarder.js";
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
    const routes = config.INLET_ALERTS_PUBSUB_TOPICS;
    let pubsub: PubSub | undefined;
    let forwarder: AlertForwarder | undefined;
    if (routes.length > 0) {
      const rules = new Set(pipeline.alerts.map((a) => a.name));
      const unknown = routes.filter((r) => r.rule !== "*" && !rules.has(r.rule)).map((r) => r.rule);
      if (unknown.length > 0) {
        throw new Error(
          `INLET_ALERTS_PUBSUB_TOPICS names rules pipeline.json does not have: ${unknown.join(", ")} (it has: ${[...rules].join(", ") || "none"})`,
        );
      }
      // Loaded only when used: the client and its gRPC stack cost about 60 MB of RSS.
      const { PubSub } = await import("@google-cloud/pubsub");
      pubsub = new PubSub(
        config.INLET_PUBSUB_PROJECT === undefined ? {} : { projectId: config.INLET_PUBSUB_PROJECT },
      );
      forwarder = await startAlertForwarder({
        js: bus.js,
        jsm: bus.jsm,
        stream: streamName(StreamName.Alerts),
        subjects: createSubjects(),
        routes,
        client: pubsub,
        maxPending: config.INLET_ALERTS_PUBSUB_MAX_PENDING,
        logger,
        meter: metrics.meter,
      });
    }
    logger.info({ port: http.port }, "processor listening");
    return {
      async stop() {
        await processor.stop();
        await forwarder?.stop();
        await pubsub?.close();
        await http.close();
        await registry.close();
        await bus.close();
        await metrics.shutdown();
        await telemetry.shutdown();
      },
    };
  },
});
