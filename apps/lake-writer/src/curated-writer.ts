import { setTimeout as sleep, setImmediate as yieldToEventLoop } from "node:timers/promises";
import {
  checkFrameBody,
  type DeadLetters,
  Delivery,
  decodeFrame,
  FrameError,
  type FrameHead,
  readFrameHead,
  Stage,
} from "@inlet/bus";
import { ByteArena, type CuratedColumns, type CuratedTable, LakeError, LakeErrorCode } from "@inlet/lake";
import type { RegisteredSchema, SchemaRegistry } from "@inlet/schema";
import {
  consumedFrameAttributes,
  contextFromTraceparent,
  type Logger,
  type Span,
  SpanKind,
  type Tracer,
  traceIdFromTraceparent,
} from "@inlet/telemetry";
import type { Consumer, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ColumnsBuilder } from "./columns-builder.js";
import { FileSizer, type PartitionRows } from "./file-sizing.js";
import { frameSchema } from "./frame-schema.js";
import { type BatchEntry, type FlushBounds, FlushReason, MicroBatch } from "./micro-batch.js";
import { PullLoop } from "./pull-loop.js";
import { RecentFrames } from "./recent-frames.js";
import { RejectCode, type RejectedEvent, RowDecoder } from "./row-decoder.js";
import { type WriterGauges, type WriterMetrics, Zone } from "./writer-metrics.js";

/** What a {@link CuratedWriter} needs. */
export interface CuratedWriterOptions {
  readonly dataset: string;
  /** The dataset's event time field (a timestamp-millis field), for freshness. */
  readonly eventTimeField: string;
  /** The connection the consumer's deliveries are answered on. */
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** The durable pull consumer `lake-writer-<ds>` on `curated.<ds>`. */
  readonly consumer: Consumer;
  readonly stream: string;
  readonly durable: string;
  /** The dataset's newest schema at start: the table's schema. */
  readonly schema: RegisteredSchema;
  /** Opens the dataset's table for a schema version (txn appId = `durable`). */
  readonly openTable: (schema: RegisteredSchema) => Promise<CuratedTable>;
  readonly registry: SchemaRegistry;
  readonly deadLetters: DeadLetters;
  readonly bounds: FlushBounds;
  /** Target size of a data file, bytes: a flush starts when a partition's rows would fill one. */
  readonly targetFileBytes: number;
  /** True when the table is partitioned by `event_date` (from `eventTimeField`). */
  readonly partitioned: boolean;
  /** The consumer's ack wait, ms: buffered frames are kept alive well within it. */
  readonly ackWaitMs: number;
  /** Frames per fetch and how long a fetch waits, ms. */
  readonly fetch: { readonly maxMessages: number; readonly expiresMs: number };
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
  readonly tracer: Tracer;
}

/**
 * One buffered frame, kept as received until its flush decodes it: its body (a copy in its batch's
 * arena: the message's own bytes may share a larger read buffer), the schema it was written with, its trace,
 * its event count (a bound on any partition's rows in it), its span (ended at the commit), its
 * content id.
 */
interface BufferedFrame {
  readonly body: Buffer;
  readonly events: number;
  readonly writer: RegisteredSchema;
  readonly traceparent: string | undefined;
  readonly partitions: PartitionRows;
  readonly span: Span;
  readonly contentId: string | undefined;
}

type Batch = MicroBatch<Delivery, BufferedFrame>;

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
// A frame published again after a nats-server crash comes back within the upstream consumers' ack
// waits and the streams' 2-minute duplicate window: ten minutes covers both with room to spare.
const DUPLICATE_WINDOW_MS = 10 * 60_000;
const DUPLICATE_WINDOW_FRAMES = 100_000;
// Decoding a batch gives the event loop back this often (socket reads, acks, timers).
const YIELD_AFTER_MS = 10;

