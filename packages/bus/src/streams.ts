import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { BusError, BusErrorCode } from "./errors.js";
import { createSubjects } from "./subjects.js";

/** The streams of the contract; with a prefix the name becomes `<prefix>_<NAME>`. */
export const StreamName = {
  Ingest: "INGEST",
  Processed: "PROCESSED",
  Curated: "CURATED",
  Dlq: "DLQ",
  Alerts: "ALERTS",
  Cdc: "CDC",
} as const;

/** One of {@link StreamName}. */
export type StreamName = (typeof StreamName)[keyof typeof StreamName];

/** The durable consumer names of the contract. */
export const DurableName = {
  /** The processor, on INGEST. */
  Processor: "processor",
  /** The lake-writer's raw zone, on INGEST. */
  RawWriter: "raw-writer",
  /** The enricher, on PROCESSED. */
  Enricher: "enricher",
  /** The lake-writer of one dataset, on CURATED (filtered to `curated.<ds>`). */
  lakeWriter: (dataset: string): string => `lake-writer-${dataset}`,
  /** The lake-writer's CDC tables, on CDC (every `cdc.<db>.<table>`). */
  LakeWriterCdc: "lake-writer-cdc",
} as const;

/** A stream definition: a JetStream StreamConfig with at least name and subjects. */
export type StreamSpec = Partial<StreamConfig> & Pick<StreamConfig, "name" | "subjects">;

/** Default byte limit of INGEST, PROCESSED, CURATED and CDC: 1 GiB each. */
export const DEFAULT_PIPELINE_MAX_BYTES = 1024 ** 3;
/** Default byte limit of DLQ and ALERTS: 256 MiB each (oldest removed first). */
export const DEFAULT_ARCHIVE_MAX_BYTES = 256 * 1024 ** 2;
/** How long DLQ and ALERTS keep messages: 7 days, in ms. */
export const ARCHIVE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** The duplicate window of every stream: 2 minutes, in ms. */
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** Options of {@link streamSpecs}. */
export interface StreamSpecOptions {
  /** Replicas per stream (`INLET_STREAM_REPLICAS`, default 1; 3 on a cluster). */
  replicas?: number;
  /** Byte limit per stream, overriding the defaults. */
  maxBytes?: Partial<Record<StreamName, number>>;
  /** Prefix for stream names and subjects, so tests can share a server (`t1` → `t1_INGEST` on `t1.ingest.*`). */
  prefix?: string;
}

/** The name of stream `name` under `prefix`: `INGEST`, or `t1_INGEST`. */
export function streamName(name: StreamName, prefix = ""): string {
  return prefix === "" ? name : `${prefix}_${name}`;
}

/**
 * The six streams of the contract. INGEST, PROCESSED, CURATED and CDC: interest retention, discard
 * new, a byte limit (a message leaves when every consumer acked it; a full stream refuses writes).
 * DLQ and ALERTS: limits retention, 7 days. All: file storage, 2-minute duplicate window.
 *
 * Interest retention keeps a message only for consumers that exist when it arrives: create the
 * durable consumers before anything publishes.
 */
