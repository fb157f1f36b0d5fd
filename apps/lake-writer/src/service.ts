import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type Bus,
  createSubjects,
  DeadLetterProgress,
  DeadLetters,
  DurableName,
  deleteConsumerIfExists,
  ensureConsumer,
  ensureStreams,
  StreamName,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import { CuratedTable, ParquetWriter, PartitionBy, RawZoneWriter } from "@inlet/lake";
import { createServiceHttp, type ServiceHttp } from "@inlet/runtime";
import {
  type DatasetDefinition,
  DEAD_LETTERS_DATASET,
  registerDatasets,
  type SchemaRegistry,
} from "@inlet/schema";
import type { Logger, Meter, Tracer } from "@inlet/telemetry";
import { CDC_MAX_ACK_PENDING, CdcWriter } from "./cdc-writer.js";
import type { LakeWriterConfig } from "./config.js";
import { CuratedWriter } from "./curated-writer.js";
import {
  DEAD_LETTER_APP_ID,
  DEAD_LETTER_SCHEMA_VERSION,
  DEAD_LETTER_TABLE_SCHEMA,
  DEAD_LETTER_TIME_FIELD,
  DeadLetterArchive,
} from "./dead-letter-archive.js";
import type { FlushBounds } from "./micro-batch.js";
import { RawWriter } from "./raw-writer.js";
import { TableMaintenance } from "./table-maintenance.js";
import { WriterMetrics } from "./writer-metrics.js";

/** What {@link createLakeWriter} needs; tests build these themselves. */
export interface LakeWriterDeps {
  readonly config: LakeWriterConfig;
  /** The NATS connection; the lake-writer closes it in `stop()`. */
  readonly bus: Bus;
  readonly registry: SchemaRegistry;
  /** Every dataset of the config directory (`loadDatasets`). */
  readonly datasets: readonly DatasetDefinition[];
  readonly logger: Logger;
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Serves `GET /metrics`. */
  readonly metricsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Stream and subject prefix, so tests can share a server (default: none). */
  readonly prefix?: string;
}

/** A lake-writer: `start()` then `stop()`. */
export interface LakeWriter {
  /** Ensures streams, schemas and consumers, starts the writers and the HTTP server. */
  start(): Promise<void>;
  /** Stops pulling, commits and acks everything buffered, closes the HTTP server and NATS. */
  stop(): Promise<void>;
  /** The HTTP server's base URL (after `start()`). */
  readonly url: string;
  /** The curated writers, by dataset (after `start()`). */
  readonly curated: ReadonlyMap<string, CuratedWriter>;
  /** Compaction and vacuum of the curated tables (after `start()`). */
  readonly maintenance: TableMaintenance | undefined;
  /** The copy of the DLQ stream into the `dead_letters` table, when enabled (after `start()`). */
  readonly deadLetters: DeadLetterArchive | undefined;
  /** The CDC stream applied to the CDC datasets' tables, when enabled (after `start()`). */
  readonly cdc: CdcWriter | undefined;
}

// A fetch waits this long for frames when the stream is idle; stop() waits for it at most this long.
const FETCH_EXPIRES_MS = 1_000;
const MAX_FETCH_MESSAGES = 256;
// Rows per Parquet row group: DuckDB's own row group size, the unit its parallel scans split on.
const ROW_GROUP_ROWS = 122_880;
// Most bytes of dead letters held for one commit of the `dead_letters` table.
const DEAD_LETTER_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The lake-writer: one curated writer per dataset (durable `lake-writer-<ds>` on `curated.<ds>`,
 * exactly once into the dataset's Delta table) and, when enabled, the raw zone writer (durable
 * `raw-writer` on INGEST, at least once into Avro files), and, when enabled, the dead-letter archive
 * (the DLQ stream, exactly once into the `dead_letters` table).
 */
