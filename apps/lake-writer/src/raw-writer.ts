import { setTimeout as sleep } from "node:timers/promises";
import {
  type DeadLetters,
  datasetOfSubject,
  FrameError,
  type ReceivedFrame,
  readFrame,
  Stage,
} from "@inlet/bus";
import type { RawEvent, RawZoneWriter } from "@inlet/lake";
import { type RegisteredSchema, SchemaError, SchemaErrorCode, type SchemaRegistry } from "@inlet/schema";
import { type Logger, traceIdFromTraceparent } from "@inlet/telemetry";
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { type FlushBounds, type FlushReason, MicroBatch } from "./micro-batch.js";
import { PullLoop } from "./pull-loop.js";
import { type WriterGauges, type WriterMetrics, Zone } from "./writer-metrics.js";

/** What a {@link RawWriter} needs. */
export interface RawWriterOptions {
  /** The durable pull consumer `raw-writer` on INGEST. */
  readonly consumer: Consumer;
  readonly durable: string;
  /** Opens a raw zone writer; called again after a failure (a failed writer must be replaced). */
  readonly openWriter: () => Promise<RawZoneWriter>;
  readonly registry: SchemaRegistry;
  readonly deadLetters: DeadLetters;
  readonly bounds: FlushBounds;
  readonly fetch: { readonly maxMessages: number; readonly expiresMs: number };
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
}

/** A buffered ingest frame: its dataset and event count, for the metrics. */
interface RawFrame {
  readonly dataset: string;
  readonly events: number;
}

type Batch = MicroBatch<JsMsg, RawFrame>;

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/**
 * Writes every accepted event, as received, into the raw zone (Avro container files) and acks each
 * ingest frame once the files holding it are fsynced. At least once: after a failure or a crash,
 * frames written but not acked are written again on redelivery (exactly once is the curated
 * zone's promise). Appends happen as frames arrive; a flush (fsync) then ack runs on the same
 * triggers as the curated micro-batches.
 */
export class RawWriter implements WriterGauges {
  readonly dataset = "all";
  readonly zone = Zone.Raw;
  readonly #o: RawWriterOptions;
  readonly #log: Logger;
  readonly #schemas = new Map<string, RegisteredSchema>();
  #writer: RawZoneWriter | undefined;
  #batch: Batch;
  #loop: PullLoop | undefined;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #stopping = false;
  #flushQueued = false;
  #lastCommitAt = 0;

