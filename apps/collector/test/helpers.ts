import { join } from "node:path";
import {
  type Bus,
  connectBus,
  createSubjects,
  ensureConsumer,
  ensureStreams,
  StreamName,
  type Subjects,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import { createLogger, initMetrics, initTelemetry, type Metrics, trace } from "@inlet/telemetry";
import { findRepoRoot, uniqueName } from "@inlet/testing";
import type { StoredMsg } from "@nats-io/jetstream";
import { loadConfig } from "../src/config.js";
import type { ErrorAnswer } from "../src/ingest.js";
import type { IngestResponse } from "../src/response.js";
import { type Collector, createCollector } from "../src/service.js";

// One telemetry and metrics setup per test file (they register globals): valid trace ids in frames.
initTelemetry({ serviceName: "collector-test" });
const metrics: Metrics = initMetrics("collector-test");

/** A collector on its own streams, subjects and schema bucket of a shared nats-server. */
export interface TestCollector {
  collector: Collector;
  /** The test's own connection, for reading streams and sending requests. */
  bus: Bus;
  prefix: string;
  subjects: Subjects;
  schemaBucket: string;
  stream(name: StreamName): string;
  /** POSTs `body` to `/v1/events/<dataset><query>`. */
  post(dataset: string, body: string, headers?: Record<string, string>, query?: string): Promise<Response>;
  close(): Promise<void>;
}

/** Options of {@link startTestCollector}. */
export interface TestCollectorOptions {
  /** Extra environment for loadConfig. */
  env?: Record<string, string>;
  /** INGEST byte limit (default 16 MiB). */
  ingestMaxBytes?: number;
  /** Create a durable consumer on INGEST first (default true): without one, frames would be dropped. */
  ingestConsumer?: boolean;
  /** Let the collector create the pipeline's consumers (default false: tests read INGEST themselves). */
  provisionConsumers?: boolean;
  /** Runs before the collector starts, e.g. to put something in the schema bucket. */
  beforeStart?: (setup: { bus: Bus; schemaBucket: string }) => Promise<void>;
}

const STREAM_BYTES = 16 * 1024 ** 2;

/** Name of the test's durable consumer on INGEST (it never acks, so frames stay readable). */
export const READER = "reader";

/** Starts a collector against `natsUrl` with the repo's config/datasets. */
export async function startTestCollector(
  natsUrl: string,
  options: TestCollectorOptions = {},
): Promise<TestCollector> {
  const prefix = uniqueName("c");
  const schemaBucket = uniqueName("schemas");
  const subjects = createSubjects(prefix);
  const maxBytes = {
    INGEST: options.ingestMaxBytes ?? STREAM_BYTES,
    PROCESSED: STREAM_BYTES,
    CURATED: STREAM_BYTES,
    CDC: STREAM_BYTES,
    DLQ: STREAM_BYTES,
    ALERTS: STREAM_BYTES,
  };
  const bus = await connectBus({ servers: natsUrl, name: "collector-test", reconnectTimeWaitMs: 100 });
  await ensureStreams(bus.jsm, streamSpecs({ prefix, maxBytes }));
  if (options.ingestConsumer ?? true) {
    await ensureConsumer(bus.jsm, streamName(StreamName.Ingest, prefix), { durable: READER });
  }
  const config = loadConfig({
    INLET_NATS_URL: natsUrl,
    INLET_COLLECTOR_PORT: "0",
    INLET_CONFIG_DIR: join(findRepoRoot() ?? process.cwd(), "config"),
    INLET_COLLECTOR_PUBLISH_TIMEOUT: "2s",
    INLET_COLLECTOR_RETRY_AFTER: "3s",
    ...options.env,
  });
  const collector = createCollector({
    config,
    logger: createLogger({ service: "collector", level: "silent" }),
    tracer: trace.getTracer("collector-test"),
    meter: metrics.meter,
    metricsHandler: metrics.handler,
    prefix,
    streamMaxBytes: maxBytes,
    schemaBucket,
    interestIntervalMs: 200,
    provisionConsumers: options.provisionConsumers ?? false,
  });
  await options.beforeStart?.({ bus, schemaBucket });
  try {
    await collector.start();
  } catch (error) {
    await collector.stop();
    await bus.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    collector,
    bus,
    prefix,
    subjects,
    schemaBucket,
    stream: (name) => streamName(name, prefix),
    post: (dataset, body, headers = {}, query = "") =>
      fetch(`${collector.url}/v1/events/${dataset}${query}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      }),
    // Once, however often it is called (a test may stop the collector before its cleanup does).
    close() {
      closing ??= collector.stop().then(() => bus.close());
      return closing;
    },
  };
}

/** Every message a stream holds, read by sequence (small streams only). */
export async function storedMessages(bus: Bus, stream: string): Promise<StoredMsg[]> {
  const { state } = await bus.jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg !== null) out.push(msg);
  }
  return out;
}

/** A valid `clicks` event (schema version 1 and 2), with `overrides` applied. */
export function click(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ts: 1_767_225_600_000,
    user_id: "u-1",
    session_id: "s-1",
    page: "/products/42",
    referrer: null,
    country: "DE",
    device: "mobile",
    user_agent: "Mozilla/5.0",
    duration_ms: 1200,
    ...overrides,
  };
}

/** The body of an ingest answer (200, 400 with results, 503 with failures). */
export async function ingestAnswer(res: Response): Promise<IngestResponse> {
  return (await res.json()) as IngestResponse;
}

/** The body of a request refused as a whole: `{ error: { code, message } }`. */
export async function errorAnswer(res: Response): Promise<ErrorAnswer["error"]> {
  return ((await res.json()) as ErrorAnswer).error;
}