export function createLakeWriter(deps: LakeWriterDeps): LakeWriter {
  const { config, bus, registry, logger } = deps;
  const prefix = deps.prefix ?? "";
  const subjects = createSubjects(prefix);
  const metrics = new WriterMetrics(deps.meter);
  const deadLetters = new DeadLetters(bus.js, { subjects });
  const maxAckPending = config.INLET_WRITER_MAX_ACK_PENDING;
  const bounds: FlushBounds = {
    maxRows: config.INLET_WRITER_MAX_ROWS,
    maxBytes: config.INLET_WRITER_MAX_BYTES,
    // Frames wait un-acked until their commit: half the ack-pending limit per batch lets the
    // next batch fill while one is flushing.
    maxFrames: Math.max(1, Math.floor(maxAckPending / 2)),
    maxAgeMs: config.INLET_WRITER_FLUSH_MS,
  };
  const fetch = {
    maxMessages: Math.max(1, Math.min(MAX_FETCH_MESSAGES, Math.floor(maxAckPending / 4))),
    expiresMs: FETCH_EXPIRES_MS,
  };
  const curated = new Map<string, CuratedWriter>();
  let raw: RawWriter | undefined;
  let parquet: ParquetWriter | undefined;
  let maintenance: TableMaintenance | undefined;
  let archive: DeadLetterArchive | undefined;
  let cdc: CdcWriter | undefined;
  let http: ServiceHttp | undefined;
  let stopping = false;
  let stopped: Promise<void> | undefined;

  const selectedDatasets = (): DatasetDefinition[] => {
    const wanted = config.INLET_WRITER_DATASETS;
    if (wanted === undefined) return [...deps.datasets];
    const known = new Set(deps.datasets.map((d) => d.name));
    const unknown = wanted.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new Error(
        `INLET_WRITER_DATASETS names unknown datasets: ${unknown.join(", ")} (known: ${[...known].join(", ")})`,
      );
    }
    return deps.datasets.filter((d) => wanted.includes(d.name));
  };

  const startCurated = async (
    definition: DatasetDefinition,
    writer: ParquetWriter,
  ): Promise<CuratedWriter> => {
    const { name, settings } = definition;
    const stream = streamName(StreamName.Curated, prefix);
    const durable = DurableName.lakeWriter(name);
    await ensureConsumer(bus.jsm, stream, {
      durable,
      filterSubjects: [subjects.curated(name)],
      maxAckPending,
      ackWaitMs: config.INLET_WRITER_ACK_WAIT_MS,
      maxDeliver: -1,
      description: `lake-writer: ${name} into the curated zone`,
    });
    const schema = await registry.latest(name);
    if (schema === undefined)
      throw new Error(`dataset ${JSON.stringify(name)} has no schema in the registry`);
    const partitionBy = settings.partitionBy === PartitionBy.None ? PartitionBy.None : PartitionBy.EventDate;
    const writerInstance = await CuratedWriter.open({
      dataset: name,
      eventTimeField: settings.eventTimeField,
      nc: bus.nc,
      jsm: bus.jsm,
      consumer: await bus.js.consumers.get(stream, durable),
      stream,
      durable,
      schema,
      openTable: (s) =>
        CuratedTable.open({
          lakeDir: config.INLET_LAKE_DIR,
          dataset: name,
          avroSchema: s.schema,
          schemaVersion: s.version,
          partitionBy,
          eventTimeField: settings.eventTimeField,
          appId: durable,
          writer,
        }),
      registry,
      deadLetters,
      bounds,
      targetFileBytes: config.INLET_WRITER_TARGET_FILE_BYTES,
      partitioned: partitionBy === PartitionBy.EventDate,
      ackWaitMs: config.INLET_WRITER_ACK_WAIT_MS,
      fetch,
      logger,
      metrics,
      tracer: deps.tracer,
    });
    await writerInstance.start();
    return writerInstance;
  };

  const startRaw = async (): Promise<RawWriter> => {
    const stream = streamName(StreamName.Ingest, prefix);
    const durable = DurableName.RawWriter;
    await ensureConsumer(bus.jsm, stream, {
      durable,
      maxAckPending,
      ackWaitMs: config.INLET_WRITER_ACK_WAIT_MS,
      maxDeliver: -1,
      description: "lake-writer: every accepted event into the raw zone",
    });
    const writer = new RawWriter({
      consumer: await bus.js.consumers.get(stream, durable),
      nc: bus.nc,
      durable,
      openWriter: () => RawZoneWriter.create({ lakeDir: config.INLET_LAKE_DIR }),
      registry,
      deadLetters,
      bounds: { ...bounds, maxAgeMs: config.INLET_RAW_FLUSH_MS },
      fetch,
      logger,
      metrics,
    });
    await writer.start();
    return writer;
  };

  const startArchive = async (writer: ParquetWriter): Promise<DeadLetterArchive> => {
    const started = await DeadLetterArchive.open({
      js: bus.js,
      nc: bus.nc,
      stream: streamName(StreamName.Dlq, prefix),
      progress: await DeadLetterProgress.create(bus.nc, { prefix, replicas: config.INLET_STREAM_REPLICAS }),
      openTable: () =>
        CuratedTable.open({
          lakeDir: config.INLET_LAKE_DIR,
          dataset: DEAD_LETTERS_DATASET,
          avroSchema: DEAD_LETTER_TABLE_SCHEMA,
          schemaVersion: DEAD_LETTER_SCHEMA_VERSION,
          partitionBy: PartitionBy.EventDate,
          eventTimeField: DEAD_LETTER_TIME_FIELD,
          appId: DEAD_LETTER_APP_ID,
          writer,
        }),
      flushMs: config.INLET_WRITER_FLUSH_MS,
      maxBytes: DEAD_LETTER_MAX_BYTES,
      fetchExpiresMs: FETCH_EXPIRES_MS,
      logger,
      metrics,
    });
    await started.start();
    return started;
  };

  // The raw zone is off: INGEST must not keep every frame for a `raw-writer` nobody reads.
  const startCdc = async (writer: ParquetWriter): Promise<CdcWriter> => {
    const stream = streamName(StreamName.Cdc, prefix);
    const durable = DurableName.LakeWriterCdc;
    await ensureConsumer(bus.jsm, stream, {
      durable,
      filterSubjects: [subjects.all.cdc],
      maxAckPending: Math.min(maxAckPending, CDC_MAX_ACK_PENDING),
      ackWaitMs: config.INLET_WRITER_ACK_WAIT_MS,
      maxDeliver: -1,
      description: "lake-writer: changes of the CDC source applied to their tables",
    });
    const started = new CdcWriter({
      consumer: await bus.js.consumers.get(stream, durable),
      jsm: bus.jsm,
      stream,
      durable,
      registry,
      openTable: (schema, key) => {
        maintenance?.add(schema.dataset, durable);
        return CuratedTable.open({
          lakeDir: config.INLET_LAKE_DIR,
          dataset: schema.dataset,
          avroSchema: schema.schema,
          schemaVersion: schema.version,
          partitionBy: PartitionBy.None,
          appId: durable,
          primaryKey: key,
          writer,
        });
      },
      deadLetters,
      flushMs: config.INLET_WRITER_FLUSH_MS,
      maxBytes: config.INLET_WRITER_MAX_BYTES,
      ackWaitMs: config.INLET_WRITER_ACK_WAIT_MS,
      fetchExpiresMs: FETCH_EXPIRES_MS,
      logger,
      metrics,
    });
    started.start();
    return started;
  };

  const deleteRawConsumer = async (): Promise<void> => {
    const stream = streamName(StreamName.Ingest, prefix);
    if ((await deleteConsumerIfExists(bus.jsm, stream, DurableName.RawWriter)) === "deleted")
      logger.warn({ stream, consumer: DurableName.RawWriter }, "raw zone disabled: consumer deleted");
  };

  // A reconnect may have dropped frames in transit: each curated writer holds commits until they are back.
  const watchConnection = async (): Promise<void> => {
    for await (const status of bus.nc.status()) {
      if (status.type === "reconnect") {
        logger.warn({ server: status.server }, "nats reconnected");
        for (const writer of curated.values()) writer.onReconnect();
      } else if (status.type === "disconnect") {
        logger.warn({ server: status.server }, "nats disconnected");
      }
    }
  };

  const ready = (): boolean => {
    if (stopping || bus.nc.isClosed()) return false;
    if (config.INLET_RAW_ENABLED && !raw?.running) return false;
    if (config.INLET_WRITER_DEAD_LETTERS && !archive?.running) return false;
    if (config.INLET_WRITER_CDC && !cdc?.running) return false;
    return curated.size > 0 ? [...curated.values()].every((w) => w.running) : raw !== undefined;
  };

  return {
    get url() {
      return http?.url ?? "";
    },
    get maintenance() {
      return maintenance;
    },
    get deadLetters() {
      return archive;
    },
    get cdc() {
      return cdc;
    },
    curated,
    async start() {
      http = await createServiceHttp({
        port: config.INLET_LAKE_WRITER_PORT,
        ready,
        logger,
        ...(deps.metricsHandler === undefined ? {} : { metricsHandler: deps.metricsHandler }),
      });
      await ensureStreams(bus.jsm, streamSpecs({ replicas: config.INLET_STREAM_REPLICAS, prefix }));
      await registerDatasets(registry, deps.datasets);
      const datasets = selectedDatasets();
      void watchConnection();
      parquet = await ParquetWriter.create({
        rowGroupSize: ROW_GROUP_ROWS,
        memoryLimit: config.INLET_WRITER_DUCKDB_MEMORY,
        threads: config.INLET_WRITER_DUCKDB_THREADS,
      });
      for (const definition of datasets)
        curated.set(definition.name, await startCurated(definition, parquet));
      maintenance = TableMaintenance.create({
        writer: parquet,
        lakeDir: config.INLET_LAKE_DIR,
        tables: [
          ...datasets.map((d) => ({ dataset: d.name, appId: DurableName.lakeWriter(d.name) })),
          ...(config.INLET_WRITER_DEAD_LETTERS
            ? [{ dataset: DEAD_LETTERS_DATASET, appId: DEAD_LETTER_APP_ID }]
            : []),
        ],
        targetFileBytes: config.INLET_WRITER_TARGET_FILE_BYTES,
        compact: {
          intervalMs: config.INLET_WRITER_COMPACT_INTERVAL_MS,
          minFiles: config.INLET_WRITER_COMPACT_MIN_FILES,
        },
        vacuum: {
          intervalMs: config.INLET_WRITER_VACUUM_INTERVAL_MS,
          retentionMs: config.INLET_WRITER_VACUUM_RETENTION_MS,
        },
        logger,
        metrics,
      });
      maintenance.start();
      if (config.INLET_WRITER_DEAD_LETTERS) archive = await startArchive(parquet);
      if (config.INLET_WRITER_CDC) cdc = await startCdc(parquet);
      if (config.INLET_RAW_ENABLED) raw = await startRaw();
      else await deleteRawConsumer();
      logger.info(
        {
          datasets: datasets.map((d) => d.name),
          raw: config.INLET_RAW_ENABLED,
          deadLetters: config.INLET_WRITER_DEAD_LETTERS,
          cdc: config.INLET_WRITER_CDC,
          bounds,
        },
        "lake-writer running",
      );
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const results = await Promise.allSettled([
          ...[...curated.values()].map((w) => w.stop()),
          raw?.stop(),
          archive?.stop(),
          cdc?.stop(),
          maintenance?.stop(),
        ]);
        for (const r of results)
          if (r.status === "rejected") logger.error({ err: r.reason }, "writer stop failed");
        await parquet?.close();
        await bus.close();
        await http?.close();
      })();
      return stopped;
    },
  };
}
