import { resolve } from "node:path";
import {
  type Bus,
  createSubjects,
  DeadLetters,
  DurableName,
  decodeFrame,
  ensureConsumer,
  ensureConsumerExists,
  ensureStreams,
  frameHeaders,
  publishFrame,
  publishWithRetry,
  type ReceivedFrame,
  type RunningConsumer,
  runConsumer,
  Stage,
  StreamName,
  stageFrameId,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import type { SchemaRegistry } from "@inlet/schema";
import {
  consumedFrameAttributes,
  type Logger,
  type Meter,
  SpanKind,
  type Tracer,
  traceparentOfSpan,
  withSpan,
} from "@inlet/telemetry";
import type { JsMsg } from "@nats-io/jetstream";
import type { Type } from "avsc";
import { type CompiledEnrichment, enrichEvents } from "./enrich-events.js";
import { createEnricherMetrics, type FrameCounts } from "./enricher-metrics.js";
import type { EnrichmentConfig } from "./enrichment-config.js";
import { JoinBook } from "./join-book.js";
import { ReferenceTable } from "./reference-table.js";

/** KV bucket name prefix of the reference tables: table `merchants` lives in `inlet_ref_merchants`. */
export const REFERENCE_BUCKET_PREFIX = "inlet_ref_";

/** What {@link createEnricher} needs; main.ts builds these, tests build their own. */
export interface EnricherDeps {
  /** A connected bus; its connection belongs to the caller. */
  bus: Bus;
  registry: SchemaRegistry;
  /** The parsed `enrichment.json`. */
  enrichment: EnrichmentConfig;
  /** The config directory: reference files are relative to it. */
  configDir: string;
  logger: Logger;
  tracer: Tracer;
  meter: Meter;
  /** Stream and KV bucket replicas (`INLET_STREAM_REPLICAS`). */
  replicas: number;
  /** Seed an empty reference bucket from its file (default true). */
  loadReference?: boolean;
  /** Most entries per reference table held in memory (default 100,000). */
  maxReferenceEntries?: number;
  /** Frames handled at once (default 8). */
  concurrency?: number;
  /** Unacknowledged frames the server lets the consumer hold (default 64). */
  maxAckPending?: number;
  /** Deliveries of a failing frame before it is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** Prefix of stream names and subjects, so tests can share a server (default none). */
  streamPrefix?: string;
  /** Prefix of the reference tables' KV buckets (default `inlet_ref_`). */
  referenceBucketPrefix?: string;
}

/** An enricher: consumes PROCESSED, joins reference tables, publishes to CURATED. */
export interface Enricher {
  /** Ensures streams and consumers, loads every reference table, checks the joins, starts consuming. */
  start(): Promise<void>;
  /** Stops pulling, finishes and acks the frames in flight, stops the table watches. The bus stays open. */
  stop(): Promise<void>;
  /** True once every table is loaded and the consumer runs, until stop. */
  ready(): boolean;
  /** The open reference tables, by name. */
  readonly tables: ReadonlyMap<string, ReferenceTable>;
}

/** Builds an enricher from its dependencies; nothing happens until `start()`. */
export function createEnricher(deps: EnricherDeps): Enricher {
  const { bus, logger, tracer } = deps;
  const prefix = deps.streamPrefix ?? "";
  const subjects = createSubjects(prefix);
  const deadLetters = new DeadLetters(bus.js, { subjects });
  const metrics = createEnricherMetrics(deps.meter);
  const processed = streamName(StreamName.Processed, prefix);
  const curated = streamName(StreamName.Curated, prefix);
  const tables = new Map<string, ReferenceTable>();
  const joins = new JoinBook(deps.enrichment, deps.registry, tables, logger);
  // Per dataset: its lake-writer's consumer on CURATED exists (checked once per process).
  const readers = new Map<string, Promise<void>>();
  let consumer: RunningConsumer | undefined;

  const ensureLakeWriter = (dataset: string): Promise<void> => {
    const ready = readers.get(dataset);
    if (ready === undefined) {
      const created = ensureConsumerExists(bus.jsm, curated, {
        durable: DurableName.lakeWriter(dataset),
        filterSubjects: [subjects.curated(dataset)],
      }).then(() => {});
      created.catch(() => readers.delete(dataset));
      readers.set(dataset, created);
      return created;
    }
    return ready;
  };

  // Joins a frame's events with the reference tables and starts every publish: the enriched events
  // as one frame, each dead letter. The input is acked only when all of them are accepted.
  const route = (
    frame: ReceivedFrame,
    type: Type,
    enrichment: CompiledEnrichment,
    msgId: string,
    traceparent: string | undefined,
  ): { pending: Promise<unknown>[]; counts: FrameCounts } => {
    const { dataset, schemaId } = frame;
    // A payload that does not decode throws PayloadDecodeError: the frame is poison.
    const result = enrichEvents(decodeFrame(frame.body), type, schemaId, enrichment);
    const pending: Promise<unknown>[] = [];
    if (result.out.length > 0) {
      pending.push(
        publishFrame(bus.js, subjects.curated(dataset), {
          events: result.out,
          schemaId,
          msgId,
          traceparent,
        }),
      );
    }
    for (const rejected of result.rejected) {
      pending.push(
        deadLetters.event({
          stage: Stage.Enricher,
          dataset,
          code: "ENRICHMENT_TYPE_MISMATCH",
          reason: rejected.issue.message,
          field: rejected.issue.field,
          expected: rejected.issue.expected,
          got: rejected.issue.got,
          eventId: rejected.event.id,
          event: rejected.record,
          traceparent,
        }),
      );
    }
    const counts = {
      eventsIn: frame.count,
      eventsOut: result.out.length,
      hits: result.hits,
      misses: result.misses,
      deadLettered: result.rejected.length,
    };
    return { pending, counts };
  };

  const handle = async (frame: ReceivedFrame, msg: JsMsg): Promise<void> => {
    const started = performance.now();
    const { dataset, schemaId } = frame;
    const out = subjects.curated(dataset);
    await withSpan(
      tracer,
      `enrich ${frame.subject}`,
      {
        kind: SpanKind.CONSUMER,
        parent: frame.traceparent,
        attributes: consumedFrameAttributes(frame, DurableName.Enricher, Stage.Enricher),
      },
      async (span) => {
        const traceparent = traceparentOfSpan(span);
        const msgId = stageFrameId(Stage.Enricher, dataset, frame.seq);
        const count = frame.count;
        await ensureLakeWriter(dataset);
        if (!joins.hasJoins(dataset)) {
          // No enrichment: the frame body goes on unchanged, not even decoded.
          const headers = frameHeaders({ msgId, schemaId, count, traceparent });
          await publishWithRetry(bus.js, out, msg.data, headers);
          metrics.frame(
            dataset,
            { eventsIn: count, eventsOut: count, hits: 0, misses: 0, deadLettered: 0 },
            (performance.now() - started) / 1_000,
          );
          return;
        }
        const { schema, enrichment } = await joins.forSchema(schemaId, dataset);
        // Decoded, enriched and encoded in one synchronous call: while the publishes are awaited
        // the frame's events are garbage already, not objects that live through young collections.
        const { pending, counts } = route(frame, schema.type, enrichment, msgId, traceparent);
        await settleAll(pending);
        if (counts.deadLettered > 0) {
          logger.warn(
            { dataset, schemaId, seq: frame.seq, rejected: counts.deadLettered },
            "events dead-lettered",
          );
        }
        metrics.frame(dataset, counts, (performance.now() - started) / 1_000);
      },
    );
  };

  const closeTables = async (): Promise<void> => {
    await Promise.all([...tables.values()].map((t) => t.close()));
    tables.clear();
  };

  return {
    tables,
    async start() {
      await ensureStreams(bus.jsm, streamSpecs({ replicas: deps.replicas, prefix }));
      await ensureConsumer(bus.jsm, processed, {
        durable: DurableName.Enricher,
        maxAckPending: deps.maxAckPending ?? 64,
        description: "enricher: joins with reference tables",
      });
      try {
        const bucketPrefix = deps.referenceBucketPrefix ?? REFERENCE_BUCKET_PREFIX;
        const opening = Object.entries(deps.enrichment.tables).map(async ([name, spec]) => {
          const table = await ReferenceTable.open(bus.nc, {
            table: name,
            bucket: `${bucketPrefix}${name}`,
            replicas: deps.replicas,
            maxEntries: deps.maxReferenceEntries ?? 100_000,
            logger,
            ...(spec.file !== undefined && (deps.loadReference ?? true)
              ? { seedFile: resolve(deps.configDir, spec.file) }
              : {}),
          });
          tables.set(name, table);
          logger.info({ table: name, bucket: table.bucket, entries: table.size }, "reference table loaded");
        });
        const results = await Promise.allSettled(opening);
        for (const result of results) if (result.status === "rejected") throw result.reason;
        const checked = await joins.checkRegistered();
        logger.info({ schemas: checked }, "enrichment joins checked");
        consumer = await runConsumer({
          js: bus.js,
          stream: processed,
          durable: DurableName.Enricher,
          handle,
          stage: Stage.Enricher,
          deadLetters,
          concurrency: deps.concurrency ?? 8,
          maxAttempts: deps.maxDeliveries ?? 5,
          logger,
        });
      } catch (error) {
        await closeTables();
        throw error;
      }
    },
    async stop() {
      const running = consumer;
      consumer = undefined;
      await running?.stop();
      await closeTables();
    },
    ready() {
      return consumer !== undefined;
    },
  };
}

// Waits for every publish, then throws the first failure: the frame is nak'ed only once nothing
// of it is still in flight.
async function settleAll(pending: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(pending);
  for (const result of results) if (result.status === "rejected") throw result.reason;
}
