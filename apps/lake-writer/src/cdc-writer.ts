import { setTimeout as sleep } from "node:timers/promises";
import { type DeadLetters, decodeFrame, Header, Stage } from "@inlet/bus";
import { type CuratedRow, type CuratedTable, LakeError, LakeErrorCode } from "@inlet/lake";
import {
  ChangeField,
  ChangeOp,
  cdcKeyOf,
  parseSchemaId,
  type RegisteredSchema,
  type SchemaRegistry,
} from "@inlet/schema";
import { type Logger, traceIdFromTraceparent } from "@inlet/telemetry";
import type { Consumer, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { FlushReason } from "./micro-batch.js";
import { type WriterGauges, type WriterMetrics, Zone } from "./writer-metrics.js";

/** The header value of a frame that empties the table. */
const TRUNCATE = "truncate";

/** What a {@link CdcWriter} needs. */
export interface CdcWriterOptions {
  /** The durable consumer on CDC (`lake-writer-cdc`): every `cdc.<db>.<table>`. */
  readonly consumer: Consumer;
  readonly jsm: JetStreamManager;
  /** The CDC stream's name. */
  readonly stream: string;
  readonly durable: string;
  readonly registry: SchemaRegistry;
  /** Opens a dataset's table (its txn appId the consumer's name) in a schema version, keyed by `key`. */
  readonly openTable: (schema: RegisteredSchema, key: readonly string[]) => Promise<CuratedTable>;
  readonly deadLetters: DeadLetters;
  /** Age of the oldest frame held before the changes are applied, ms. */
  readonly flushMs: number;
  /** Bytes of frames held before they are applied (a fetch past it; more while older deliveries are awaited). */
  readonly maxBytes: number;
  /** The consumer's ack wait, ms: held frames are marked in progress well within it. */
  readonly ackWaitMs: number;
  readonly fetchExpiresMs: number;
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
}

// One dataset's table and where it stands.
interface Dataset {
  table: CuratedTable;
  schema: RegisteredSchema;
  readonly key: readonly string[];
  readonly gauges: WriterGauges;
  lastCommitAt: number;
  newestEventAt: number;
}

// The last change of each key of one dataset, while a batch is applied.
interface Pending {
  readonly dataset: Dataset;
  readonly changes: Map<string, { row: CuratedRow; deleted: boolean }>;
  lastSeq: number;
  newestCommitAt: number;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
const GATE_CHECK_MS = 250;
const FRAMES_PER_FETCH = 16;

/**
 * The CDC consumer's max_ack_pending: what a writer holds at most while its gate is closed (frames
 * are up to 900 kB, mostly far less), and what a batch can grow to.
 */
export const CDC_MAX_ACK_PENDING = 64;

/**
 * Applies the CDC stream to the curated tables, so that each one shows the current state of its
 * source table: the frames held are applied in stream order, and per dataset the last change of
 * each key is merged in one Delta commit (an insert or update replaces the key's row, a delete
 * removes it; a truncate empties the table after the changes before it), with the dataset's last
 * stream sequence as the table's txn. Frames are acked after their commits.
 *
 * The txn is "every change of this table up to here", which holds only if nothing older can still
 * arrive: a frame delivered to a writer that died comes back after its ack wait, behind newer ones.
 * So, as the curated writers do, commits wait (the gate) until the server counts no more pending
 * frames than this writer holds, and frames held are marked in progress so they never expire
 * elsewhere. A frame at or below its table's txn is then a redelivery of one applied: acked
 * unapplied. One writer per consumer.
 */
export class CdcWriter {
  readonly #o: CdcWriterOptions;
  readonly #log: Logger;
  readonly #datasets = new Map<string, Dataset>();
  // Frames in hand, not acked, in the order they came (applied in sequence order).
  #held: JsMsg[] = [];
  #heldBytes = 0;
  #openedAt = 0;
  #gateOpen = false;
  #lastGateCheck = 0;
  #lastKeepAlive = 0;
  #stopping = false;
  #stopFetch: (() => void) | undefined;
  #run: Promise<void> | undefined;

  constructor(options: CdcWriterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "cdc", consumer: options.durable });
  }

  /** True while the writer reads the stream. */
  get running(): boolean {
    return this.#run !== undefined && !this.#stopping;
  }

  /** The datasets it has written to since it started. */
  get datasets(): readonly string[] {
    return [...this.#datasets.keys()];
  }

  start(): void {
    this.#run = this.#loop();
    this.#log.info("cdc writer started");
  }

  /** Ends the fetch in progress, applies and acks what it holds (when the gate is open), and resolves. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopFetch?.();
    await this.#run;
    for (const dataset of this.#datasets.values()) this.#o.metrics.unwatch(dataset.gauges);
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      try {
        await this.#fetchOnce();
        failures = 0;
      } catch (error) {
        failures++;
        this.#gateOpen = false; // deliveries may have been lost with the connection
        this.#log.warn({ err: error }, "reading the CDC stream failed, retrying");
        await sleep(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(failures, 6)));
        continue;
      }
      this.#keepAlive();
      if (!this.#gateOpen) await this.#checkGate();
      if (this.#gateOpen && this.#flushDue()) {
        await this.#flush(this.#heldBytes >= this.#o.maxBytes ? FlushReason.Bytes : FlushReason.Interval);
      }
    }
    // Not applied with the gate closed: an older frame may still be out; all come back after a restart.
    if (this.#gateOpen) await this.#flush(FlushReason.Stop);
  }

  async #fetchOnce(): Promise<void> {
    // A few frames at a time while a batch fills (it may pass its byte bound by a fetch's worth);
    // while the gate is closed, up to the consumer's max_ack_pending, until the older ones are back.
    if (this.#gateOpen && this.#heldBytes >= this.#o.maxBytes) return;
    const messages = await this.#o.consumer.fetch({
      max_messages: this.#gateOpen ? FRAMES_PER_FETCH : CDC_MAX_ACK_PENDING,
      expires: this.#o.fetchExpiresMs,
    });
    this.#stopFetch = () => messages.stop();
    try {
      // Every message of the fetch is taken: one left in it would be delivered again only after
      // its ack wait, behind newer commits.
      for await (const msg of messages) {
        if (this.#held.length === 0) this.#openedAt = Date.now();
        this.#held.push(msg);
        this.#heldBytes += msg.data.byteLength;
      }
    } finally {
      this.#stopFetch = undefined;
    }
  }

  #flushDue(): boolean {
    if (this.#held.length === 0) return false;
    return this.#heldBytes >= this.#o.maxBytes || Date.now() - this.#openedAt >= this.#o.flushMs;
  }

  // Opens the gate once the server counts no more pending frames than this writer holds.
  async #checkGate(): Promise<void> {
    if (Date.now() - this.#lastGateCheck < GATE_CHECK_MS) return;
    this.#lastGateCheck = Date.now();
    const held = this.#held.length;
    const info = await this.#o.jsm.consumers.info(this.#o.stream, this.#o.durable).catch(() => undefined);
    if (info !== undefined && info.num_ack_pending <= held) {
      this.#gateOpen = true;
      if (held > 0) this.#log.info({ held }, "every pending frame in hand, changes applied from here");
    }
  }

  // Frames held long (a closed gate, a slow commit) are marked in progress, so they never expire.
  #keepAlive(): void {
    const now = Date.now();
    const every = this.#o.ackWaitMs / 4;
    if (now - this.#lastKeepAlive < every) return;
    this.#lastKeepAlive = now;
    if (now - this.#openedAt < every) return;
    for (const msg of this.#held) msg.working();
  }

  // Applies what is held in stream order, then acks it. A failure keeps it all and tries again
  // (reading more waits: backpressure) until it lands or the writer stops, when the frames come back
  // to the next start.
  async #flush(reason: FlushReason): Promise<void> {
    if (this.#held.length === 0) return;
    const frames = [...this.#held].sort((a, b) => a.seq - b.seq);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#apply(frames, reason);
        break;
      } catch (error) {
        this.#log.error({ err: error, attempt, frames: frames.length }, "applying changes failed, retrying");
        if (this.#stopping && attempt >= 3) return;
        this.#keepAlive();
        await sleep(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 6)));
      }
    }
    for (const msg of frames) msg.ack();
    this.#held = [];
    this.#heldBytes = 0;
  }

  async #apply(frames: readonly JsMsg[], reason: FlushReason): Promise<void> {
    const pending = new Map<string, Pending>();
    const commit = async (name: string) => {
      const batch = pending.get(name);
      if (batch === undefined) return;
      pending.delete(name);
      await this.#merge(batch, reason);
    };
    for (const msg of frames) {
      const schemaId = msg.headers?.get(Header.Schema) ?? "";
      let dataset: Dataset;
      try {
        dataset = await this.#dataset(schemaId, () => commit(parseSchemaId(schemaId).dataset));
      } catch (error) {
        await this.#deadLetterFrame(msg, "SCHEMA_UNKNOWN", error);
        continue;
      }
      const name = dataset.schema.dataset;
      if (msg.seq <= (dataset.table.committedVersion() ?? 0)) {
        // Applied before a crash, acked after it: the table's txn says so.
        this.#o.metrics.frameSkipped(name, Zone.Curated);
        continue;
      }
      if (msg.headers?.get(Header.CdcOp) === TRUNCATE) {
        await commit(name);
        await this.#truncate(dataset, msg.seq);
        continue;
      }
      let rows: CuratedRow[];
      try {
        rows = await this.#decode(msg, schemaId, dataset.key);
      } catch (error) {
        await this.#deadLetterFrame(msg, "FRAME_UNREADABLE", error);
        continue;
      }
      let batch = pending.get(name);
      if (batch === undefined) {
        batch = { dataset, changes: new Map(), lastSeq: 0, newestCommitAt: 0 };
        pending.set(name, batch);
      }
      for (const row of rows) {
        batch.changes.set(keyOf(row.event, dataset.key), {
          row,
          deleted: row.event[ChangeField.Op] === ChangeOp.Delete,
        });
        const at = Number(row.event[ChangeField.CommittedAt] ?? 0);
        if (at > batch.newestCommitAt) batch.newestCommitAt = at;
      }
      batch.lastSeq = msg.seq;
      this.#o.metrics.frameIn(name, Zone.Curated, rows.length);
    }
    for (const name of [...pending.keys()]) await commit(name);
  }

  async #merge(batch: Pending, reason: FlushReason): Promise<void> {
    const { dataset } = batch;
    const upserts: CuratedRow[] = [];
    const deletes: Record<string, unknown>[] = [];
    for (const { row, deleted } of batch.changes.values()) {
      if (deleted) deletes.push(row.event);
      else upserts.push(row);
    }
    const started = performance.now();
    try {
      await dataset.table.merge(upserts, deletes, batch.lastSeq, {
        after: dataset.table.committedVersion() ?? 0,
      });
    } catch (error) {
      if (error instanceof LakeError && error.code === LakeErrorCode.TxnAlreadyCommitted) {
        // Another writer moved the table on (two lake-writers with CDC on): read where it stands;
        // the next attempt skips what it applied.
        this.#log.warn(
          { dataset: dataset.schema.dataset },
          "the table moved on under this writer: reading it again",
        );
        dataset.table = await this.#o.openTable(dataset.schema, dataset.key);
      }
      throw error;
    }
    dataset.lastCommitAt = Date.now();
    dataset.newestEventAt = Math.max(dataset.newestEventAt, batch.newestCommitAt);
    const seconds = (performance.now() - started) / 1000;
    this.#log.debug(
      {
        dataset: dataset.schema.dataset,
        changes: batch.changes.size,
        upserts: upserts.length,
        deletes: deletes.length,
        lastSeq: batch.lastSeq,
        seconds,
      },
      "changes merged",
    );
    this.#o.metrics.committed(dataset.schema.dataset, Zone.Curated, batch.changes.size, seconds, reason);
  }

  async #truncate(dataset: Dataset, seq: number): Promise<void> {
    try {
      await dataset.table.truncate(seq, { after: dataset.table.committedVersion() ?? 0 });
    } catch (error) {
      if (!(error instanceof LakeError && error.code === LakeErrorCode.TxnAlreadyCommitted)) throw error;
    }
    dataset.lastCommitAt = Date.now();
    this.#log.info({ dataset: dataset.schema.dataset }, "source table truncated: table emptied");
  }

  async #decode(msg: JsMsg, schemaId: string, key: readonly string[]): Promise<CuratedRow[]> {
    const { type, version } = await this.#o.registry.get(schemaId);
    const traceId = traceIdFromTraceparent(msg.headers?.get(Header.Traceparent)) ?? "";
    return decodeFrame(msg.data).map((frameEvent) => {
      const event = type.fromBuffer(Buffer.from(frameEvent.payload)) as Record<string, unknown>;
      for (const column of key) {
        if (event[column] === null || event[column] === undefined) {
          throw new Error(`change ${frameEvent.id} has no value for key column "${column}"`);
        }
      }
      return {
        event,
        eventId: frameEvent.id,
        ingestedAt: frameEvent.ingestedAt,
        traceId,
        schemaVersion: version,
      };
    });
  }

  // The dataset of a frame's schema, its table opened in the newest version seen (what is pending
  // under the older one is committed first, through `before`).
  async #dataset(schemaId: string, before: () => Promise<void>): Promise<Dataset> {
    const { dataset: name, version } = parseSchemaId(schemaId);
    const known = this.#datasets.get(name);
    if (known !== undefined && known.schema.version >= version) return known;
    const schema = await this.#o.registry.get(schemaId);
    const key = cdcKeyOf(schema.schema);
    if (known !== undefined) {
      await before();
      known.table = await this.#o.openTable(schema, key);
      known.schema = schema;
      return known;
    }
    const table = await this.#o.openTable(schema, key);
    const dataset: Dataset = {
      table,
      schema,
      key,
      lastCommitAt: 0,
      newestEventAt: 0,
      gauges: {
        dataset: name,
        zone: Zone.Curated,
        bufferedRows: () => 0,
        lastCommitAt: () => dataset.lastCommitAt,
        newestEventAt: () => dataset.newestEventAt,
      },
    };
    this.#datasets.set(name, dataset);
    this.#o.metrics.watch(dataset.gauges);
    this.#log.info({ dataset: name, schemaId, key }, "cdc table opened");
    return dataset;
  }

  async #deadLetterFrame(msg: JsMsg, code: string, error: unknown): Promise<void> {
    const reason = `cdc frame ${msg.subject} #${msg.seq}: ${error instanceof Error ? error.message : String(error)}`;
    await this.#o.deadLetters.frame({ stage: Stage.LakeWriter, msg, code, reason });
    this.#o.metrics.deadLettered(msg.subject.split(".").at(-1) ?? "unknown", Zone.Curated, "frame");
    this.#log.error({ subject: msg.subject, seq: msg.seq, code, reason }, "cdc frame dead-lettered");
  }
}

function keyOf(event: Readonly<Record<string, unknown>>, key: readonly string[]): string {
  return key.length === 1 ? String(event[key[0]!]) : JSON.stringify(key.map((k) => event[k]));
}
