import { setTimeout as sleep } from "node:timers/promises";
import {
  type ConsumerMessages,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import {
  headers as createHeaders,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import type { Bus } from "./connect.js";
import { DeadLetterProgress } from "./dead-letter-progress.js";
import { BusError, BusErrorCode } from "./errors.js";
import { DlqKind, Header } from "./headers.js";
import { type PublishOptions, publishWithRetry } from "./publisher.js";
import { DUPLICATE_WINDOW_MS, StreamName, streamName } from "./streams.js";
import { assertDatasetName, isDatasetName, isStage, Stage, Subjects } from "./subjects.js";

/** Which dead letters to take, in DLQ stream order. Every filter is optional. */
export interface DeadLetterFilter {
  /** Only letters filed by this stage (`collector`, `processor`, `enricher`, `lake-writer`). */
  stage?: string;
  /** Only letters of this dataset. */
  dataset?: string;
  /** Only letters with this `Inlet-Error-Code`, e.g. `SCHEMA_MISMATCH`. */
  code?: string;
  /** Lowest DLQ stream sequence (default: the first). */
  fromSeq?: number;
  /** Highest DLQ stream sequence (default: the last one when reading starts). */
  toSeq?: number;
  /** At most this many letters, counted after the filters (default: all). */
  limit?: number;
}

/** Options of {@link listDeadLetters}. */
export interface ListDeadLettersOptions extends DeadLetterFilter {
  /** Subjects to read under, which also name the DLQ stream (default: the production subjects). */
  subjects?: Subjects;
}

/** One dead letter as listed: where it sits, what it holds, why it is there. */
export interface DeadLetterInfo {
  /** Its DLQ stream sequence: the letter's id for replay. */
  seq: number;
  /** When the DLQ stored it. */
  time: Date;
  stage: string;
  dataset: string;
  /** `event` or `frame` ({@link DlqKind}), as its `Inlet-DLQ-Kind` says. */
  kind: string;
  /** `Inlet-Error-Code`. */
  code: string;
  /** `Inlet-Error`: the reason, one line. */
  reason: string;
  /** Event kind: the rejected event's id, when known. */
  eventId?: string;
  /** Frame kind: the events in the frame (`Inlet-Count`). */
  eventCount?: number;
  /** Frame kind: the subject and stream sequence the frame was read from. */
  sourceSubject?: string;
  sourceSeq?: number;
  /** Frame kind: the frame's own `Nats-Msg-Id` (`Inlet-Source-Msg-Id`). */
  sourceMsgId?: string;
}

/** What became of one letter in {@link replayDeadLetters}. */
export const ReplayStatus = {
  /** Sent back and accepted; the letter is deleted unless `keep` was set. */
  Replayed: "replayed",
  /** Dry run: it would be sent back. */
  WouldReplay: "would-replay",
  /** Event kind: the collector rejected the event again (and filed a new letter); the letter is kept. */
  Rejected: "rejected",
  /** It cannot be replayed as it is (raw text, truncated, no source subject…); the letter is kept. */
  NotReplayable: "not-replayable",
  /** Sending failed or must wait; the letter is kept, try again later. */
  Failed: "failed",
} as const;

/** One of {@link ReplayStatus}. */
export type ReplayStatus = (typeof ReplayStatus)[keyof typeof ReplayStatus];

/** The outcome of one letter. */
export interface ReplayOutcome {
  letter: DeadLetterInfo;
  status: ReplayStatus;
  /** For a person: where it went, or why it did not. */
  message: string;
  /** Failed only: a duplicate window must pass first, replay it after this time. */
  retryAfter?: Date;
}

/** Letters per {@link ReplayStatus}, and all of them (`selected`). */
export interface ReplayTotals {
  selected: number;
  replayed: number;
  wouldReplay: number;
  rejected: number;
  notReplayable: number;
  failed: number;
}

/** What {@link replayDeadLetters} did, letter by letter. */
export interface ReplayReport {
  outcomes: ReplayOutcome[];
  totals: ReplayTotals;
}

/** Options of {@link replayDeadLetters}. */
export interface ReplayDeadLettersOptions extends ListDeadLettersOptions {
  /** Report what would happen; send and delete nothing (default false). */
  dryRun?: boolean;
  /** Keep replayed letters in the DLQ instead of deleting them (default false). */
  keep?: boolean;
  /** Retry budget of each frame publish (default: 30 s). */
  publish?: PublishOptions;
  /** How long to wait for the collector's answer to one batch of events, in ms (default 30 s). */
  requestTimeoutMs?: number;
  /** Most events per collector request (default 500). */
  maxBatchEvents?: number;
  /** Most JSON bytes per collector request (default 512 KiB; a bigger event goes alone). */
  maxBatchBytes?: number;
  /**
   * How long, in all, to wait for the lake-writer to copy letters into the `dead_letters` table
   * before they are taken out of the DLQ (default 15 s); a letter still not copied then is kept.
   */
  archiveWaitMs?: number;
  /** Called with each outcome as soon as it is known (outcomes of events come when their batch is answered). */
  onOutcome?: (outcome: ReplayOutcome) => void | Promise<void>;
}

// Letters the ordered consumer buffers ahead of the reader: a letter is at most about 1 MB.
const READ_AHEAD = 32;
const DEFAULT_BATCH_EVENTS = 500;
const DEFAULT_BATCH_BYTES = 512 * 1024;
// Event batches of all datasets held at once, in JSON bytes, before every batch is sent.
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_ARCHIVE_WAIT_MS = 15_000;
const ARCHIVE_POLL_MS = 250;
const EVENT_ID_FIELD = "_event_id";

/**
 * Lists dead letters in DLQ stream order, read through an ordered consumer filtered to
 * `dlq.<stage|*>.<ds|*>` (no durable consumer is left behind). Streams: holds a few letters at a
 * time, however large the stream. Throws {@link BusError}: INVALID_NAME for a bad stage or dataset,
 * STREAM_NOT_FOUND when there is no DLQ stream.
 */
export async function* listDeadLetters(
  bus: Pick<Bus, "js" | "jsm">,
  options: ListDeadLettersOptions = {},
): AsyncGenerator<DeadLetterInfo> {
  for await (const letter of readDeadLetters(bus, options)) yield letter.info;
}

/**
 * Replays dead letters (docs/contracts.md, "Replay"). A frame goes back, bytes unchanged, to the
 * subject it was read from, its dead-letter headers removed, with `Inlet-Replay-Of: <DLQ seq>` and
 * `Nats-Msg-Id: replay:<DLQ stream>:<seq>` (a re-run within the duplicate window is dropped). An
 * event goes back through the collector (`inlet.collect.<ds>`) with its `_event_id`, so it is
 * validated again; events of one dataset travel in batches. A replayed letter is deleted from the
 * DLQ unless `keep`; any other letter stays. Never throws for one letter: see the outcomes.
 */
export async function replayDeadLetters(
  bus: Pick<Bus, "nc" | "js" | "jsm">,
  options: ReplayDeadLettersOptions = {},
): Promise<ReplayReport> {
  const subjects = options.subjects ?? Subjects;
  const stream = streamName(StreamName.Dlq, subjects.prefix);
  const maxEvents = options.maxBatchEvents ?? DEFAULT_BATCH_EVENTS;
  const maxBytes = options.maxBatchBytes ?? DEFAULT_BATCH_BYTES;
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const outcomes: ReplayOutcome[] = [];
  const totals: ReplayTotals = {
    selected: 0,
    replayed: 0,
    wouldReplay: 0,
    rejected: 0,
    notReplayable: 0,
    failed: 0,
  };
  const target: ReplayTarget = { subjects, stream, pipeline: pipelineSubjects(subjects) };
  const archive = new ArchiveWatch(bus.nc, subjects.prefix, options.archiveWaitMs ?? DEFAULT_ARCHIVE_WAIT_MS);
  const batches = new Map<string, EventBatch>();
  let pendingBytes = 0;
  // The first letter of each event id taken in this run (an event rejected again has a letter
  // more each time), and its outcome once known: the event is sent once, or its row would be twice.
  const firstOfEvent = new Map<string, { seq: number; outcome?: ReplayOutcome }>();

  const report = async (outcome: ReplayOutcome): Promise<void> => {
    outcomes.push(outcome);
    totals.selected++;
    totals[TOTAL_OF[outcome.status]]++;
    const first = firstOfEvent.get(eventKey(outcome.letter));
    if (first?.seq === outcome.letter.seq) first.outcome = outcome;
    await options.onOutcome?.(outcome);
  };

  // A replayed letter leaves the DLQ, so replaying again never sends it twice.
  const replayed = async (letter: DeadLetterInfo, message: string): Promise<void> => {
    if (options.keep) return report({ letter, status: ReplayStatus.Replayed, message: `${message} (kept)` });
    try {
      await bus.jsm.streams.deleteMessage(stream, letter.seq);
    } catch (err) {
      if (!isMessageGone(err)) {
        return report({
          letter,
          status: ReplayStatus.Failed,
          message: `${message}, but the letter could not be deleted (${errorText(err)}): delete it before replaying again`,
        });
      }
    }
    return report({ letter, status: ReplayStatus.Replayed, message });
  };

  const sendBatch = async (dataset: string): Promise<void> => {
    const batch = batches.get(dataset);
    if (batch === undefined) return;
    batches.delete(dataset);
    pendingBytes -= batch.bytes;
    const subject = subjects.collect(dataset);
    let answer: CollectorAnswer;
    try {
      const h = createHeaders();
      h.set("Content-Type", "application/json");
      const reply = await bus.nc.request(subject, `[${batch.events.join(",")}]`, { timeout, headers: h });
      answer = readCollectorAnswer(reply.headers, reply.string());
    } catch (err) {
      const message = requestFailure(subject, timeout, err);
      for (const letter of batch.letters) await report({ letter, status: ReplayStatus.Failed, message });
      return;
    }
    for (const [index, letter] of batch.letters.entries()) {
      await settleEvent(letter, subject, answer, index);
    }
  };

  const settleEvent = async (
    letter: DeadLetterInfo,
    subject: string,
    answer: CollectorAnswer,
    index: number,
  ): Promise<void> => {
    const result = answer.results?.get(index);
    if (result === undefined) {
      const why = answer.error ?? "its answer has no result for this event";
      return report({
        letter,
        status: ReplayStatus.Failed,
        message: `the collector answered ${answer.status} on ${subject}: ${why}`,
      });
    }
    const id = result.id === undefined || result.id === "" ? "" : ` as event ${result.id}`;
    switch (result.status) {
      case "accepted": {
        if (!result.duplicate) return replayed(letter, `accepted by the collector${id}`);
        // The collector's frame id is a hash of the frame's event ids: a frame of exactly these
        // events stored within the duplicate window makes it store nothing. For a letter of a later
        // stage that frame may be the event's original one.
        const windowEnds = letter.time.getTime() + DUPLICATE_WINDOW_MS;
        if (letter.stage === Stage.Collector || Date.now() > windowEnds) {
          return replayed(letter, `already stored${id} (the collector saw a duplicate)`);
        }
        return report({
          letter,
          status: ReplayStatus.Failed,
          message:
            "the collector took it for a copy of its original frame, still inside JetStream's 2-minute " +
            "duplicate window, and stored nothing: replay it again after the window",
          retryAfter: new Date(windowEnds),
        });
      }
      case "rejected":
        return report({
          letter,
          status: ReplayStatus.Rejected,
          message: `rejected again by the collector: ${result.reason}`,
        });
      default:
        return report({
          letter,
          status: ReplayStatus.Failed,
          message: `the collector did not store it: ${result.reason}`,
        });
    }
  };

  for await (const letter of readDeadLetters(bus, options)) {
    const plan = planReplay(letter, target);
    if (plan.kind === "outcome") {
      await report({ letter: letter.info, ...plan.outcome });
      continue;
    }
    if (!options.dryRun && !options.keep && !(await archive.has(letter.info.seq))) {
      await report({
        letter: letter.info,
        status: ReplayStatus.Failed,
        message:
          `not in the lake's dead_letters table yet (it holds the DLQ up to seq ${archive.seq}): a replayed ` +
          "letter leaves the DLQ, so it waits for the lake-writer's copy; replay it again once that is made",
      });
      continue;
    }
    const key = eventKey(letter.info);
    const first = plan.kind === "event" ? firstOfEvent.get(key) : undefined;
    if (first !== undefined) {
      // Settle the first letter of this event (send its batch), then give this one the same fate.
      if (first.outcome === undefined) await sendBatch(letter.info.dataset);
      const { status, message, retryAfter } = first.outcome!;
      const same = `the same event as letter ${first.seq}`;
      if (status === ReplayStatus.Replayed) await replayed(letter.info, `${same}, replayed just now`);
      else if (status === ReplayStatus.WouldReplay) {
        await report({ letter: letter.info, status, message: `would be deleted as ${same}` });
      } else {
        const outcome = { letter: letter.info, status, message: `${same}: ${message}` };
        await report(retryAfter === undefined ? outcome : { ...outcome, retryAfter });
      }
      continue;
    }
    if (plan.kind === "event" && key !== "") firstOfEvent.set(key, { seq: letter.info.seq });
    if (options.dryRun) {
      await report({ letter: letter.info, status: ReplayStatus.WouldReplay, message: plan.dryRun });
      continue;
    }
    if (plan.kind === "frame") {
      try {
        const ack = await publishWithRetry(
          bus.js,
          plan.subject,
          letter.msg.data,
          plan.headers,
          options.publish,
        );
        const message = ack.duplicate
          ? `already replayed to ${plan.subject} (JetStream kept the first copy)`
          : `published to ${plan.subject} as seq ${ack.seq}`;
        await replayed(letter.info, message);
      } catch (err) {
        await report({ letter: letter.info, status: ReplayStatus.Failed, message: errorText(err) });
      }
      continue;
    }
    const size = Buffer.byteLength(plan.json);
    const current = batches.get(plan.dataset);
    if (current !== undefined && (current.letters.length >= maxEvents || current.bytes + size > maxBytes)) {
      await sendBatch(plan.dataset);
    }
    const batch = batches.get(plan.dataset) ?? { letters: [], events: [], bytes: 0 };
    batch.letters.push(letter.info);
    batch.events.push(plan.json);
    batch.bytes += size + 1;
    pendingBytes += size + 1;
    batches.set(plan.dataset, batch);
    if (pendingBytes > MAX_PENDING_BYTES) {
      for (const dataset of [...batches.keys()]) await sendBatch(dataset);
    }
  }
  for (const dataset of [...batches.keys()]) await sendBatch(dataset);
  return { outcomes, totals };
}

// `<dataset>\n<event id>` of an event letter with an id, else "".
function eventKey(letter: DeadLetterInfo): string {
  return letter.kind === DlqKind.Event && letter.eventId !== undefined
    ? `${letter.dataset}\n${letter.eventId}`
    : "";
}

const TOTAL_OF: Record<ReplayStatus, Exclude<keyof ReplayTotals, "selected">> = {
  replayed: "replayed",
  "would-replay": "wouldReplay",
  rejected: "rejected",
  "not-replayable": "notReplayable",
  failed: "failed",
};

/** A letter as read: its summary and the message itself (body and headers). */
interface Letter {
  info: DeadLetterInfo;
  msg: JsMsg;
}

/** Events of one dataset waiting for one collector request. */
interface EventBatch {
  letters: DeadLetterInfo[];
  /** Each event as JSON, `_event_id` set. */
  events: string[];
  bytes: number;
}

/** How to replay a letter, or its outcome when it cannot be (now). */
type Plan =
  | { kind: "frame"; subject: string; headers: MsgHdrs; dryRun: string }
  | { kind: "event"; dataset: string; json: string; dryRun: string }
  | { kind: "outcome"; outcome: Omit<ReplayOutcome, "letter"> };

async function* readDeadLetters(
  bus: Pick<Bus, "js" | "jsm">,
  options: ListDeadLettersOptions,
): AsyncGenerator<Letter> {
  const subjects = options.subjects ?? Subjects;
  const stream = streamName(StreamName.Dlq, subjects.prefix);
  const filter = dlqFilter(subjects, options);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const state = await streamState(bus.jsm, stream);
  const from = Math.max(options.fromSeq ?? 1, state.first_seq);
  // Letters filed while reading (a replayed event rejected again) are not read: each replay run ends.
  const to = Math.min(options.toSeq ?? Number.MAX_SAFE_INTEGER, state.last_seq);
  if (state.messages === 0 || from > to || limit <= 0) return;

  const consumer = await bus.js.consumers.get(stream, { filter_subjects: filter, opt_start_seq: from });
  let messages: ConsumerMessages | undefined;
  try {
    if ((await consumer.info(true)).num_pending === 0) return;
    messages = await consumer.consume({ max_messages: READ_AHEAD });
    let taken = 0;
    for await (const msg of messages) {
      if (msg.seq > to) break;
      const info = deadLetterInfo(msg);
      if (options.code === undefined || info.code === options.code) {
        taken++;
        yield { info, msg };
      }
      if (taken >= limit || msg.seq >= to || msg.info.pending === 0) break;
    }
  } finally {
    messages?.stop();
    await consumer.delete().catch(() => undefined);
  }
}

// `dlq.<stage|*>.<ds|*>` under the subjects' prefix.
function dlqFilter(subjects: Subjects, filter: DeadLetterFilter): string {
  if (filter.stage !== undefined && !isStage(filter.stage)) {
    throw new BusError(
      `unknown stage ${JSON.stringify(filter.stage)}: use one of ${Object.values(Stage).join(", ")}`,
      BusErrorCode.InvalidName,
    );
  }
  if (filter.dataset !== undefined) assertDatasetName(filter.dataset);
  const p = subjects.prefix === "" ? "" : `${subjects.prefix}.`;
  return `${p}dlq.${filter.stage ?? "*"}.${filter.dataset ?? "*"}`;
}

async function streamState(jsm: JetStreamManager, stream: string) {
  try {
    return (await jsm.streams.info(stream)).state;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      throw new BusError(
        `there is no dead-letter stream ${stream}: the services create it when they start`,
        BusErrorCode.StreamNotFound,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * What a DLQ message says of itself, read from its headers (the subject's last two tokens stand in
 * for a missing stage or dataset). Never throws: a value missing or malformed is left out, or "".
 */
export function deadLetterInfo(msg: JsMsg): DeadLetterInfo {
  const h = msg.headers;
  const get = (name: string): string | undefined => {
    const value = h?.get(name) ?? "";
    return value === "" ? undefined : value;
  };
  // `…dlq.<stage>.<ds>`: the subject says it too, should a header be missing.
  const tokens = msg.subject.split(".");
  const count = get(Header.Count);
  const sourceSeq = get(Header.SourceSeq);
  const sourceSubject = get(Header.SourceSubject);
  const sourceMsgId = get(Header.SourceMsgId);
  const eventId = get(Header.EventId);
  return {
    seq: msg.seq,
    time: msg.time,
    stage: get(Header.Stage) ?? tokens.at(-2) ?? "",
    dataset: get(Header.Dataset) ?? tokens.at(-1) ?? "",
    kind: get(Header.DlqKind) ?? "",
    code: get(Header.ErrorCode) ?? "",
    reason: get(Header.Error) ?? "",
    ...(eventId === undefined ? {} : { eventId }),
    ...(count !== undefined && /^\d+$/.test(count) ? { eventCount: Number(count) } : {}),
    ...(sourceSubject === undefined ? {} : { sourceSubject }),
    ...(sourceSeq !== undefined && /^\d+$/.test(sourceSeq) ? { sourceSeq: Number(sourceSeq) } : {}),
    ...(sourceMsgId === undefined ? {} : { sourceMsgId }),
  };
}

/**
 * Whether the lake's `dead_letters` table holds a letter, from the archive's announcement
 * ({@link DeadLetterProgress}). With no announcement bucket no archive runs, and every letter may
 * go. A letter past the announcement is waited for, up to the run's budget.
 */
class ArchiveWatch {
  #progress: Promise<DeadLetterProgress | undefined> | undefined;
  #seq = 0;
  readonly #deadline: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    waitMs: number,
  ) {
    this.#deadline = Date.now() + waitMs;
  }

  /** The DLQ sequence the table was last seen to hold everything up to. */
  get seq(): number {
    return this.#seq;
  }

  async has(seq: number): Promise<boolean> {
    this.#progress ??= DeadLetterProgress.open(this.nc, { prefix: this.prefix });
    const progress = await this.#progress;
    if (progress === undefined) return true;
    for (;;) {
      if (seq <= this.#seq) return true;
      this.#seq = await progress.archivedSeq();
      if (seq <= this.#seq) return true;
      if (Date.now() >= this.#deadline) return false;
      await sleep(ARCHIVE_POLL_MS);
    }
  }
}

/** Where a replay reads and sends: the subjects, the DLQ stream, the subjects frames may go to. */
interface ReplayTarget {
  subjects: Subjects;
  stream: string;
  pipeline: RegExp;
}

function planReplay(letter: Letter, at: ReplayTarget): Plan {
  switch (letter.info.kind) {
    case DlqKind.Frame:
      return framePlan(letter, at);
    case DlqKind.Event:
      return eventPlan(letter, at.subjects);
    default:
      return notReplayable(`its kind ${JSON.stringify(letter.info.kind)} is neither event nor frame`);
  }
}

// The headers DeadLetters.frame added to the frame's own (its Nats-* were dropped when filed).
const DEAD_LETTER_HEADERS = new Set(
  [Header.DlqKind, Header.Error, Header.ErrorCode, Header.Stage, Header.Dataset].map((h) => h.toLowerCase()),
);

function isDeadLetterHeader(name: string): boolean {
  const key = name.toLowerCase();
  return DEAD_LETTER_HEADERS.has(key) || key.startsWith("inlet-source-") || key.startsWith("nats-");
}

// The subjects a frame can be replayed to: those the pipeline's stages read.
function pipelineSubjects(subjects: Subjects): RegExp {
  const p = subjects.prefix === "" ? "" : `${subjects.prefix}\\.`;
  return new RegExp(
    `^${p}((ingest|processed|curated)\\.[a-z][a-z0-9_]*|cdc\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+)$`,
  );
}

function framePlan(letter: Letter, at: ReplayTarget): Plan {
  const { info, msg } = letter;
  const source = info.sourceSubject;
  if (source === undefined) return notReplayable(`it has no ${Header.SourceSubject} header`);
  if (!at.pipeline.test(source)) return notReplayable(`its source ${source} is not a pipeline subject`);
  if (info.stage === Stage.LakeWriter && source.startsWith(at.subjects.all.ingest.slice(0, -1))) {
    // INGEST has two readers: a frame published there again reaches the processor as well, which
    // handled it already, and the curated table would get its events twice.
    return notReplayable(
      `the raw writer gave up on it, and replayed to ${source} it would reach the processor too, ` +
        "which handled it already: its events would be written to the curated table twice",
    );
  }
  const h = createHeaders();
  for (const [key, values] of msg.headers ?? []) {
    if (isDeadLetterHeader(key) || key.toLowerCase() === Header.ReplayOf.toLowerCase()) continue;
    for (const value of values) h.append(key, value);
  }
  h.set(Header.ReplayOf, String(info.seq));
  h.set(Header.MsgId, `replay:${at.stream}:${info.seq}`);
  const count = info.eventCount;
  const events = count === undefined ? "a frame" : `${count} event${count === 1 ? "" : "s"}`;
  return { kind: "frame", subject: source, headers: h, dryRun: `would publish ${events} to ${source}` };
}

function eventPlan(letter: Letter, subjects: Subjects): Plan {
  const { info, msg } = letter;
  let body: unknown;
  try {
    body = JSON.parse(msg.string());
  } catch {
    return notReplayable("its body is not JSON");
  }
  if (!isRecord(body)) return notReplayable("its body is not a JSON object");
  if (body.truncated === true) {
    return notReplayable(
      "the event was cut short when it was filed (truncated): the whole event was not kept",
    );
  }
  const event = body.event;
  if (typeof event === "string") {
    return notReplayable(
      "the event is the raw text of a body that was not valid JSON: fix it and send it again",
    );
  }
  if (!isRecord(event)) return notReplayable("the event is not a JSON object");
  if (!isDatasetName(info.dataset))
    return notReplayable(`its dataset ${JSON.stringify(info.dataset)} is not valid`);
  if (info.stage !== Stage.Collector && info.stage !== Stage.Processor) {
    // The collector and the processor file the event as it came in; a later stage files it as the
    // processor made it, and through the collector it would be filtered and transformed again.
    return notReplayable(
      `the ${info.stage} filed the event as the processor had already transformed it: sent through the ` +
        "collector again it would be transformed twice (it is in the dead_letters table to mend by hand)",
    );
  }
  const eventId = typeof body.eventId === "string" && body.eventId !== "" ? body.eventId : info.eventId;
  const json = JSON.stringify(eventId === undefined ? event : { ...event, [EVENT_ID_FIELD]: eventId });
  const what =
    eventId === undefined ? "the event (no id: the collector gives it a new one)" : `event ${eventId}`;
  return {
    kind: "event",
    dataset: info.dataset,
    json,
    dryRun: `would send ${what} to the collector on ${subjects.collect(info.dataset)}`,
  };
}

function notReplayable(why: string): Plan {
  return { kind: "outcome", outcome: { status: ReplayStatus.NotReplayable, message: why } };
}

/** One event's result in the collector's answer (apps/collector, response.ts). */
interface CollectorResult {
  status: string;
  id?: string;
  duplicate: boolean;
  /** Rejected: the collector's messages; failed: its reason. */
  reason: string;
}

interface CollectorAnswer {
  status: string;
  /** By index in the request's array. */
  results?: Map<number, CollectorResult>;
  /** A request refused as a whole: the collector's message. */
  error?: string;
}

function readCollectorAnswer(headers: MsgHdrs | undefined, text: string): CollectorAnswer {
  const status = headers?.get(Header.Status) || "?";
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { status, error: `not JSON: ${text.slice(0, 200)}` };
  }
  if (!isRecord(body)) return { status, error: "not a JSON object" };
  const error = isRecord(body.error)
    ? String(body.error.message ?? body.error.code)
    : typeof body.error === "string"
      ? body.error
      : undefined;
  if (!Array.isArray(body.results)) return { status, error: error ?? "no results" };
  const results = new Map<number, CollectorResult>();
  for (const r of body.results) {
    if (!isRecord(r) || typeof r.index !== "number") continue;
    const errors = Array.isArray(r.errors) ? r.errors : [];
    const reason =
      r.status === "rejected"
        ? errors.map((e) => (isRecord(e) ? String(e.message) : String(e))).join("; ")
        : String(r.reason ?? "");
    results.set(r.index, {
      status: String(r.status),
      ...(typeof r.id === "string" ? { id: r.id } : {}),
      duplicate: r.duplicate === true,
      reason,
    });
  }
  return { status, results, ...(error === undefined ? {} : { error }) };
}

function requestFailure(subject: string, timeoutMs: number, err: unknown): string {
  const noResponders =
    err instanceof NoRespondersError ||
    (err instanceof RequestError && err.isNoResponders()) ||
    (err instanceof Error && err.cause instanceof RequestError && err.cause.isNoResponders());
  if (noResponders) return `no collector answers on ${subject}: start one (events are replayed through it)`;
  if (err instanceof TimeoutError || (err instanceof Error && err.cause instanceof TimeoutError)) {
    return (
      `the collector did not answer on ${subject} within ${timeoutMs} ms; it may have stored the events ` +
      "(replaying again within 2 minutes is deduplicated)"
    );
  }
  return `request to ${subject} failed: ${errorText(err)}`;
}

// Deleting a letter someone else deleted already (another replay, the age limit) is no failure:
// the server answers "no message found" (or "stream store EOF" past the last one).
function isMessageGone(err: unknown): boolean {
  return err instanceof JetStreamApiError && /no message found|store EOF/i.test(err.message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