export function streamSpecs(options: StreamSpecOptions = {}): StreamSpec[] {
  const { replicas = 1, maxBytes = {}, prefix = "" } = options;
  const all = createSubjects(prefix).all;
  const common = {
    storage: StorageType.File,
    num_replicas: replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  const pipeline = (name: StreamName, subject: string, description: string): StreamSpec => ({
    ...common,
    name: streamName(name, prefix),
    description,
    subjects: [subject],
    retention: RetentionPolicy.Interest,
    discard: DiscardPolicy.New,
    max_bytes: maxBytes[name] ?? DEFAULT_PIPELINE_MAX_BYTES,
    max_age: 0,
  });
  const archive = (name: StreamName, subject: string, description: string): StreamSpec => ({
    ...common,
    name: streamName(name, prefix),
    description,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: maxBytes[name] ?? DEFAULT_ARCHIVE_MAX_BYTES,
    max_age: nanos(ARCHIVE_MAX_AGE_MS),
  });
  return [
    pipeline(StreamName.Ingest, all.ingest, "frames accepted by the collector"),
    pipeline(StreamName.Processed, all.processed, "frames validated and transformed by the processor"),
    pipeline(StreamName.Curated, all.curated, "frames enriched, ready for the lake"),
    pipeline(StreamName.Cdc, all.cdc, "change frames from the CDC source"),
    archive(StreamName.Dlq, all.dlq, "dead letters: rejected events and frames, with the reason"),
    archive(StreamName.Alerts, all.alerts, "alerts raised by the processor's rules"),
  ];
}

/** What {@link ensureStreams} and {@link ensureConsumer} did. */
export type EnsureAction = "created" | "updated" | "unchanged";

// Fields JetStream cannot change on an existing stream or consumer.
const FIXED_STREAM_FIELDS = ["retention", "storage"] as const;
const FIXED_CONSUMER_FIELDS = ["ack_policy", "deliver_policy"] as const;

/**
 * Creates each stream, or updates it when it exists with different settings; idempotent. Throws
 * {@link BusError} (CONFIG_CONFLICT) when a setting that cannot change (retention, storage) differs.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  specs: readonly StreamSpec[],
): Promise<Record<string, EnsureAction>> {
  const actions: Record<string, EnsureAction> = {};
  for (const spec of specs) {
    const existing = await jsm.streams.info(spec.name).catch(notFoundAsUndefined);
    if (existing === undefined) {
      await jsm.streams.add(spec);
      actions[spec.name] = "created";
      continue;
    }
    const current = existing.config as unknown as Record<string, unknown>;
    assertFixed(`stream ${spec.name}`, FIXED_STREAM_FIELDS, spec, current);
    if (differs(spec, current)) {
      const { name, retention: _r, storage: _s, ...update } = spec;
      await jsm.streams.update(name, update);
      actions[spec.name] = "updated";
    } else {
      actions[spec.name] = "unchanged";
    }
  }
  return actions;
}

/** Options of {@link ensureConsumer}. */
export interface ConsumerSpec {
  durable: string;
  /** Subjects the consumer receives (default: the whole stream). */
  filterSubjects?: string[];
  /** Unacknowledged messages the server lets the consumer hold: the backpressure (default 1,000). */
  maxAckPending?: number;
  /** How long an unacknowledged message waits before redelivery, in ms (default 30 s). */
  ackWaitMs?: number;
  /** Deliveries before the server gives up (default -1: never; our consume loop decides dead-lettering). */
  maxDeliver?: number;
  description?: string;
}

/** Creates a durable pull consumer with explicit ack on `stream`, or updates it to `spec`; idempotent. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  spec: ConsumerSpec,
): Promise<EnsureAction> {
  const config = {
    durable_name: spec.durable,
    ack_policy: "explicit",
    deliver_policy: "all",
    filter_subjects: spec.filterSubjects ?? [],
    max_ack_pending: spec.maxAckPending ?? 1_000,
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    max_deliver: spec.maxDeliver ?? -1,
    ...(spec.description === undefined ? {} : { description: spec.description }),
  } as const;
  const existing = await jsm.consumers.info(stream, spec.durable).catch(notFoundAsUndefined);
  if (existing === undefined) {
    const { filter_subjects, ...rest } = config;
    await jsm.consumers.add(stream, { ...rest, ...filterFields(filter_subjects) });
    return "created";
  }
  const current = existing.config as unknown as Record<string, unknown>;
  assertFixed(`consumer ${stream}/${spec.durable}`, FIXED_CONSUMER_FIELDS, config, current);
  const comparable = { ...current, filter_subjects: filtersOf(current) };
  if (!differs(config, comparable)) return "unchanged";
  const { durable_name, ack_policy: _a, deliver_policy: _d, filter_subjects, ...update } = config;
  // nats.js sends the update merged over the server's config: clear the form of filter not sent,
  // or a consumer whose filters went from several to one (or back) would be refused for holding both.
  await jsm.consumers.update(stream, durable_name, {
    ...update,
    filter_subject: undefined,
    filter_subjects: undefined,
    ...filterFields(filter_subjects),
  });
  return "updated";
}

// One filter goes as `filter_subject`: nats-server 2.10 serves a consumer created with a one-element
// `filter_subjects` list about 10x slower (measured: a 256-message fetch took 90-240 ms vs 11 ms).
function filterFields(filters: readonly string[]): { filter_subject?: string; filter_subjects?: string[] } {
  if (filters.length === 1) return { filter_subject: filters[0]! };
  return filters.length === 0 ? {} : { filter_subjects: [...filters] };
}

// The server reports one filter as `filter_subject` and several as `filter_subjects`.
function filtersOf(config: Record<string, unknown>): string[] {
  if (Array.isArray(config.filter_subjects)) return config.filter_subjects as string[];
  return typeof config.filter_subject === "string" && config.filter_subject !== ""
    ? [config.filter_subject]
    : [];
}

function differs(wanted: object, current: Record<string, unknown>): boolean {
  return Object.entries(wanted).some(
    ([key, value]) => JSON.stringify(value) !== JSON.stringify(current[key]),
  );
}

function assertFixed(
  what: string,
  fields: readonly string[],
  wanted: object,
  current: Record<string, unknown>,
): void {
  for (const field of fields) {
    const value = (wanted as Record<string, unknown>)[field];
    if (value !== undefined && value !== current[field]) {
      throw new BusError(
        `${what} has ${field} ${String(current[field])}, wanted ${String(value)}; it cannot be changed in place (delete and recreate it)`,
        BusErrorCode.ConfigConflict,
      );
    }
  }
}

function notFoundAsUndefined(err: unknown): undefined {
  const notFound =
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound);
  if (notFound) return undefined;
  throw err;
}
