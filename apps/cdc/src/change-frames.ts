import { setTimeout as sleep } from "node:timers/promises";
import {
  BusError,
  BusErrorCode,
  collectorFrameId,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_FRAME_EVENTS,
  type DeadLetters,
  type FrameEvent,
  publishFrame,
  Stage,
  type Subjects,
} from "@inlet/bus";
import {
  ATTR_INLET_DATASET,
  ATTR_INLET_SCHEMA_ID,
  ATTR_INLET_STAGE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_SYSTEM,
  type Logger,
  MESSAGING_SYSTEM_VALUE_NATS,
  SpanKind,
  type Tracer,
  traceparentOfSpan,
  withSpan,
} from "@inlet/telemetry";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { CapturedTable } from "./captured-table.js";
import type { CdcMetrics } from "./cdc-metrics.js";

/** What a {@link ChangeFrames} needs. */
export interface ChangeFramesOptions {
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  /** The `<db>` of `cdc.<db>.<table>`. */
  readonly subjectDatabase: string;
  readonly deadLetters: DeadLetters;
  readonly tracer: Tracer;
  readonly logger: Logger;
  readonly metrics: CdcMetrics;
  /** How long to wait before publishing again while the bus refuses (stream full, server away), ms. */
  readonly retryMs: number;
  /** True once the source is stopping: a publish that keeps failing then gives up (nothing is acked). */
  readonly stopping: () => boolean;
  readonly maxFrameEvents?: number;
  readonly maxFrameBytes?: number;
}

interface Pending {
  readonly table: CapturedTable;
  readonly schemaId: string;
  readonly events: FrameEvent[];
  bytes: number;
}

/** Thrown by a publish given up on because the source is stopping. */
export class StoppingError extends Error {
  override readonly name = "StoppingError";
}

// A frame event's ids, time and length prefixes, beside its payload.
const EVENT_OVERHEAD_BYTES = 64;

/**
 * Changes waiting to be published, a frame's worth at most per dataset, in the order they came. A
 * dataset's frame goes out when it is full, when its schema version changes, or on {@link flush};
 * each publish is retried until JetStream accepts it (a full stream is backpressure: the caller
 * waits, and so does the replication stream behind it). Publishes are in order: a frame is accepted
 * before the next one is sent.
 */
export class ChangeFrames {
  readonly #options: ChangeFramesOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  #events = 0;

  constructor(options: ChangeFramesOptions) {
    this.#options = options;
    this.#maxEvents = options.maxFrameEvents ?? DEFAULT_MAX_FRAME_EVENTS;
    this.#maxBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Changes held, not yet published. */
  get pendingEvents(): number {
    return this.#events;
  }

  /** Adds one change of `table`; publishes the dataset's frame first or after when it must. */
  async add(table: CapturedTable, event: FrameEvent): Promise<void> {
    const size = event.payload.length + event.id.length + EVENT_OVERHEAD_BYTES;
    if (size > this.#maxBytes) {
      await this.#tooLarge(table, event, size);
      return;
    }
    let pending = this.#pending.get(table.dataset);
    if (
      pending !== undefined &&
      (pending.schemaId !== table.schemaId || pending.bytes + size > this.#maxBytes)
    ) {
      await this.#publish(pending);
      pending = undefined;
    }
    if (pending === undefined) {
      pending = { table, schemaId: table.schemaId, events: [], bytes: 0 };
      this.#pending.set(table.dataset, pending);
    }
    pending.events.push(event);
    pending.bytes += size;
    this.#events++;
    if (pending.events.length >= this.#maxEvents) await this.#publish(pending);
  }

  /** Publishes every held change. */
  async flush(): Promise<void> {
    for (const pending of [...this.#pending.values()]) await this.#publish(pending);
  }

  /** Drops every held change (the stream restarts from the last acknowledged position). */
  clear(): void {
    this.#pending.clear();
    this.#events = 0;
  }

  async #publish(pending: Pending): Promise<void> {
    const { table, schemaId, events } = pending;
    const { js, subjects, subjectDatabase, tracer, logger, metrics } = this.#options;
    const subject = subjects.cdc(subjectDatabase, table.dataset);
    const msgId = collectorFrameId(
      table.dataset,
      events.map((e) => e.id),
    );
    const attributes = {
      [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
      [ATTR_MESSAGING_DESTINATION_NAME]: subject,
      [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: events.length,
      [ATTR_INLET_DATASET]: table.dataset,
      [ATTR_INLET_SCHEMA_ID]: schemaId,
      [ATTR_INLET_STAGE]: Stage.Cdc,
      "db.system.name": "postgresql",
      "db.collection.name": `${table.source.schema}.${table.source.table}`,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const ack = await withSpan(
          tracer,
          `publish ${subject}`,
          { kind: SpanKind.PRODUCER, attributes },
          (span) => {
            const traceparent = traceparentOfSpan(span);
            return publishFrame(js, subject, {
              events,
              schemaId,
              msgId,
              ...(traceparent === undefined ? {} : { traceparent }),
            });
          },
        );
        metrics.published(table.dataset, events.length, ack.duplicate);
        break;
      } catch (error) {
        if (!retriable(error)) throw error;
        if (this.#options.stopping()) throw new StoppingError("stopping: changes left unpublished");
        metrics.publishRetried(table.dataset);
        logger.warn(
          { err: error, dataset: table.dataset, attempt, retryInMs: this.#options.retryMs },
          "the bus does not take changes now: publishing again",
        );
        await sleep(this.#options.retryMs);
      }
    }
    this.#pending.delete(table.dataset);
    this.#events -= events.length;
  }

  // A change bigger than a frame can carry goes to the dead-letter stream, with the reason.
  async #tooLarge(table: CapturedTable, event: FrameEvent, size: number): Promise<void> {
    await this.#options.deadLetters.event({
      stage: Stage.Cdc,
      dataset: table.dataset,
      code: "CHANGE_TOO_LARGE",
      reason: `dataset "${table.dataset}": change ${event.id} is ${size} bytes encoded, more than a frame carries (${this.#maxBytes})`,
      eventId: event.id,
      event: { id: event.id, bytes: size },
    });
    this.#options.metrics.deadLettered(table.dataset);
  }
}

function retriable(error: unknown): boolean {
  return (
    error instanceof BusError &&
    (error.code === BusErrorCode.StreamFull || error.code === BusErrorCode.PublishTimeout)
  );
}