/**
 * Writes one dataset's curated frames into its Delta table, exactly once.
 *
 * Frames are buffered into a micro-batch, and a flush appends the batch's rows in ONE Delta commit
 * whose txn (appId = the consumer name) carries the highest stream sequence of the batch (a batch
 * too large for one file per partition is cut, in stream order, into several commits, each with
 * its own highest sequence); only then is every frame of the batch acked. After a crash the commit
 * may exist without the acks, so JetStream redelivers: a frame whose sequence is at or below the
 * committed txn version is acked without writing. A frame with the same events as one committed
 * recently (a stage published it again after a nats-server crash) is acked without writing too.
 *
 * That rule holds only if no frame is committed before an older one of the same consumer: the
 * txn version must mean "everything up to here". JetStream delivers in sequence order, so the risk
 * is a redelivery overtaking — a frame that is pending on the consumer but not held by this
 * writer (delivered to a writer that died, lost in transit across a reconnect, handed back) comes
 * back after a newer batch was committed, and would be skipped. Two guards keep that from
 * happening:
 * - frames this writer holds never expire: the ack wait is far above the flush interval and held
 *   frames get `working()` while a flush is slow, so they are never redelivered elsewhere;
 * - after start, a reconnect or a failed fetch, commits wait (the gate) until the server counts no
 *   more pending frames than this writer holds: every older delivery is back in hand.
 * One writer per consumer: two processes sharing `lake-writer-<ds>` would break the rule.
 */
export class CuratedWriter implements WriterGauges {
  readonly dataset: string;
  readonly zone = Zone.Curated;
  readonly #o: CuratedWriterOptions;
  readonly #log: Logger;
  readonly #tickMs: number;
  readonly #recent = new RecentFrames(DUPLICATE_WINDOW_MS, DUPLICATE_WINDOW_FRAMES);
  // Content ids of the frames in the batches in memory (filling and flushing).
  readonly #bufferedContent = new Set<string>();
  #table: CuratedTable;
  #decoder: RowDecoder;
  #committed = 0;
  #current: Batch;
  readonly #sizer: FileSizer;
  #flushing: Batch | undefined;
  #flushDone: Promise<void> | undefined;
  // The columns builder of the last batch decoded, reused by the next (see #decode).
  #builder: ColumnsBuilder | undefined;
  // The bodies of the filling batch's frames, copied back to back, and the arena of the batch
  // flushing: swapped at each flush, once the batch that used the other has settled. Two arenas
  // reused for good, rather than a buffer allocated per frame (the garbage collector's work).
  #bodies: ByteArena;
  #flushingBodies: ByteArena;
  #gateOpen = false;
  #gateCheck: Promise<void> | undefined;
  #loop: PullLoop | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #lastKeepAlive = 0;
  #lastCommitAt = 0;
  #newestEventAt = 0;

  private constructor(options: CuratedWriterOptions, table: CuratedTable) {
    this.#o = options;
    this.dataset = options.dataset;
    this.#log = options.logger.child({ dataset: options.dataset, consumer: options.durable });
    this.#tickMs = Math.max(20, Math.min(250, options.bounds.maxAgeMs / 4));
    this.#table = table;
    this.#decoder = new RowDecoder(options.schema, options.eventTimeField);
    this.#current = new MicroBatch(options.bounds);
    this.#sizer = new FileSizer(options.targetFileBytes);
    this.#sizer.learn(table.snapshot?.files);
    // A batch's bodies come to its byte bound and one frame past it (more only at a closed gate).
    this.#bodies = new ByteArena(Math.ceil(options.bounds.maxBytes * 1.25));
    this.#flushingBodies = new ByteArena(Math.ceil(options.bounds.maxBytes * 1.25));
  }

  /** Opens the dataset's table under its newest schema. */
  static async open(options: CuratedWriterOptions): Promise<CuratedWriter> {
    return new CuratedWriter(options, await options.openTable(options.schema));
  }

  /** The highest stream sequence committed to the table by this consumer (0 before the first). */
  get committedSeq(): number {
    return this.#committed;
  }

  /** True while the writer pulls frames. */
  get running(): boolean {
    return this.#loop !== undefined && !this.#stopping;
  }