  constructor(options: RawWriterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ consumer: options.durable, zone: Zone.Raw });
    this.#batch = new MicroBatch(options.bounds);
  }

  /** True while the writer pulls frames. */
  get running(): boolean {
    return this.#loop !== undefined && !this.#stopping;
  }

  /** Opens the raw zone writer and starts pulling. */
  async start(): Promise<void> {
    this.#writer = await this.#o.openWriter();
    this.#o.metrics.watch(this);
    const tickMs = Math.max(20, Math.min(250, this.#o.bounds.maxAgeMs / 4));
    this.#timer = setInterval(() => {
      if (this.#flushQueued || this.#batch.due(Date.now()) === undefined) return;
      this.#flushQueued = true;
      void this.#exclusive(() => this.#flushIfDue()).finally(() => {
        this.#flushQueued = false;
      });
    }, tickMs);
    this.#loop = new PullLoop(this.#o.consumer, {
      ...this.#o.fetch,
      handle: (msg) => this.#exclusive(() => this.#handle(msg)),
      onError: (err, msg) => {
        if (msg === undefined) this.#log.warn({ err }, "fetch failed");
        else this.#log.error({ err, seq: msg.seq }, "frame handling failed, left for redelivery");
      },
    });
    this.#log.info("raw writer started");
  }

  /** Stops pulling, writes and fsyncs everything buffered, closes the files, acks. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#loop?.stop();
    clearInterval(this.#timer);
    await this.#exclusive(async () => {
      const batch = this.#batch;
      this.#batch = new MicroBatch(this.#o.bounds);
      try {
        await this.#writer?.close();
        this.#acked(batch, "stop");
      } catch (err) {
        this.#log.error({ err }, "raw zone close failed, frames left for redelivery");
        for (const entry of batch) entry.message.nak();
      }
    });
    this.#o.metrics.unwatch(this);
    this.#log.info("raw writer stopped");
  }

  bufferedRows(): number {
    return this.#batch.rows;
  }

  lastCommitAt(): number {
    return this.#lastCommitAt;
  }

  newestEventAt(): number {
    return 0;
  }

  // Handling and flushing take turns, so a flush covers exactly the frames appended before it.
  #exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(operation);
    this.#chain = run.catch(() => {});
    return run;
  }

  async #handle(msg: JsMsg): Promise<void> {
    if (this.#batch.swap(msg.seq, msg)) {
      this.#o.metrics.frameSkipped("all", this.zone);
      return;
    }
    let frame: ReceivedFrame;
    try {
      frame = readFrame(msg);
    } catch (err) {
      const e = err as FrameError;
      await this.#deadLetter(msg, e instanceof FrameError ? e.code : "BAD_FRAME", String(e.message));
      return;
    }
    const schema = await this.#schema(frame.schemaId, msg);
    if (schema === undefined) return;
    const traceId = traceIdFromTraceparent(frame.traceparent) ?? "";
    const events: RawEvent[] = frame.events.map((e) => ({
      id: e.id,
      ingestedAt: e.ingestedAt,
      traceId,
      payload: e.payload,
    }));
    const writer = await this.#openWriter();
    try {
      await writer.append(frame.dataset, frame.schemaId, schema.schema, events);
    } catch (err) {
      await this.#failed(err, msg);
      return;
    }
    this.#o.metrics.frameIn(frame.dataset, this.zone, events.length);
    this.#batch.add(
      msg.seq,
      msg,
      { dataset: frame.dataset, events: events.length },
      events.length,
      msg.data.length,
      Date.now(),
    );
    if (this.#batch.full()) await this.#flushIfDue();
  }

  async #flushIfDue(): Promise<void> {
    const reason = this.#batch.due(Date.now());
    if (reason === undefined || this.#writer === undefined) return;
    const batch = this.#batch;
    this.#batch = new MicroBatch(this.#o.bounds);
    const started = performance.now();
    try {
      await this.#writer.flush();
    } catch (err) {
      this.#batch = batch;
      await this.#failed(err);
      return;
    }
    this.#acked(batch, reason, (performance.now() - started) / 1000);
  }

  #acked(batch: Batch, reason: FlushReason, seconds = 0): void {
    const perDataset = new Map<string, number>();
    for (const entry of batch) {
      entry.message.ack();
      perDataset.set(entry.item.dataset, (perDataset.get(entry.item.dataset) ?? 0) + entry.item.events);
    }
    for (const [dataset, rows] of perDataset)
      this.#o.metrics.committed(dataset, this.zone, rows, seconds, reason);
    if (batch.frames > 0) this.#lastCommitAt = Date.now();
  }

  // A raw zone writer that failed is replaced: what it had not fsynced is lost, so every frame of
  // the batch (and `msg`) is handed back for redelivery and written again.
  async #failed(err: unknown, msg?: JsMsg): Promise<void> {
    this.#o.metrics.flushFailed("all", this.zone);
    this.#log.error({ err, frames: this.#batch.frames }, "raw zone write failed, frames handed back");
    for (const entry of this.#batch) entry.message.nak();
    msg?.nak();
    this.#batch = new MicroBatch(this.#o.bounds);
    const broken = this.#writer;
    this.#writer = undefined;
    await broken?.close().catch(() => {});
  }

  async #openWriter(): Promise<RawZoneWriter> {
    let retryMs = FIRST_RETRY_MS;
    while (this.#writer === undefined) {
      try {
        this.#writer = await this.#o.openWriter();
      } catch (err) {
        if (this.#stopping) throw err;
        this.#log.error({ err, retryMs }, "cannot open the raw zone");
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
    return this.#writer;
  }

  async #schema(schemaId: string, msg: JsMsg): Promise<RegisteredSchema | undefined> {
    const cached = this.#schemas.get(schemaId);
    if (cached !== undefined) return cached;
    let retryMs = FIRST_RETRY_MS;
    for (;;) {
      try {
        const schema = await this.#o.registry.get(schemaId);
        this.#schemas.set(schemaId, schema);
        return schema;
      } catch (err) {
        if (
          err instanceof SchemaError &&
          (err.code === SchemaErrorCode.NotFound || err.code === SchemaErrorCode.InvalidSchemaId)
        ) {
          await this.#deadLetter(msg, err.code, err.message);
          return undefined;
        }
        if (this.#stopping) throw err;
        this.#log.warn({ err, schemaId, retryMs }, "schema registry unavailable");
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  }

  async #deadLetter(msg: JsMsg, code: string, reason: string): Promise<void> {
    await this.#o.deadLetters.frame({ stage: Stage.LakeWriter, msg, code, reason });
    msg.term();
    this.#o.metrics.deadLettered(datasetOfSubject(msg.subject) ?? "unknown", this.zone, "frame");
    this.#log.error({ seq: msg.seq, subject: msg.subject, code, reason }, "frame dead-lettered");
  }
}
