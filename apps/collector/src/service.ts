import type { IncomingMessage, ServerResponse } from "node:http";
import type { PubSub } from "@google-cloud/pubsub";
import {
  type Bus,
  connectBus,
  createSubjects,
  DeadLetters,
  ensureStreams,
  ensureTopology,
  StreamName,
  type StreamSpecOptions,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import { type AccessTokenFile, createServiceHttp, loadAccessTokens, type ServiceHttp } from "@inlet/runtime";
import { loadDatasets, registerDatasets, SchemaRegistry } from "@inlet/schema";
import type { Logger, Meter, Tracer } from "@inlet/telemetry";
import { createCollectorMetrics } from "./collector-metrics.js";
import type { CollectorConfig } from "./config.js";
import { ingestRoute } from "./http-ingress.js";
import { InflightLimiter } from "./inflight.js";
import { Ingestor } from "./ingest.js";
import { IngestInterest } from "./ingest-interest.js";
import { type NatsIngress, startNatsIngress } from "./nats-ingress.js";
import { type PubSubIngress, startPubSubIngress } from "./pubsub-ingress.js";
import { SchemaCache } from "./schema-cache.js";

/** What the collector is built from; tests pass their own prefix, bucket and limits. */
export interface CollectorDeps {
  config: CollectorConfig;
  logger: Logger;
  tracer: Tracer;
  meter: Meter;
  /** Serves `GET /metrics` (from `initMetrics`). */
  metricsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Prefix of every stream and subject, so tests can share a server (default: none). */
  prefix?: string;
  /** Byte limits of streams, overriding the defaults (tests fill INGEST with a small one). */
  streamMaxBytes?: StreamSpecOptions["maxBytes"];
  /** The schema registry's KV bucket (default `inlet_schemas`). */
  schemaBucket?: string;
  /** How often INGEST's consumer count is read again, in ms (default 2000). */
  interestIntervalMs?: number;
  /**
   * Create the pipeline's durable consumers that do not exist yet (default true), so nothing
   * accepted is dropped by interest retention before the downstream services first start.
   */
  provisionConsumers?: boolean;
}

/** The collector service. */
export interface Collector {
  /** Connects, ensures streams, registers and loads schemas, then serves HTTP and NATS. */
  start(): Promise<void>;
  /** Stops taking requests, answers those in flight (their frames acked), then closes the connection. */
  stop(): Promise<void>;
  /** The HTTP server's base URL (after start). */
  readonly url: string;
}

const DEFAULT_INTEREST_INTERVAL_MS = 2_000;

/** Builds the collector from its dependencies; nothing happens until `start()`. */
export function createCollector(deps: CollectorDeps): Collector {
  const { config, logger, tracer } = deps;
  const prefix = deps.prefix ?? "";
  const subjects = createSubjects(prefix);
  const limiter = new InflightLimiter(
    config.INLET_COLLECTOR_MAX_INFLIGHT_EVENTS,
    config.INLET_COLLECTOR_MAX_INFLIGHT_BYTES,
  );
  const metrics = createCollectorMetrics(deps.meter, limiter);
  const retryAfterSeconds = Math.max(1, Math.ceil(config.INLET_COLLECTOR_RETRY_AFTER / 1000));

  let bus: Bus | undefined;
  let schemas: SchemaCache | undefined;
  let interest: IngestInterest | undefined;
  let http: ServiceHttp | undefined;
  let natsIngress: NatsIngress | undefined;
  let pubsub: PubSub | undefined;
  let pubsubIngress: PubSubIngress | undefined;
  let tokens: AccessTokenFile | undefined;
  let connected = false;
  let stopping = false;

  const ready = (): boolean => {
    if (stopping) throw new Error("collector is stopping");
    if (!connected || bus === undefined) throw new Error("not connected to NATS");
    if (schemas === undefined) throw new Error("schemas not loaded yet");
    const problem = pubsubIngress?.problem();
    if (problem !== undefined) throw new Error(problem);
    // Not gated on INGEST having a consumer: the stack starts the collector before the services
    // that create those consumers, and waits for each /readyz. Requests get 503 until then instead.
    return true;
  };

  const watchConnection = async (b: Bus): Promise<void> => {
    for await (const status of b.nc.status()) {
      if (status.type === "disconnect") {
        connected = false;
        logger.warn({ server: status.server }, "nats disconnected");
      } else if (status.type === "reconnect") {
        connected = true;
        logger.info({ server: status.server }, "nats reconnected");
      }
    }
  };

  return {
    get url() {
      if (http === undefined) throw new Error("collector is not started");
      return http.url;
    },

    async start() {
      bus = await connectBus({
        servers: config.INLET_NATS_URL,
        name: "inlet-collector",
        requestTimeoutMs: config.INLET_COLLECTOR_PUBLISH_TIMEOUT,
      });
      connected = true;
      void watchConnection(bus);
      const streamOptions = {
        replicas: config.INLET_STREAM_REPLICAS,
        prefix,
        ...(deps.streamMaxBytes === undefined ? {} : { maxBytes: deps.streamMaxBytes }),
      };
      await ensureStreams(bus.jsm, streamSpecs(streamOptions));

      const bucket = deps.schemaBucket === undefined ? {} : { bucket: deps.schemaBucket };
      const registry = await SchemaRegistry.create(bus.nc, {
        ...bucket,
        replicas: config.INLET_STREAM_REPLICAS,
      });
      if (config.INLET_REGISTER_SCHEMAS) {
        const definitions = await loadDatasets(config.INLET_CONFIG_DIR);
        const registered = await registerDatasets(registry, definitions);
        const created = registered.filter((r) => r.created).map((r) => r.id);
        logger.info({ datasets: definitions.map((d) => d.name), created }, "schemas registered");
      }
      schemas = await SchemaCache.create(bus.nc, registry, {
        ...bucket,
        refreshMs: config.INLET_COLLECTOR_SCHEMA_REFRESH,
        logger,
      });
      logger.info({ datasets: schemas.datasets() }, "schemas loaded");
      if (deps.provisionConsumers ?? true) {
        await ensureTopology(bus.jsm, {
          ...streamOptions,
          datasets: schemas.datasets(),
          rawZone: config.INLET_RAW_ENABLED,
        });
      }

      interest = await IngestInterest.start({
        jsm: bus.jsm,
        stream: streamName(StreamName.Ingest, prefix),
        intervalMs: deps.interestIntervalMs ?? DEFAULT_INTEREST_INTERVAL_MS,
        logger,
      });

      const currentInterest = interest;
      const ingestor = new Ingestor({
        js: bus.js,
        subjects,
        deadLetters: new DeadLetters(bus.js, {
          subjects,
          publish: { timeoutMs: config.INLET_COLLECTOR_PUBLISH_TIMEOUT },
        }),
        schemas,
        limiter,
        limits: {
          maxBytes: config.INLET_COLLECTOR_MAX_BODY_BYTES,
          maxEvents: config.INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST,
        },
        maxFrameEvents: config.INLET_COLLECTOR_FRAME_MAX_EVENTS,
        publishTimeoutMs: config.INLET_COLLECTOR_PUBLISH_TIMEOUT,
        retryAfterSeconds,
        unavailable: () => currentInterest.reason(),
        tracer,
        metrics,
        logger,
      });

      tokens = await loadAccessTokens(config.INLET_COLLECTOR_TOKENS_FILE, {
        variable: "INLET_COLLECTOR_TOKENS_FILE",
        endpoint: "HTTP ingest",
        logger,
      });
      http = await createServiceHttp({
        port: config.INLET_COLLECTOR_PORT,
        routes: [
          ingestRoute({
            ingestor,
            limiter,
            metrics,
            maxBodyBytes: config.INLET_COLLECTOR_MAX_BODY_BYTES,
            retryAfterSeconds,
            ...(tokens === undefined ? {} : { tokens }),
          }),
        ],
        ready,
        ...(deps.metricsHandler === undefined ? {} : { metricsHandler: deps.metricsHandler }),
        logger,
        maxBodyBytes: config.INLET_COLLECTOR_MAX_BODY_BYTES,
        // A request in flight waits for its PubAcks: give it the publish deadline and a margin.
        closeTimeoutMs: config.INLET_COLLECTOR_PUBLISH_TIMEOUT + 5_000,
      });
      natsIngress = startNatsIngress({ nc: bus.nc, subjects, ingestor, logger });
      const sources = config.INLET_PUBSUB_SUBSCRIPTIONS;
      if (sources.length > 0) {
        for (const { subscription, dataset } of sources) {
          if (schemas.latest(dataset) !== undefined) continue;
          throw new Error(
            `INLET_PUBSUB_SUBSCRIPTIONS: dataset ${JSON.stringify(dataset)} of subscription ${JSON.stringify(subscription)} has no registered schema (known: ${schemas.datasets().join(", ") || "none"})`,
          );
        }
        // Loaded only when used: the client and its gRPC stack cost about 60 MB of RSS.
        const { PubSub } = await import("@google-cloud/pubsub");
        pubsub = new PubSub(
          config.INLET_PUBSUB_PROJECT === undefined ? {} : { projectId: config.INLET_PUBSUB_PROJECT },
        );
        pubsubIngress = await startPubSubIngress({
          client: pubsub,
          sources,
          ingestor,
          maxMessages: config.INLET_PUBSUB_MAX_MESSAGES,
          maxBytes: config.INLET_PUBSUB_MAX_BYTES,
          retryMs: retryAfterSeconds * 1000,
          logger,
        });
      }
      // The server knows the subscription once start() resolves: no "no responders" right after.
      await bus.nc.flush();
      logger.info({ url: http.url, collect: subjects.all.collect }, "collector listening");
    },

    async stop() {
      stopping = true;
      // Stop taking requests; those in flight finish (their frames acked) before the connection goes.
      await Promise.all([natsIngress?.stop(), http?.close(), pubsubIngress?.stop()]);
      await pubsub?.close();
      interest?.stop();
      tokens?.close();
      metrics.close();
      await schemas?.close();
      await bus?.close();
    },
  };
}