  /** Reads where the table stopped, then starts pulling; commits wait until the gate opens. */
  async start(): Promise<void> {
    this.#committed = this.#table.committedVersion() ?? 0;
    await this.#checkGate();
    this.#o.metrics.watch(this);
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
    this.#loop = new PullLoop(this.#o.consumer, {
      ...this.#o.fetch,
      // Frames fetched wait at most one batch's worth of bytes for their turn: room for fetches of
      // several frames (a quarter of that made most fetches bring one frame).
      maxInboxBytes: this.#o.bounds.maxBytes,
      handle: (msg) => this.#handle(msg),
      onError: (err, msg) => {
        // A frame left unhandled, or a fetch cut short, leaves deliveries pending that we do not hold.
        this.#closeGate();
        if (msg === undefined) this.#log.warn({ err }, "fetch failed");
        else this.#log.error({ err, seq: msg.seq }, "frame handling failed, left for redelivery");
      },
    });
    this.#log.info({ committedSeq: this.#committed, gateOpen: this.#gateOpen }, "curated writer started");
  }

  /** After a reconnect, frames may have been lost in transit: hold commits until they are back. */
  onReconnect(): void {
    this.#closeGate();
  }

  /**
   * Stops pulling (the fetch in progress is handled), commits everything buffered and acks it.
   * Frames that cannot be committed now (disk failing, gate closed) are handed back with a nak.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#loop?.stop();
    clearInterval(this.#timer);
    while (this.#flushDone !== undefined) await this.#flushDone;
    if (!this.#gateOpen) await this.#checkGate().catch((err) => this.#log.warn({ err }, "gate check failed"));
    if (this.#gateOpen && this.#current.frames > 0) {
      this.#beginFlush(FlushReason.Stop);
      while (this.#flushDone !== undefined) await this.#flushDone;
    }
    this.#handBack(this.#current);
    this.#current = new MicroBatch(this.#o.bounds);
    this.#bodies.used = 0;
    this.#o.metrics.unwatch(this);
    this.#log.info({ committedSeq: this.#committed }, "curated writer stopped");
  }

  bufferedRows(): number {
    return this.#current.rows + (this.#flushing?.rows ?? 0);
  }

  lastCommitAt(): number {
    return this.#lastCommitAt;
  }

  newestEventAt(): number {
    return this.#newestEventAt;
  }

  async #handle(msg: JsMsg): Promise<void> {
    const seq = msg.seq;
    if (seq <= this.#committed) {
      // Committed before a crash or a lost ack: ack, never write twice.
      msg.ack();
      this.#o.metrics.frameSkipped(this.dataset, this.zone);
      return;
    }
    const delivery = new Delivery(this.#o.nc, msg);
    if (this.#current.swap(seq, delivery) || this.#flushing?.has(seq)) {
      // A redelivery of a frame in hand: the flush that holds it acks it.
      this.#o.metrics.frameSkipped(this.dataset, this.zone);
      return;
    }
    // Checked whole now (a bad frame is dead-lettered on arrival), decoded at the flush.
    let frame: FrameHead;
    let content: string;
    try {
      frame = readFrameHead(msg);
      content = checkFrameBody(msg, frame);
    } catch (err) {
      const e = err as FrameError;
      await this.#deadLetterFrame(msg, e instanceof FrameError ? e.code : "BAD_FRAME", String(e.message));
      return;
    }
    // The same events under a new sequence: published again upstream after a nats-server crash.
    const contentId = frame.count === 0 ? undefined : content;
    if (contentId !== undefined && (this.#recent.has(contentId) || this.#bufferedContent.has(contentId))) {
      msg.ack();
      this.#o.metrics.frameDuplicate(this.dataset, this.zone);
      this.#log.warn(
        { seq, msgId: frame.msgId, contentId },
        "frame holds the same events as one already written, dropped",
      );
      return;
    }
    const writer = await frameSchema(frame.schemaId, {
      registry: this.#o.registry,
      log: this.#log,
      stopping: () => this.#stopping,
      refuse: (code, reason) => this.#deadLetterFrame(msg, code, reason),
    });
    if (writer === undefined) return;
    if (writer.version > this.#decoder.schema.version && !(await this.#upgrade(writer, msg))) return;
    try {
      this.#decoder.check(writer);
    } catch (err) {
      const reason = `dataset ${JSON.stringify(this.dataset)}: ${writer.id} cannot be read as ${this.#decoder.schema.id}: ${err instanceof Error ? err.message : String(err)}`;
      await this.#deadLetterFrame(msg, "INCOMPATIBLE_SCHEMA", reason);
      return;
    }
    // The payloads stay as received until the flush: a batch in memory weighs what it weighed on
    // the wire, and decoded rows live only while their flush stages them.
    const events = frame.count;
    this.#o.metrics.frameIn(this.dataset, this.zone, events);
    const partitions: PartitionRows = new Map(events === 0 ? [] : [[null, events]]);
    const span = this.#startSpan(frame);
    const at = this.#bodies.appendBytes(msg.data, 0, msg.data.length);
    const body = this.#bodies.bytes.subarray(at, at + msg.data.length);
    const item = { body, events, writer, traceparent: frame.traceparent, partitions, span, contentId };
    this.#current.add(seq, delivery, item, events, body.length, Date.now());
    if (contentId !== undefined) this.#bufferedContent.add(contentId);
    if (this.#gateOpen && (this.#current.full() || this.#fillsFile())) {
      // Backpressure: one flush at a time, so at most two batches are ever in memory.
      while (this.#flushDone !== undefined) await this.#flushDone;
      const reason = this.#due(Date.now());
      if (this.#gateOpen && reason !== undefined) this.#beginFlush(reason);
    }
  }

  #tick(): void {
    const now = Date.now();
    if (!this.#gateOpen) {
      // Never while a flush runs: its acks would make the server's count drop below what we held.
      if (this.#flushDone === undefined)
        this.#gateCheck ??= this.#checkGate()
          .catch((err) => this.#log.warn({ err }, "gate check failed"))
          .finally(() => {
            this.#gateCheck = undefined;
          });
    } else if (this.#flushDone === undefined) {
      const reason = this.#due(now);
      if (reason !== undefined) this.#beginFlush(reason);
    }
    this.#keepAlive(now);
  }

  // Tells the server that frames held long (a slow flush, a closed gate) are still being worked
  // on, so their ack wait never runs out and no redelivery can overtake them.
  #keepAlive(now: number): void {
    const every = this.#o.ackWaitMs / 4;
    if (now - this.#lastKeepAlive < every) return;
    this.#lastKeepAlive = now;
    for (const batch of [this.#flushing, this.#current]) {
      if (batch === undefined || batch.age(now) < every) continue;
      for (const entry of batch) entry.message.working();
    }
  }

  // Opens the gate once the server counts no more pending frames than we hold, counted before
  // asking: then every delivery still pending is one of ours and none can overtake a commit.
  async #checkGate(): Promise<void> {
    const held = this.#current.frames + (this.#flushing?.frames ?? 0) + (this.#loop?.inboxFrames ?? 0);
    const info = await this.#o.jsm.consumers.info(this.#o.stream, this.#o.durable);
    if (!this.#gateOpen && info.num_ack_pending <= held) {
      this.#gateOpen = true;
      if (held > 0) this.#log.info({ held }, "every pending frame in hand, commits resume");
    } else if (!this.#gateOpen) {
      this.#log.debug(
        { held, pending: info.num_ack_pending },
        "waiting for pending frames before committing",
      );
    }
  }

  #closeGate(): void {
    if (this.#gateOpen) this.#log.warn("commits held until every pending frame is back in hand");
    this.#gateOpen = false;
  }

  // Why the filling batch must be flushed now: a bound, its age, or a partition filling a file.
  #due(now: number): FlushReason | undefined {
    return this.#current.due(now) ?? (this.#fillsFile() ? FlushReason.File : undefined);
  }

  // Whether the batch's rows could fill a file: its rows bound those of any one partition.
  #fillsFile(): boolean {
    const batch = this.#current;
    if (batch.rows === 0) return false;
    return batch.rows >= this.#sizer.rowsPerFile(batch.bytes / batch.rows);
  }

  #beginFlush(reason: FlushReason): void {
    const batch = this.#current;
    if (batch.frames === 0) return;
    this.#current = new MicroBatch(this.#o.bounds);
    // Called with no flush in progress: the batch that used the other arena has settled.
    [this.#bodies, this.#flushingBodies] = [this.#flushingBodies, this.#bodies];
    this.#bodies.used = 0;
    this.#flushing = batch;
    this.#flushDone = this.#commit(batch, reason).finally(() => {
      this.#flushing = undefined;
      this.#flushDone = undefined;
    });
  }

  // Commits the batch, retrying with backoff until it lands (the frames stay un-acked meanwhile),
  // then acks every frame. When stopping, gives up after one failure and hands the frames back.
  async #commit(batch: Batch, reason: FlushReason): Promise<void> {
    const started = performance.now();
    let retryMs = FIRST_RETRY_MS;
    const written = { rows: 0 };
    for (;;) {
      try {
        await this.#append(batch, written);
        break;
      } catch (err) {
        if (err instanceof LakeError && err.code === LakeErrorCode.TxnAlreadyCommitted) {
          // Another process committed for this consumer (a second writer on it: misconfigured).
          this.#log.error({ err }, "another writer committed for this consumer");
          this.#committed = Math.max(this.#committed, this.#table.committedVersion() ?? 0);
          continue;
        }
        this.#o.metrics.flushFailed(this.dataset, this.zone);
        this.#log.error({ err, frames: batch.frames, rows: batch.rows, retryMs }, "flush failed");
        if (this.#stopping) {
          this.#handBack(batch);
          return;
        }
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
    const committed: string[] = [];
    for (const entry of batch) {
      entry.message.ack();
      entry.item.span.end();
      const { contentId } = entry.item;
      if (contentId === undefined) continue;
      committed.push(contentId);
      this.#bufferedContent.delete(contentId);
    }
    this.#recent.remember(committed, Date.now());
    this.#o.metrics.committed(
      this.dataset,
      this.zone,
      written.rows,
      (performance.now() - started) / 1000,
      reason,
    );
  }

  // Appends the batch's frames not committed yet, in stream order: one Delta commit, or several
  // when a partition holds more rows than one file of the target size (a batch that grew at the
  // gate), each with txn version = its highest sequence, so a crash between them leaves a prefix
  // committed and the rest to redo. Counts the rows committed into `written`.
  async #append(batch: Batch, written: { rows: number }): Promise<void> {
    if (batch.maxSeq <= this.#committed) return;
    const entries = [...batch].filter((e) => e.seq > this.#committed).sort((a, b) => a.seq - b.seq);
    const rowsPerFile = this.#sizer.rowsPerFile(batch.rows === 0 ? 0 : batch.bytes / batch.rows);
    for (const part of this.#sizer.split(entries, (e) => e.item.partitions, rowsPerFile)) {
      written.rows += await this.#appendPart(part);
    }
  }

  async #appendPart(entries: readonly BatchEntry<Delivery, BufferedFrame>[]): Promise<number> {
    let lastSeq = 0;
    for (const entry of entries) if (entry.seq > lastSeq) lastSeq = entry.seq;
    const decoded = { rows: 0, newest: 0 };
    const result = await this.#table.appendColumns(() => this.#decode(entries, decoded), lastSeq);
    this.#committed = lastSeq;
    this.#lastCommitAt = Date.now();
    if (decoded.newest > this.#newestEventAt) this.#newestEventAt = decoded.newest;
    this.#sizer.learn(this.#table.snapshot?.files);
    if (result.checkpointError !== undefined) {
      // The commit stands; the next commit tries the checkpoint again.
      this.#log.warn({ err: result.checkpointError, version: result.version }, "checkpoint failed");
    }
    this.#log.debug(
      {
        version: result.version,
        files: result.files,
        rows: result.rows,
        txn: lastSeq,
        ...(result.checkpoint === undefined ? {} : { checkpoint: result.checkpoint }),
      },
      "committed",
    );
    return result.rows;
  }

  // Decodes the frames into the table's columns, called when the Parquet writer is ready to stage
  // them. Events that cannot become rows are dead-lettered first (each dead letter has a
  // deterministic id, so a flush that is retried does not repeat one).
  async #decode(
    entries: readonly BatchEntry<Delivery, BufferedFrame>[],
    decoded: { rows: number; newest: number },
  ): Promise<CuratedColumns> {
    let capacity = 0;
    let bytes = 0;
    for (const entry of entries) {
      capacity += entry.item.events;
      bytes += entry.item.body.length;
    }
    const kinds = this.#table.dataColumnKinds;
    const tableColumns = this.#table.dataColumns.map((name, c) => ({ name, kind: kinds[c]! }));
    // One builder serves batch after batch: the append that read the last one has settled (one
    // flush at a time, its parts and retries one after another), so its memory is free again.
    let columns = this.#builder;
    if (columns === undefined || !columns.reuse(tableColumns, capacity)) {
      // Room for batches a little larger than this one. The text of the rows is at most about the
      // bodies' bytes (ids included), plus the trace ids.
      columns = new ColumnsBuilder(tableColumns, Math.ceil(capacity * 1.25), bytes + capacity * 32);
      this.#builder = columns;
    }
    const rejected: { event: RejectedEvent; traceparent: string | undefined }[] = [];
    const frameRejects: RejectedEvent[] = [];
    let yieldedAt = performance.now();
    for (const entry of entries) {
      if (performance.now() - yieldedAt >= YIELD_AFTER_MS) {
        await yieldToEventLoop();
        yieldedAt = performance.now();
      }
      const { body, traceparent } = entry.item;
      const traceId = traceIdFromTraceparent(traceparent) ?? "";
      frameRejects.length = 0;
      try {
        // It was checked when it arrived: walking it cannot fail on the frame itself.
        const newest = this.#decoder.decodeBody(body, entry.item.writer, traceId, columns, frameRejects);
        if (newest > decoded.newest) decoded.newest = newest;
      } catch (err) {
        // Readable when it arrived; a schema upgrade since made it unreadable: its events are dead letters.
        const reason = `dataset ${JSON.stringify(this.dataset)}: ${entry.item.writer.id} cannot be read as ${this.#decoder.schema.id}: ${err instanceof Error ? err.message : String(err)}`;
        for (const e of decodeFrame(body)) {
          frameRejects.push({
            eventId: e.id,
            code: RejectCode.Undecodable,
            reason,
            event: Buffer.from(e.payload).toString("base64"),
          });
        }
      }
      for (const event of frameRejects) rejected.push({ event, traceparent });
    }
    if (rejected.length > 0) {
      await Promise.all(rejected.map((r) => this.#deadLetterEvent(r.event, r.traceparent)));
    }
    decoded.rows = columns.rows;
    return columns.columns();
  }

  // Frames we hold but will not commit: nak them so the next writer gets them at once.
  #handBack(batch: Batch): void {
    for (const entry of batch) {
      entry.message.nak();
      entry.item.span.end();
      if (entry.item.contentId !== undefined) this.#bufferedContent.delete(entry.item.contentId);
    }
  }

  // A frame of a newer schema version: wait for the flush in progress, then reopen the table under
  // that version (the table's schema evolves: new nullable columns). False when it cannot be.
  async #upgrade(writer: RegisteredSchema, msg: JsMsg): Promise<boolean> {
    while (this.#flushDone !== undefined) await this.#flushDone;
    try {
      this.#table = await this.#o.openTable(writer);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await this.#deadLetterFrame(msg, err instanceof LakeError ? err.code : "SCHEMA_UPGRADE_FAILED", reason);
      return false;
    }
    this.#decoder = new RowDecoder(writer, this.#o.eventTimeField);
    this.#log.info({ schemaId: writer.id }, "table schema upgraded");
    return true;
  }

  async #deadLetterFrame(msg: JsMsg, code: string, reason: string): Promise<void> {
    await this.#o.deadLetters.frame({ stage: Stage.LakeWriter, dataset: this.dataset, msg, code, reason });
    msg.term();
    this.#o.metrics.deadLettered(this.dataset, this.zone, "frame");
    this.#log.error({ seq: msg.seq, code, reason }, "frame dead-lettered");
  }

  async #deadLetterEvent(rejected: RejectedEvent, traceparent: string | undefined): Promise<void> {
    await this.#o.deadLetters.event({
      stage: Stage.LakeWriter,
      dataset: this.dataset,
      code: rejected.code,
      reason: rejected.reason,
      ...(rejected.field === undefined ? {} : { field: rejected.field }),
      ...(rejected.expected === undefined ? {} : { expected: rejected.expected }),
      ...(rejected.got === undefined ? {} : { got: rejected.got }),
      eventId: rejected.eventId,
      event: rejected.event,
      ...(traceparent === undefined ? {} : { traceparent }),
    });
    this.#o.metrics.deadLettered(this.dataset, this.zone, "event");
  }

  #startSpan(frame: FrameHead): Span {
    return this.#o.tracer.startSpan(
      `process ${frame.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: consumedFrameAttributes(frame, this.#o.durable, Stage.LakeWriter),
      },
      contextFromTraceparent(frame.traceparent),
    );
  }
}
