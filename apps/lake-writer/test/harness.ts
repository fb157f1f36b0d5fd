import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import {
  type Bus,
  connectBus,
  createSubjects,
  DurableName,
  ensureConsumer,
  ensureStreams,
  publishFrame,
  StreamName,
  type Subjects,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import type { Env } from "@inlet/config";
import { curatedTableDir, readDeltaSnapshot, snapshotScanSql } from "@inlet/lake";
import {
  type AvroSchema,
  createAvroType,
  type DatasetDefinition,
  formatSchemaId,
  registerDatasets,
  SchemaRegistry,
} from "@inlet/schema";
import {
  createLogger,
  initMetrics,
  type Logger,
  type LoggerOptions,
  type Metrics,
  trace,
} from "@inlet/telemetry";
import { uniqueName } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { loadConfig } from "../src/config.js";
import { createLakeWriter, type LakeWriter } from "../src/service.js";

/** The test dataset's first schema. */
export const ORDERS_V1: AvroSchema = {
  type: "record",
  name: "orders",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "item", type: "string" },
    { name: "qty", type: "int" },
  ],
};

/** Version 2 adds a nullable field. */
export const ORDERS_V2: AvroSchema = {
  type: "record",
  name: "orders",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "item", type: "string" },
    { name: "qty", type: "int" },
    { name: "coupon", type: ["null", "string"], default: null },
  ],
};

/** An order as the tests publish it. */
export interface Order {
  ts: number;
  item: string;
  qty: number;
  coupon?: string | null;
}

/** A dataset of exact amounts: Avro decimals, bytes and fixed. */
export const PAYMENTS_V1: AvroSchema = {
  type: "record",
  name: "payments",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 38, scale: 2 } },
    {
      name: "rate",
      type: [
        "null",
        { type: "fixed", name: "Rate", size: 8, logicalType: "decimal", precision: 12, scale: 6 },
      ],
      default: null,
    },
  ],
} as AvroSchema;

