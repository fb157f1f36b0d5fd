import { setTimeout as sleep } from "node:timers/promises";
import { type DeadLetterProgress, DlqKind, deadLetterInfo, Header } from "@inlet/bus";
import { type AvroSchema, type CuratedRow, type CuratedTable, LakeError, LakeErrorCode } from "@inlet/lake";
import { DEAD_LETTERS_DATASET } from "@inlet/schema";
import { type Logger, traceIdFromTraceparent } from "@inlet/telemetry";
import {
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  JetStreamError,
  type JsMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { FlushReason } from "./micro-batch.js";
import { type WriterGauges, type WriterMetrics, Zone } from "./writer-metrics.js";

/** The txn appId of the dead-letter table: the archive's place in the DLQ stream. */
export const DEAD_LETTER_APP_ID = "dead-letter-archive";

/** Version of {@link DEAD_LETTER_TABLE_SCHEMA} (the rows' `_schema_version`). */
export const DEAD_LETTER_SCHEMA_VERSION = 1;

/**
 * The `dead_letters` table's columns (docs/contracts.md, "The dead-letter table"), as an Avro record
 * so the table is written like any dataset's. Partitioned by the day of `dead_lettered_at`.
 */
export const DEAD_LETTER_TABLE_SCHEMA: AvroSchema = {
  type: "record",
  name: "InletDeadLetter",
  namespace: "inlet",
  fields: [
    { name: "dead_lettered_at", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "dlq_seq", type: "long" },
    { name: "stage", type: "string" },
    { name: "dataset", type: "string" },
    { name: "kind", type: "string" },
    { name: "code", type: "string" },
    { name: "reason", type: "string" },
    { name: "field", type: ["null", "string"], default: null },
    { name: "expected", type: ["null", "string"], default: null },
    { name: "got", type: ["null", "string"], default: null },
    { name: "event", type: ["null", "string"], default: null },
    { name: "truncated", type: "boolean", default: false },
    { name: "frame", type: ["null", "bytes"], default: null },
    { name: "frame_schema", type: ["null", "string"], default: null },
    { name: "frame_events", type: ["null", "int"], default: null },
    { name: "source_subject", type: ["null", "string"], default: null },
    { name: "source_seq", type: ["null", "long"], default: null },
    { name: "source_msg_id", type: ["null", "string"], default: null },
  ],
};

/** The field of {@link DEAD_LETTER_TABLE_SCHEMA} that holds the event time. */
export const DEAD_LETTER_TIME_FIELD = "dead_lettered_at";

/** What a {@link DeadLetterArchive} needs. */
export interface DeadLetterArchiveOptions {
  readonly js: JetStreamClient;
  /** The connection `js` runs on: its server's max_payload bounds a fetch from below. */
  readonly nc: NatsConnection;
  /** The DLQ stream's name. */
  readonly stream: string;
  /** Where the archive announces how far the table holds the DLQ (for `inlet dlq replay`). */
  readonly progress: DeadLetterProgress;
  /** Opens the `dead_letters` table (txn appId {@link DEAD_LETTER_APP_ID}); called again after a failure. */
  readonly openTable: () => Promise<CuratedTable>;
  /** Age of the oldest dead letter held before it is committed, ms. */
  readonly flushMs: number;
  /** Most bytes of dead letters held before a commit; a fetch asks for no more than what is left. */
  readonly maxBytes: number;
  /** How long one fetch waits for dead letters, ms (at least 1000, a nats.js rule). */
  readonly fetchExpiresMs: number;
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
}

interface Held {
  readonly rows: CuratedRow[];
  bytes: number;
  lastSeq: number;
  openedAt: number;
}

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
// A message's headers and the pull's own overhead, above its payload.
const HEADROOM_BYTES = 64 * 1024;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
// The largest value of `frame_events`, an Avro int.
const MAX_INT = 2 ** 31 - 1;

/**
 * Copies every dead letter into the lake's `dead_letters` table, exactly once, so they can be
 * queried like any dataset (`SELECT code, count(*) FROM dead_letters GROUP BY 1`) long after the
 * DLQ stream (7 days) has let them go.
 *
 * The table's own txn is the cursor: each commit carries the DLQ stream sequence of its last dead
 * letter (appId {@link DEAD_LETTER_APP_ID}), and the archive reads the stream with an ordered
 * consumer from the sequence after it. An ordered consumer delivers in stream order without gaps
 * (it starts over from the last sequence seen when it misses one), so "committed up to N" always
 * means "everything up to N": no durable consumer, no acks, and nothing lost or written twice when
 * the lake-writer or the server stops at any point. Dead letters are read, never removed: the
 * stream stays the place to replay them from (`inlet dlq replay`), which takes a letter out of the
 * DLQ only once the table has it: after each commit the archive announces its sequence in the KV
 * bucket of {@link DeadLetterProgress}.
 *
 * One archive per lake is enough. A second one does no harm: a commit is accepted only from the
 * sequence the archive read after, so when another archive moved the table on first, this one
 * drops what it holds and reads again from there; but the two race for every commit
 * (`INLET_WRITER_DEAD_LETTERS=false` on all but one).
 */
export class DeadLetterArchive implements WriterGauges {
  readonly dataset = DEAD_LETTERS_DATASET;
  readonly zone = Zone.Curated;
  readonly #o: DeadLetterArchiveOptions;
  readonly #log: Logger;
  #table: CuratedTable;
  #committed = 0;
  #held: Held | undefined;
  #stopping = false;
  #consumer: Consumer | undefined;
  #stopFetch: (() => void) | undefined;
  #run: Promise<void> | undefined;
  #lastCommitAt = 0;

  private constructor(options: DeadLetterArchiveOptions, table: CuratedTable) {
    this.#o = options;
    this.#log = options.logger.child({ dataset: DEAD_LETTERS_DATASET, appId: DEAD_LETTER_APP_ID });
    this.#table = table;
  }

  /** Opens the table; {@link start} then reads from where it stopped. */
  static async open(options: DeadLetterArchiveOptions): Promise<DeadLetterArchive> {
    return new DeadLetterArchive(options, await options.openTable());
  }

  /** The DLQ stream sequence of the last dead letter in the table (0 before the first). */
  get committedSeq(): number {
    return this.#committed;
  }

  /** True while the archive reads the stream. */
  get running(): boolean {
    return this.#run !== undefined && !this.#stopping;
  }

  async start(): Promise<void> {
    this.#committed = this.#table.committedVersion() ?? 0;
    await this.#warnIfExpired();
    await this.#announce();
    this.#o.metrics.watch(this);
    this.#run = this.#loop();
    this.#log.info({ committedSeq: this.#committed }, "dead-letter archive started");
  }

  /** Ends the fetch in progress, commits what it holds, and resolves. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopFetch?.();
    await this.#run;
    this.#o.metrics.unwatch(this);
    this.#log.info({ committedSeq: this.#committed }, "dead-letter archive stopped");
  }

  bufferedRows(): number {
    return this.#held?.rows.length ?? 0;
  }

  lastCommitAt(): number {
    return this.#lastCommitAt;
  }

  // No freshness: the newest dead letter's age grows while nothing goes wrong, and would alarm.
  newestEventAt(): number {
    return 0;
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      try {
        await this.#fetchOnce();
        failures = 0;
      } catch (err) {
        failures++;
        this.#log.warn({ err }, "reading the dead-letter stream failed, retrying");
        await this.#pause(failures);
        continue;
      }
      if (this.#flushDue()) await this.#flush(FlushReason.Interval);
    }
    if (this.#held !== undefined) await this.#flush(FlushReason.Stop);
    await this.#dropConsumer();
  }

  // One fetch of the ordered consumer. It is made at the sequence after the last one held or
  // committed, kept while fetches succeed (it moves on by itself), and made again after a failure
  // or a reset, so that where it reads from is always this archive's own cursor.
  async #fetchOnce(): Promise<void> {
    const from = (this.#held?.lastSeq ?? this.#committed) + 1;
    this.#consumer ??= await this.#o.js.consumers.get(this.#o.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const room = Math.max(1, this.#o.maxBytes - (this.#held?.bytes ?? 0));
    try {
      const messages = await this.#consumer.fetch({
        // By bytes, not messages (nats.js takes one or the other). The server refuses a pull whose
        // byte limit is below the next message, so never below max_payload: what is held stays
        // under maxBytes plus one message.
        max_bytes: Math.max(room, (this.#o.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) + HEADROOM_BYTES),
        expires: this.#o.fetchExpiresMs,
      });
      this.#stopFetch = () => messages.stop();
      for await (const msg of messages) this.#hold(msg);
    } catch (err) {
      await this.#dropConsumer();
      // The pull's bytes are used up: the fetch is over, not failed (the next one starts after the
      // last letter held).
      if (isByteLimitReached(err)) return;
      throw err;
    } finally {
      this.#stopFetch = undefined;
    }
  }

  async #dropConsumer(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.delete().catch(() => {});
  }

  #hold(msg: JsMsg): void {
    const expected = (this.#held?.lastSeq ?? this.#committed) + 1;
    if (msg.seq < expected) return; // delivered again by a consumer that started over
    const row = deadLetterRow(msg);
    this.#held ??= { rows: [], bytes: 0, lastSeq: this.#committed, openedAt: Date.now() };
    this.#held.rows.push(row);
    this.#held.bytes += msg.data.byteLength + 512;
    this.#held.lastSeq = msg.seq;
    this.#o.metrics.frameIn(DEAD_LETTERS_DATASET, Zone.Curated, 1);
  }

  #flushDue(): boolean {
    const held = this.#held;
    if (held === undefined) return false;
    return held.bytes >= this.#o.maxBytes || Date.now() - held.openedAt >= this.#o.flushMs;
  }

  // Commits what is held; on failure keeps it and retries (reading more waits: backpressure),
  // until it lands or the archive stops (then the next start reads it again from the stream).
  async #flush(reason: FlushReason): Promise<void> {
    const held = this.#held;
    if (held === undefined) return;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        // Only after what this archive read from: another archive that committed meanwhile makes
        // this one read again rather than store the same letters a second time.
        const result = await this.#table.append(held.rows, held.lastSeq, { after: this.#committed });
        this.#committed = held.lastSeq;
        this.#held = undefined;
        this.#lastCommitAt = Date.now();
        const seconds = (performance.now() - started) / 1000;
        this.#o.metrics.committed(DEAD_LETTERS_DATASET, Zone.Curated, result.rows, seconds, reason);
        this.#log.debug(
          { rows: result.rows, version: result.version, seq: held.lastSeq },
          "dead letters archived",
        );
        await this.#announce();
        return;
      } catch (err) {
        if (err instanceof LakeError && err.code === LakeErrorCode.TxnAlreadyCommitted) {
          // Another archive committed first (these sequences, or some of them): drop what is held
          // and read again from after what the table now holds.
          this.#table = await this.#o.openTable();
          this.#committed = this.#table.committedVersion() ?? this.#committed;
          this.#log.warn(
            { committedSeq: this.#committed },
            "another archive committed first: reading again from there (one archive per lake is enough)",
          );
          this.#held = undefined;
          await this.#dropConsumer();
          return;
        }
        this.#o.metrics.flushFailed(DEAD_LETTERS_DATASET, Zone.Curated);
        this.#log.error({ err, rows: held.rows.length, attempt }, "archiving dead letters failed, retrying");
        if (this.#stopping && attempt >= 3) return;
        await this.#pause(attempt);
        this.#table = await this.#o.openTable().catch(() => this.#table);
      }
    }
  }

  // The announcement may lag the table (a replay then waits a little longer), never lead it.
  async #announce(): Promise<void> {
    try {
      await this.#o.progress.recordArchived(this.#committed);
    } catch (err) {
      this.#log.warn({ err, committedSeq: this.#committed }, "announcing the archive's progress failed");
    }
  }

  async #pause(attempt: number): Promise<void> {
    const ms = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 10));
    await sleep(this.#stopping ? Math.min(ms, FIRST_RETRY_MS) : ms);
  }

  // Dead letters the stream let go (age, size) before they were archived are gone: say so.
  async #warnIfExpired(): Promise<void> {
    const jsm = await this.#o.js.jetstreamManager();
    const info = await jsm.streams.info(this.#o.stream).catch(() => undefined);
    const first = info?.state.first_seq ?? 0;
    if (this.#committed > 0 && first > this.#committed + 1) {
      this.#log.warn(
        { committedSeq: this.#committed, streamFirstSeq: first, lost: first - this.#committed - 1 },
        "dead letters left the DLQ stream (retention) before they were archived",
      );
    }
  }
}

/** The `dead_letters` row of one DLQ message; never throws, whatever the message holds. */
export function deadLetterRow(msg: JsMsg): CuratedRow {
  const info = deadLetterInfo(msg);
  const atMs = info.time.getTime();
  const event: Record<string, unknown> = {
    dead_lettered_at: atMs,
    dlq_seq: info.seq,
    stage: info.stage || "unknown",
    dataset: info.dataset || "unknown",
    kind: info.kind || "unknown",
    code: info.code || "UNKNOWN",
    reason: info.reason,
    field: null,
    expected: null,
    got: null,
    event: null,
    truncated: false,
    frame: null,
    frame_schema: null,
    frame_events: null,
    source_subject: info.sourceSubject ?? null,
    source_seq: info.sourceSeq ?? null,
    source_msg_id: info.sourceMsgId ?? null,
  };
  let eventId = info.eventId;
  if (info.kind === DlqKind.Event) {
    const body = parseEventBody(msg.data);
    if (body === undefined) {
      event.event = JSON.stringify(new TextDecoder().decode(msg.data));
    } else {
      if (typeof body.reason === "string" && body.reason !== "") event.reason = body.reason;
      if (typeof body.field === "string") event.field = body.field;
      if (typeof body.expected === "string") event.expected = body.expected;
      if (body.got !== undefined) event.got = JSON.stringify(body.got);
      event.event = JSON.stringify(body.event ?? null);
      event.truncated = body.truncated === true;
      if (typeof body.eventId === "string" && body.eventId !== "") eventId ??= body.eventId;
    }
  } else {
    // A copy: the message's bytes may be a view of a larger read buffer, which holding them would keep.
    event.frame = new Uint8Array(msg.data);
    event.frame_schema = msg.headers?.get(Header.Schema) || null;
    const count = info.eventCount;
    event.frame_events = count !== undefined && count <= MAX_INT ? count : null;
  }
  return {
    event,
    eventId: eventId ?? `dlq:${info.seq}`,
    ingestedAt: atMs,
    traceId: traceIdFromTraceparent(msg.headers?.get(Header.Traceparent)) ?? "",
    schemaVersion: DEAD_LETTER_SCHEMA_VERSION,
  };
}

interface EventBody {
  reason?: unknown;
  field?: unknown;
  expected?: unknown;
  got?: unknown;
  eventId?: unknown;
  event?: unknown;
  truncated?: unknown;
}

function parseEventBody(data: Uint8Array): EventBody | undefined {
  try {
    const body: unknown = JSON.parse(new TextDecoder().decode(data));
    return typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as EventBody)
      : undefined;
  } catch {
    return undefined;
  }
}

// A pull by bytes ends with a 409 once its bytes are used up, after delivering what fitted:
// "batch completed", or "message size exceeds maxbytes" when the next message does not fit what is
// left. nats.js's fetch throws it; it is the end of the fetch.
function isByteLimitReached(error: unknown): boolean {
  // (JetStreamStatusError, which carries the code, is not exported by @nats-io/jetstream.)
  return (
    error instanceof JetStreamError &&
    (error as JetStreamError & { code?: unknown }).code === 409 &&
    /exceeds maxbytes|batch completed/i.test(error.message)
  );
}
