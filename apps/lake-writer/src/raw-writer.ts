import { setTimeout as sleep, setImmediate as yieldToEventLoop } from "node:timers/promises";
import {
  type DeadLetters,
  Delivery,
  datasetOfSubject,
  FrameError,
  type FrameHead,
  readFrameHead,
  Stage,
  walkFrameBody,
} from "@inlet/bus";
import { RAW_RANGE_FIELDS, type RawFrameEvents, type RawZoneWriter } from "@inlet/lake";
import type { SchemaRegistry } from "@inlet/schema";
import { type Logger, traceIdFromTraceparent } from "@inlet/telemetry";
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { FrameInbox } from "./frame-inbox.js";
import { frameSchema } from "./frame-schema.js";
import { type FlushBounds, FlushReason, MicroBatch } from "./micro-batch.js";
import { type WriterGauges, type WriterMetrics, Zone } from "./writer-metrics.js";

/** What a {@link RawWriter} needs. */
export interface RawWriterOptions {
  /** The durable pull consumer `raw-writer` on INGEST. */
  readonly consumer: Consumer;
  /** The connection the consumer's deliveries are answered on. */
  readonly nc: NatsConnection;
  readonly durable: string;
  /** Opens a raw zone writer; called again after a failure (a failed writer must be replaced). */
  readonly openWriter: () => Promise<RawZoneWriter>;
  readonly registry: SchemaRegistry;
  readonly deadLetters: DeadLetters;
  /**
   * When a flush (fsync, then ack) is due: rows, frames, age (`INLET_RAW_FLUSH_MS`), and bytes.
   * `maxBytes` also bounds memory: frames fetched and not yet flushed hold at most that many
   * bytes, and a flush starts at half of it.
   */
  readonly bounds: FlushBounds;
  /** Most frames per fetch, and how long one fetch waits for frames, ms (at least 1000, a nats.js rule). */
  readonly fetch: { readonly maxMessages: number; readonly expiresMs: number };
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
}

/** A buffered ingest frame: its dataset and event count, for the metrics. */
interface RawFrame {
  readonly dataset: string;
  readonly events: number;
}

// A frame's events are in the raw zone writer's buffers once appended: the batch keeps only what
// acking needs, not the message and the read buffer its bytes may share.
type Batch = MicroBatch<Delivery, RawFrame>;

/** A batch being flushed, and the raw zone writer that holds its events. */
interface Flush {
  readonly batch: Batch;
  readonly writer: RawZoneWriter;
  readonly done: Promise<void>;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
// Appending gives the event loop back this often, so socket reads (pull heartbeats, acks) and
// timers never wait behind a long run of frames.
const YIELD_AFTER_MS = 10;

/**
 * Writes every accepted event, as received, into the raw zone (Avro container files) and acks
 * ingest frames once the files holding them are fsynced. At least once: after a failure or a
 * crash, frames written but not acked are written again on redelivery (exactly once is the curated
 * zone's promise).
 *
 * Two loops share the work. A {@link FrameInbox} fetches frames (as many as the byte bound leaves
 * room for) and never waits inside a fetch, so the server's heartbeats are always read. The
 * appender takes frames from the inbox and appends their events to the open files (compression and
 * writes run in the background). Once a bound is reached (age, bytes, rows or frames) the batch is
 * flushed, one fsync per file, then each of its frames acked; the appender goes on with the next
 * batch meanwhile (one flush at a time), so a slow disk delays acks, not intake.
 */
export class RawWriter implements WriterGauges {
  readonly dataset = "all";
  readonly zone = Zone.Raw;
  readonly #o: RawWriterOptions;
  readonly #log: Logger;
  readonly #batchBounds: FlushBounds;
  #writer: RawZoneWriter | undefined;
  #batch: Batch;
  #inbox: FrameInbox | undefined;
  #ranges = new Float64Array(1_000 * RAW_RANGE_FIELDS);
  #appending: Promise<void> | undefined;
  #flushing: Flush | undefined;
  #failure: { readonly err: unknown; readonly flush: Flush } | undefined;
  #stopping = false;
  #wakeAppender: (() => void) | undefined;
  #lastCommitAt = 0;