/** The test datasets: `orders` (two versions), `visits` and `payments` (one each). */
export function testDatasets(): DatasetDefinition[] {
  return [
    {
      name: "orders",
      settings: { eventTimeField: "ts", partitionBy: "event_date" },
      versions: [
        { version: 1, schema: ORDERS_V1 },
        { version: 2, schema: ORDERS_V2 },
      ],
    },
    {
      name: "visits",
      settings: { eventTimeField: "ts", partitionBy: "event_date" },
      versions: [
        {
          version: 1,
          schema: {
            type: "record",
            name: "visits",
            fields: [
              { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
              { name: "page", type: "string" },
            ],
          },
        },
      ],
    },
    {
      name: "payments",
      settings: { eventTimeField: "ts", partitionBy: "event_date" },
      versions: [{ version: 1, schema: PAYMENTS_V1 }],
    },
  ];
}

/** A W3C traceparent for tests. */
export const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/** Its trace id. */
export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

const types = { 1: createAvroType(ORDERS_V1), 2: createAvroType(ORDERS_V2) } as const;
const logger = createLogger({
  service: "lake-writer-test",
  level: (process.env.TEST_LOG_LEVEL ?? "silent") as LoggerOptions["level"],
});
let sharedMetrics: Metrics | undefined;

/** One process-wide Prometheus registry for the tests (it can be set up only once). */
export function testMetrics(): Metrics {
  sharedMetrics ??= initMetrics("lake-writer-test");
  return sharedMetrics;
}

/** A lake directory, streams under a unique prefix, a schema bucket: one test's world. */
export class Harness {
  readonly subjects: Subjects;
  readonly writers: LakeWriter[] = [];
  #eventCounter = 0;

  private constructor(
    readonly url: string,
    readonly bus: Bus,
    readonly registry: SchemaRegistry,
    readonly bucket: string,
    readonly lakeDir: string,
    readonly prefix: string,
  ) {
    this.subjects = createSubjects(prefix);
  }

  /**
   * Connects, creates the streams and registers the test datasets. By default under a unique
   * stream prefix and schema bucket; a test with a server of its own may use the production names.
   */
  static async create(url: string, names: { prefix?: string; bucket?: string } = {}): Promise<Harness> {
    const bus = await connectBus({ servers: url, name: "lake-writer-test" });
    const lakeDir = await mkdtemp(join(tmpdir(), "inlet-lake-"));
    const bucket = names.bucket ?? uniqueName("schemas");
    const prefix = names.prefix ?? uniqueName("lw");
    const registry = await SchemaRegistry.create(bus.nc, { bucket });
    const harness = new Harness(url, bus, registry, bucket, lakeDir, prefix);
    await ensureStreams(bus.jsm, streamSpecs({ prefix: harness.prefix }));
    await registerDatasets(harness.registry, testDatasets());
    return harness;
  }

  /** The CURATED (or another) stream's name under this test's prefix. */
  stream(name: StreamName = StreamName.Curated): string {
    return streamName(name, this.prefix);
  }

  /** Creates `lake-writer-<ds>` as the writer would, so frames published before it starts are kept. */
  async ensureCuratedConsumer(dataset: string, ackWaitMs = 30_000): Promise<void> {
    await ensureConsumer(this.bus.jsm, this.stream(), {
      durable: DurableName.lakeWriter(dataset),
      filterSubjects: [this.subjects.curated(dataset)],
      maxAckPending: 2_000,
      ackWaitMs,
      maxDeliver: -1,
    });
  }

  /** Starts a lake-writer on its own connection; `env` overrides the test defaults, `log` the silent logger. */
  async startWriter(env: Env = {}, log: Logger = logger): Promise<LakeWriter> {
    const config = loadConfig({
      INLET_LAKE_DIR: this.lakeDir,
      INLET_LAKE_WRITER_PORT: "0",
      INLET_WRITER_FLUSH_MS: "200",
      INLET_RAW_ENABLED: "false",
      INLET_WRITER_DATASETS: "orders",
      ...env,
    });
    const bus = await connectBus({ servers: this.url, name: "lake-writer" });
    const registry = await SchemaRegistry.create(bus.nc, { bucket: this.bucket });
    const metrics = testMetrics();
    const writer = createLakeWriter({
      config,
      bus,
      registry,
      datasets: testDatasets(),
      logger: log,
      tracer: trace.getTracer("lake-writer-test"),
      meter: metrics.meter,
      metricsHandler: metrics.handler,
      prefix: this.prefix,
    });
    this.writers.push(writer);
    await writer.start();
    return writer;
  }

  /** Orders with increasing times on 2024-03-01 (UTC) unless given. */
  orders(count: number, base: Partial<Order> = {}): Order[] {
    return Array.from({ length: count }, () => {
      const n = this.#eventCounter++;
      return { ts: Date.UTC(2024, 2, 1) + n * 1000, item: `item-${n}`, qty: n % 7, ...base };
    });
  }

  /** Publishes one frame of orders to `curated.orders` (schema `version`); resolves to its stream sequence. */
  async publishOrders(
    orders: readonly Order[],
    options: { version?: 1 | 2; traceparent?: string } = {},
  ): Promise<number> {
    const version = options.version ?? 2;
    const type = types[version];
    const events = orders.map((o) => ({
      id: `ev-${o.item}`,
      // Half a second after the event (capped: test events far in the future still get a sane ingest time).
      ingestedAt: Math.min(o.ts, Date.UTC(2030, 0, 1)) + 500,
      payload: type.toBuffer(version === 1 ? { ts: o.ts, item: o.item, qty: o.qty } : { coupon: null, ...o }),
    }));
    const ack = await publishFrame(this.bus.js, this.subjects.curated("orders"), {
      events,
      schemaId: formatSchemaId("orders", version),
      msgId: uniqueName("frame"),
      ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
    });
    return ack.seq;
  }

  /** The rows of a dataset's curated table (`select` of each), read with DuckDB over its current Delta snapshot. */
  async rows(dataset = "orders", orderBy = "_event_id", select = "*"): Promise<Record<string, unknown>[]> {
    const snapshot = await readDeltaSnapshot(curatedTableDir(this.lakeDir, dataset));
    if (snapshot === undefined) return [];
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      await connection.run("SET TimeZone = 'UTC'");
      const reader = await connection.runAndReadAll(
        `SELECT ${select} FROM (${snapshotScanSql(snapshot)}) ORDER BY ${orderBy}`,
      );
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  /** The first message of the DLQ stream (waiting up to 5 s for one), or null. */
  async firstDeadLetter(): Promise<JsMsg | null> {
    const dlq = await this.bus.js.consumers.get(this.stream(StreamName.Dlq));
    return dlq.next({ expires: 5_000 });
  }

  /** Unacknowledged frames of a consumer. */
  async pending(durable: string, stream = this.stream()): Promise<number> {
    return (await this.bus.jsm.consumers.info(stream, durable)).num_ack_pending;
  }

  /** Stops every writer still running, closes the connection, removes the lake. */
  async close(): Promise<void> {
    await Promise.allSettled(this.writers.map((w) => w.stop()));
    await this.bus.close();
    await rm(this.lakeDir, { recursive: true, force: true });
  }
}

/** `natsTest` with a {@link Harness} on its server, closed after each test. */
export const harnessTest = natsTest.extend<{ harness: Harness }>({
  harness: async ({ nats }, use) => {
    const harness = await Harness.create(nats.url);
    try {
      await use(harness);
    } finally {
      await harness.close();
    }
  },
});
