import type { JetStreamClient, JsMsg, PubAck } from "@nats-io/jetstream";
import { headers as createHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { DlqKind, Header } from "./headers.js";
import { type PublishOptions, publishWithRetry } from "./publisher.js";
import { datasetOfSubject, type Stage, Subjects } from "./subjects.js";

/** One rejected event (docs/contracts.md, dead letters of kind `event`). */
export interface EventDeadLetter {
  stage: Stage;
  dataset: string;
  /** Error code, e.g. `SCHEMA_MISMATCH`. */
  code: string;
  /** Why, for a person: `dataset "clicks": field "amount" expected double, got "12,5"`. */
  reason: string;
  /** The field at fault, as a dotted path. */
  field?: string;
  expected?: string;
  got?: unknown;
  eventId?: string;
  /** The event as JSON, or the raw text when it did not parse. */
  event: unknown;
  /** Trace context of the span that rejected it. */
  traceparent?: string;
}

/** A frame given up on (docs/contracts.md, dead letters of kind `frame`). */
export interface FrameDeadLetter {
  stage: Stage;
  /** The frame's dataset (default: the last token of its subject, or `unknown`). */
  dataset?: string;
  /** The frame as delivered; its bytes and headers are kept. */
  msg: JsMsg;
  code: string;
  reason: string;
}

/** Options of {@link DeadLetters}. */
export interface DeadLettersOptions {
  /** Subjects to publish under (default: the production subjects). */
  subjects?: Subjects;
  /** Retry budget per dead letter (default: keep trying for 60 s). */
  publish?: PublishOptions;
}

// An event dead letter bigger than this has its event cut to its first EVENT_PREVIEW_CHARS as text,
// so the dead letter itself fits the server's max payload.
const MAX_EVENT_BODY_BYTES = 900_000;
const EVENT_PREVIEW_CHARS = 100_000;
const MAX_REASON_CHARS = 1_000;

/**
 * Publishes dead letters to `dlq.<stage>.<ds>`, retrying until accepted (a dead letter must not be
 * lost either). Each has a deterministic `Nats-Msg-Id`, so dead-lettering the same thing twice in
 * the duplicate window (after a crash, a redelivery) keeps one copy.
 */
export class DeadLetters {
  readonly #js: JetStreamClient;
  readonly #subjects: Subjects;
  readonly #publish: PublishOptions;

  constructor(js: JetStreamClient, options: DeadLettersOptions = {}) {
    this.#js = js;
    this.#subjects = options.subjects ?? Subjects;
    this.#publish = { timeoutMs: 60_000, ...options.publish };
  }

  /** Dead-letters one event; the body is JSON `{ stage, dataset, code, reason, field?, expected?, got?, eventId?, event }`. */
  event(letter: EventDeadLetter): Promise<PubAck> {
    const subject = this.#subjects.dlq(letter.stage, letter.dataset);
    const h = createHeaders();
    setDeadLetterHeaders(h, DlqKind.Event, letter);
    if (letter.eventId !== undefined) {
      h.set(Header.EventId, oneLine(letter.eventId));
      h.set(Header.MsgId, `dlq:${letter.stage}:${letter.dataset}:event:${letter.eventId}`);
    }
    if (letter.traceparent !== undefined) h.set(Header.Traceparent, letter.traceparent);
    const body = {
      stage: letter.stage,
      dataset: letter.dataset,
      code: letter.code,
      reason: letter.reason,
      field: letter.field,
      expected: letter.expected,
      got: letter.got,
      eventId: letter.eventId,
      event: letter.event,
    };
    let bytes = Buffer.from(toJson(body));
    if (bytes.byteLength > MAX_EVENT_BODY_BYTES) {
      const text = typeof letter.event === "string" ? letter.event : toJson(letter.event);
      bytes = Buffer.from(toJson({ ...body, event: text.slice(0, EVENT_PREVIEW_CHARS), truncated: true }));
    }
    return publishWithRetry(this.#js, subject, bytes, h, this.#publish);
  }

  /**
   * Dead-letters a whole frame: its original bytes unchanged, its original headers (except
   * `Nats-*`), the reason, and where it came from (`Inlet-Source-Subject`, `-Seq`, `-Msg-Id`).
   */
  frame(letter: FrameDeadLetter): Promise<PubAck> {
    const { msg } = letter;
    const dataset = letter.dataset ?? datasetOfSubject(msg.subject) ?? "unknown";
    const subject = this.#subjects.dlq(letter.stage, dataset);
    const h = createHeaders();
    for (const [key, values] of msg.headers ?? []) {
      if (key.toLowerCase().startsWith("nats-")) continue;
      for (const value of values) h.append(key, value);
    }
    setDeadLetterHeaders(h, DlqKind.Frame, { ...letter, dataset });
    h.set(Header.SourceSubject, msg.subject);
    h.set(Header.SourceSeq, String(msg.seq));
    const sourceMsgId = msg.headers?.get(Header.MsgId) ?? "";
    if (sourceMsgId !== "") h.set(Header.SourceMsgId, sourceMsgId);
    h.set(Header.MsgId, `dlq:${letter.stage}:${msg.subject}:${msg.seq}`);
    return publishWithRetry(this.#js, subject, msg.data, h, this.#publish);
  }
}

function setDeadLetterHeaders(
  h: MsgHdrs,
  kind: DlqKind,
  letter: { stage: Stage; dataset: string; code: string; reason: string },
): void {
  h.set(Header.DlqKind, kind);
  h.set(Header.Error, oneLine(letter.reason).slice(0, MAX_REASON_CHARS));
  h.set(Header.ErrorCode, oneLine(letter.code));
  h.set(Header.Stage, letter.stage);
  h.set(Header.Dataset, letter.dataset);
}

// Header values cannot hold line breaks.
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