  constructor(options: RawWriterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ consumer: options.durable, zone: Zone.Raw });
    this.#batchBounds = { ...options.bounds, maxBytes: Math.max(1, Math.floor(options.bounds.maxBytes / 2)) };
    this.#batch = new MicroBatch(this.#batchBounds);
  }

  /** True while the writer pulls frames. */
  get running(): boolean {
    return this.#inbox !== undefined && !this.#stopping;
  }

  /** Opens the raw zone writer and starts pulling. */
  async start(): Promise<void> {
    this.#writer = await this.#o.openWriter();
    this.#o.metrics.watch(this);
    const { consumer, bounds, fetch } = this.#o;
    const inbox = new FrameInbox(consumer, {
      ...fetch,
      room: () => bounds.maxBytes - this.#heldBytes(),
      capacity: bounds.maxBytes,
      onFrame: () => this.#wakeAppender?.(),
      onFetchError: (err) => this.#log.warn({ err }, "fetch failed"),
    });
    this.#inbox = inbox;
    inbox.start();
    this.#appending = this.#append(inbox);
    this.#log.info("raw writer started");
  }

  /** Stops pulling (the fetch in progress ends), appends what was fetched, closes the files, acks. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#inbox?.stop();
    this.#wakeAppender?.();
    await this.#appending;
    this.#o.metrics.unwatch(this);
    this.#log.info("raw writer stopped");
  }

  bufferedRows(): number {
    return this.#batch.rows + (this.#flushing?.batch.rows ?? 0);
  }

  lastCommitAt(): number {
    return this.#lastCommitAt;
  }

  newestEventAt(): number {
    return 0;
  }

  // Frames fetched and not yet acked, in bytes: the inbox, the batch and the batch being flushed.
  #heldBytes(): number {
    return (this.#inbox?.bytes ?? 0) + this.#batch.bytes + (this.#flushing?.batch.bytes ?? 0);
  }

  async #append(inbox: FrameInbox): Promise<void> {
    let yieldedAt = performance.now();
    for (;;) {
      if (this.#failure !== undefined) await this.#flushFailed(this.#failure.err, this.#failure.flush);
      const msg = inbox.take();
      if (msg === undefined) {
        if (inbox.pulled) break;
        await this.#idle();
        this.#flushIfDue();
        yieldedAt = performance.now();
        continue;
      }
      try {
        await this.#appendFrame(msg);
      } catch (err) {
        this.#log.error({ err, seq: msg.seq }, "frame handling failed, left for redelivery");
      } finally {
        inbox.release(msg); // now in the batch, or done with
      }
      this.#flushIfDue();
      if (performance.now() - yieldedAt >= YIELD_AFTER_MS) {
        await yieldToEventLoop();
        yieldedAt = performance.now();
      }
    }
    await this.#flushing?.done;
    if (this.#failure !== undefined) await this.#flushFailed(this.#failure.err, this.#failure.flush);
    await this.#close();
  }

  // Waits for a frame, the end of the flush under way, the batch's age bound, or the end of pulling.
  async #idle(): Promise<void> {
    const waitMs =
      this.#flushing !== undefined || this.#batch.frames === 0
        ? undefined
        : Math.max(0, this.#o.bounds.maxAgeMs - this.#batch.age(Date.now()));
    await new Promise<void>((resolve) => {
      const timer = waitMs === undefined ? undefined : setTimeout(resolve, waitMs);
      this.#wakeAppender = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wakeAppender = undefined;
  }

  async #appendFrame(msg: JsMsg): Promise<void> {
    const delivery = new Delivery(this.#o.nc, msg);
    if (this.#batch.swap(msg.seq, delivery)) {
      this.#o.metrics.frameSkipped("all", this.zone);
      return;
    }
    let frame: FrameHead;
    let events: RawFrameEvents;
    try {
      frame = readFrameHead(msg);
      events = this.#eventsOf(msg, frame);
    } catch (err) {
      const e = err as FrameError;
      await this.#deadLetter(msg, e instanceof FrameError ? e.code : "BAD_FRAME", String(e.message));
      return;
    }
    const schema = await frameSchema(frame.schemaId, {
      registry: this.#o.registry,
      log: this.#log,
      stopping: () => this.#stopping,
      refuse: (code, reason) => this.#deadLetter(msg, code, reason),
    });
    if (schema === undefined) return;
    const writer = await this.#openWriter();
    try {
      await writer.appendFrame(frame.dataset, frame.schemaId, schema.schema, events);
    } catch (err) {
      await this.#failed(err, msg);
      return;
    }
    this.#o.metrics.frameIn(frame.dataset, this.zone, events.count);
    this.#batch.add(
      msg.seq,
      delivery,
      { dataset: frame.dataset, events: events.count },
      events.count,
      msg.data.length,
      Date.now(),
    );
  }

  // The frame's events as byte ranges of its body (the ranges array is reused: appendFrame copies
  // every event before the next frame is read). Throws FrameError when the body is not the frame
  // its head says.
  #eventsOf(msg: JsMsg, frame: FrameHead): RawFrameEvents {
    let count = 0;
    const bytes = walkFrameBody(msg, frame, (id, ingestedAt, start, end) => {
      const r = count++ * RAW_RANGE_FIELDS;
      if (r + RAW_RANGE_FIELDS > this.#ranges.length) {
        const bigger = new Float64Array(2 * this.#ranges.length);
        bigger.set(this.#ranges);
        this.#ranges = bigger;
      }
      const ranges = this.#ranges;
      ranges[r] = id.start;
      ranges[r + 1] = id.end;
      ranges[r + 2] = ingestedAt;
      ranges[r + 3] = start;
      ranges[r + 4] = end;
    });
    return { bytes, count, ranges: this.#ranges, traceId: traceIdFromTraceparent(frame.traceparent) ?? "" };
  }

  // Starts flushing the batch when a bound is reached and no flush is under way: its frames are
  // acked once the raw zone writer says they are on disk; the next batch fills meanwhile.
  #flushIfDue(): void {
    const writer = this.#writer;
    if (this.#flushing !== undefined || writer === undefined) return;
    const reason = this.#batch.due(Date.now());
    if (reason === undefined) return;
    const batch = this.#batch;
    this.#batch = new MicroBatch(this.#batchBounds);
    const started = performance.now();
    const done = writer
      .flush()
      .then(
        () => this.#acked(batch, reason, (performance.now() - started) / 1000),
        (err: unknown) => {
          this.#failure = { err, flush };
        },
      )
      .finally(() => {
        this.#flushing = undefined;
        this.#wakeAppender?.();
        this.#inbox?.wake();
      });
    const flush: Flush = { batch, writer, done };
    this.#flushing = flush;
  }

  // At the end: closes the files (every buffered event written, fsynced, renamed), then acks.
  async #close(): Promise<void> {
    const started = performance.now();
    try {
      await this.#writer?.close();
    } catch (err) {
      this.#log.error({ err }, "raw zone close failed, frames left for redelivery");
      for (const entry of this.#batch) entry.message.nak();
      this.#batch = new MicroBatch(this.#batchBounds);
      return;
    }
    const batch = this.#batch;
    this.#batch = new MicroBatch(this.#batchBounds);
    this.#acked(batch, FlushReason.Stop, (performance.now() - started) / 1000);
  }

  // Acks every frame of a batch whose events are on disk.
  #acked(batch: Batch, reason: FlushReason, seconds: number): void {
    const perDataset = new Map<string, number>();
    for (const entry of batch) {
      entry.message.ack();
      perDataset.set(entry.item.dataset, (perDataset.get(entry.item.dataset) ?? 0) + entry.item.events);
    }
    for (const [dataset, rows] of perDataset)
      this.#o.metrics.committed(dataset, this.zone, rows, seconds, reason);
    if (batch.frames > 0) this.#lastCommitAt = Date.now();
  }

  // A flush failed: its frames are handed back, and if its writer is still the one in use, that
  // writer is replaced and the frames appended to it since are handed back too.
  async #flushFailed(err: unknown, flush: Flush): Promise<void> {
    this.#failure = undefined;
    for (const entry of flush.batch) entry.message.nak();
    if (flush.writer === this.#writer) await this.#failed(err);
    else {
      this.#o.metrics.flushFailed("all", this.zone);
      this.#log.error({ err, frames: flush.batch.frames }, "raw zone write failed, frames handed back");
    }
  }

  // A raw zone writer that failed is replaced: what it had not fsynced is lost, so every frame of
  // the batch (and `msg`) is handed back for redelivery and written again. A flush under way on it
  // settles on its own: acked if its files made it to disk, handed back if not.
  async #failed(err: unknown, msg?: JsMsg): Promise<void> {
    this.#o.metrics.flushFailed("all", this.zone);
    this.#log.error({ err, frames: this.#batch.frames }, "raw zone write failed, frames handed back");
    for (const entry of this.#batch) entry.message.nak();
    msg?.nak();
    this.#batch = new MicroBatch(this.#batchBounds);
    this.#inbox?.wake();
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

  async #deadLetter(msg: JsMsg, code: string, reason: string): Promise<void> {
    await this.#o.deadLetters.frame({ stage: Stage.LakeWriter, msg, code, reason });
    msg.term();
    this.#o.metrics.deadLettered(datasetOfSubject(msg.subject) ?? "unknown", this.zone, "frame");
    this.#log.error({ seq: msg.seq, subject: msg.subject, code, reason }, "frame dead-lettered");
  }
}
