import type { JsMsg } from "@nats-io/jetstream";
import { headers as createHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { BusErrorCode, FrameError } from "./errors.js";
import { contentIdOf } from "./frame-id.js";
import { Header } from "./headers.js";
import { datasetOfSubject } from "./subjects.js";

/** The Avro schema of a frame's body (docs/contracts.md). */
export const FRAME_SCHEMA = {
  type: "record",
  name: "Frame",
  namespace: "inlet",
  fields: [
    {
      name: "events",
      type: {
        type: "array",
        items: {
          type: "record",
          name: "FrameEvent",
          fields: [
            { name: "id", type: "string" },
            { name: "ingestedAt", type: "long" },
            { name: "payload", type: "bytes" },
          ],
        },
      },
    },
  ],
} as const;

/** One event in a frame: its id, when the collector accepted it (ms since the epoch), its Avro payload. */
export interface FrameEvent {
  id: string;
  ingestedAt: number;
  payload: Uint8Array;
}

/** Default most events per frame. */
export const DEFAULT_MAX_FRAME_EVENTS = 1_000;
/** Default most body bytes per frame: 900,000, leaving room for headers under the 1 MiB max payload. */
export const DEFAULT_MAX_FRAME_BYTES = 900_000;

/**
 * Encodes events into a frame body (Avro binary of {@link FRAME_SCHEMA}: one array block, then the
 * end marker), sized exactly and written in one pass. By hand rather than avsc's `toBuffer`, which
 * writes any value past 1 kB twice (once to measure it) and needs an object per event.
 */
export function encodeFrame(events: readonly FrameEvent[]): Uint8Array {
  const n = events.length;
  const idBytes = new Int32Array(n);
  let size = n === 0 ? 1 : varintSize(n) + 1;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    if (!Number.isInteger(e.ingestedAt) || Math.abs(e.ingestedAt) > LONG_LIMIT)
      throw new TypeError(`event ${e.id}: ingestedAt ${e.ingestedAt} is not a time in ms`);
    const idLength = Buffer.byteLength(e.id, "utf8");
    idBytes[i] = idLength;
    const payload = e.payload.byteLength;
    size += varintSize(idLength) + idLength + varintSize(e.ingestedAt) + varintSize(payload) + payload;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (n > 0) {
    at = writeVarint(out, at, n);
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      const idLength = idBytes[i]!;
      at = writeVarint(out, at, idLength);
      at += out.write(e.id, at, idLength, "utf8");
      at = writeVarint(out, at, e.ingestedAt);
      at = writeVarint(out, at, e.payload.byteLength);
      out.set(e.payload, at);
      at += e.payload.byteLength;
    }
  }
  out[at++] = 0; // the array's end
  if (at !== size) throw new Error(`frame encoding wrote ${at} bytes, sized ${size}`);
  return out;
}

// The longs a number carries exactly through zig-zag (avsc's bound too).
const LONG_LIMIT = 2 ** 52;

// Bytes of an integer within ±LONG_LIMIT as an Avro long (zig-zag, then 7 bits a byte).
function varintSize(value: number): number {
  let z = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    bytes++;
  }
  return bytes;
}

// Writes an integer within ±LONG_LIMIT as an Avro long at `at`; returns the position after it.
function writeVarint(out: Buffer, at: number, value: number): number {
  let z = value >= 0 ? value * 2 : -value * 2 - 1;
  while (z >= 128) {
    out[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  out[at++] = z;
  return at;
}

/**
 * Decodes a frame body. Throws {@link FrameError} (BAD_FRAME) on anything malformed. The payloads
 * are views into `bytes`, not copies.
 */
export function decodeFrame(bytes: Uint8Array): FrameEvent[] {
  // Read by hand, not with avsc: avsc trusts an array's block count, so garbage claiming 2^40
  // items would loop until memory runs out. Here every length is checked against what is left.
  const buf = asBuffer(bytes);
  const events: FrameEvent[] = [];
  new FrameReader(buf).read((id, ingestedAt, start, end) => {
    events.push({
      id: buf.toString("utf8", id.start, id.end),
      ingestedAt,
      payload: buf.subarray(start, end),
    });
  });
  return events;
}

/** Where one event's id lies in a frame body: bytes `[start, end)`, UTF-8. */
export interface FrameIdBytes {
  start: number;
  end: number;
}

/**
 * Walks a frame body without copying anything: `visit` gets each event's id (where its bytes lie;
 * the object is reused, read it before returning), ingest time and payload bytes `[start, end)`
 * in `body`. The same checks as {@link decodeFrame}; returns the event count.
 */
export function walkFrame(body: Uint8Array, visit: FrameVisitor): number {
  return new FrameReader(asBuffer(body)).read(visit);
}

/** What {@link walkFrame} hands each event: its id's bytes, ingest time and payload bytes. */
export type FrameVisitor = (id: FrameIdBytes, ingestedAt: number, start: number, end: number) => void;

// Reused by joinIds: the ids of one frame joined by newlines.
let joinedIds = Buffer.alloc(64 * 1024);

// A visitor joining the ids of `buf`'s events with newlines, and the content id they make.
function joinIds(buf: Buffer): { visit: FrameVisitor; contentId: (dataset: string) => string } {
  let length = 0;
  return {
    visit: (id) => {
      const need = length + (id.end - id.start) + 1;
      if (need > joinedIds.length) {
        const bigger = Buffer.alloc(Math.max(need, 2 * joinedIds.length));
        joinedIds.copy(bigger, 0, 0, length);
        joinedIds = bigger;
      }
      if (length > 0) joinedIds[length++] = 0x0a;
      length += buf.copy(joinedIds, length, id.start, id.end);
    },
    contentId: (dataset) => contentIdOf(dataset, joinedIds.subarray(0, length)),
  };
}

/**
 * {@link collectorFrameId} of a frame body's event ids (a frame's content), computed from the
 * bytes without decoding an event. Throws {@link FrameError} as {@link decodeFrame} does.
 */
export function frameContentId(dataset: string, body: Uint8Array): string {
  const buf = asBuffer(body);
  const ids = joinIds(buf);
  walkFrame(buf, ids.visit);
  return ids.contentId(dataset);
}

/** Options of {@link chunkEvents}. */
export interface ChunkOptions {
  /** Most events per frame (default 1,000). */
  maxEvents?: number;
  /** Most body bytes per frame (default 900,000). */
  maxBytes?: number;
}

// Upper bound of the Avro overhead around one event (three varints) and around a frame (block count, end).
const EVENT_OVERHEAD = 25;
const FRAME_OVERHEAD = 16;

/**
 * Splits events, in order, into groups that each fit one frame. Throws {@link FrameError}
 * (EVENT_TOO_LARGE) when a single event cannot fit any frame.
 */
export function chunkEvents(events: readonly FrameEvent[], options: ChunkOptions = {}): FrameEvent[][] {
  const maxEvents = options.maxEvents ?? DEFAULT_MAX_FRAME_EVENTS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const chunks: FrameEvent[][] = [];
  let current: FrameEvent[] = [];
  let size = FRAME_OVERHEAD;
  for (const event of events) {
    const eventSize = Buffer.byteLength(event.id) + event.payload.byteLength + EVENT_OVERHEAD;
    if (eventSize + FRAME_OVERHEAD > maxBytes) {
      throw new FrameError(
        `event ${event.id} is ${event.payload.byteLength} bytes, more than a frame can carry (${maxBytes} bytes)`,
        BusErrorCode.EventTooLarge,
      );
    }
    if (current.length > 0 && (current.length >= maxEvents || size + eventSize > maxBytes)) {
      chunks.push(current);
      current = [];
      size = FRAME_OVERHEAD;
    }
    current.push(event);
    size += eventSize;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The headers of a frame: `Nats-Msg-Id`, `Inlet-Schema`, `Inlet-Count`, and `traceparent` when given. */
export function frameHeaders(frame: {
  msgId: string;
  schemaId: string;
  count: number;
  traceparent?: string;
}): MsgHdrs {
  const h = createHeaders();
  h.set(Header.MsgId, frame.msgId);
  h.set(Header.Schema, frame.schemaId);
  h.set(Header.Count, String(frame.count));
  if (frame.traceparent !== undefined && frame.traceparent !== "")
    h.set(Header.Traceparent, frame.traceparent);
  return h;
}

/**
 * A frame as read from a stream, its headers parsed. Its events stay as bytes in `body`: a frame
 * in flight holds no object per event (objects that outlive a few young collections are copied,
 * then promoted, then need a full collection). {@link decodeFrame} gives them when needed.
 */
export interface FrameHead {
  /** The dataset, from the subject's last token. */
  dataset: string;
  /** `Inlet-Schema`, e.g. `clicks@1`. */
  schemaId: string;
  /** `traceparent`, when the producer sent one. */
  traceparent: string | undefined;
  /** `Nats-Msg-Id`, when the producer sent one. */
  msgId: string | undefined;
  /** `Inlet-Count`: the events the body holds (checked by {@link readFrame}). */
  count: number;
  /** The frame's body: the message's own bytes. */
  body: Uint8Array;
  subject: string;
  /** Stream sequence. */
  seq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
}

const SCHEMA_ID = /^([a-z][a-z0-9_]*)@([1-9][0-9]*)$/;

/**
 * A frame read by {@link readFrame}: headers and body checked, so `decodeFrame(frame.body)` gives
 * exactly `count` events and cannot fail.
 */
export type ReceivedFrame = FrameHead;

/**
 * Reads and checks a frame's headers, leaving the body to {@link walkFrame}, {@link decodeFrame}
 * or {@link checkFrameBody}. Throws {@link FrameError} (BAD_FRAME) on a bad header.
 */
export function readFrameHead(msg: JsMsg): FrameHead {
  const dataset = datasetOfSubject(msg.subject);
  if (dataset === undefined) throw badFrame(msg, "the subject does not end in a dataset name");
  const schemaId = msg.headers?.get(Header.Schema) ?? "";
  const schemaDataset = SCHEMA_ID.exec(schemaId)?.[1];
  if (schemaDataset === undefined)
    throw badFrame(msg, `bad ${Header.Schema} header ${JSON.stringify(schemaId)}`);
  if (schemaDataset !== dataset) throw badFrame(msg, `schema ${schemaId} is not of dataset ${dataset}`);
  const countHeader = msg.headers?.get(Header.Count) ?? "";
  const count = /^[0-9]+$/.test(countHeader) ? Number(countHeader) : Number.NaN;
  if (Number.isNaN(count)) throw badFrame(msg, `bad ${Header.Count} header ${JSON.stringify(countHeader)}`);
  return {
    dataset,
    schemaId,
    count,
    traceparent: nonEmpty(msg.headers?.get(Header.Traceparent)),
    msgId: nonEmpty(msg.headers?.get(Header.MsgId)),
    body: msg.data,
    subject: msg.subject,
    seq: msg.seq,
    deliveryCount: msg.info.deliveryCount,
  };
}

/**
 * {@link walkFrame} of a frame's body, checked against its head: throws {@link FrameError}
 * (BAD_FRAME, naming the message) when the body is malformed or holds another number of events
 * than `Inlet-Count` says; `visit` never sees more events than that. Returns the body as a Buffer
 * (the same bytes), which the visitor's byte ranges point into.
 */
export function walkFrameBody(msg: JsMsg, head: FrameHead, visit: FrameVisitor): Buffer {
  const body = asBuffer(head.body);
  // An event takes MIN_EVENT_BYTES at least: a count past that is a lie, refused before any walk.
  if (head.count > body.length / MIN_EVENT_BYTES)
    throw badFrame(msg, `${Header.Count} says ${head.count} events, the body is ${body.length} bytes`);
  let seen = 0;
  let events: number;
  try {
    events = new FrameReader(body).read((id, ingestedAt, start, end) => {
      if (seen++ < head.count) visit(id, ingestedAt, start, end);
    });
  } catch (err) {
    throw badFrame(msg, err instanceof Error ? err.message : String(err), err);
  }
  if (events !== head.count)
    throw badFrame(msg, `${Header.Count} says ${head.count} events, the body has ${events}`);
  return body;
}

/**
 * Checks a frame's body against its head without decoding an event, and returns its content id
 * ({@link frameContentId}). Throws {@link FrameError} (BAD_FRAME) as {@link readFrame} does.
 */
export function checkFrameBody(msg: JsMsg, head: FrameHead): string {
  const ids = joinIds(asBuffer(head.body));
  walkFrameBody(msg, head, ids.visit);
  return ids.contentId(head.dataset);
}

/**
 * Reads a frame from a JetStream message, checking its headers against its body, without decoding
 * its events. Throws {@link FrameError} (BAD_FRAME) when it is not a valid frame: a poison
 * message, to dead-letter.
 */
export function readFrame(msg: JsMsg): ReceivedFrame {
  const head = readFrameHead(msg);
  walkFrameBody(msg, head, () => {});
  return head;
}

function badFrame(msg: JsMsg, why: string, cause?: unknown): FrameError {
  return new FrameError(`bad frame on ${msg.subject} (seq ${msg.seq}): ${why}`, BusErrorCode.BadFrame, {
    cause,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// The smallest encoded event: empty id (1 byte), ingestedAt (1 byte), empty payload (1 byte).
const MIN_EVENT_BYTES = 3;

/** A bounds-checked reader of the frame's Avro binary. */
class FrameReader {
  readonly #buf: Buffer;
  #pos = 0;
  #start = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  // Calls `visit` for every event; returns how many.
  read(visit: FrameVisitor): number {
    const id: FrameIdBytes = { start: 0, end: 0 };
    let events = 0;
    for (;;) {
      let count = this.#long();
      if (count === 0) break;
      if (count < 0) {
        // A negative count is followed by the block's size in bytes.
        count = -count;
        this.#long();
      }
      if (count > (this.#buf.length - this.#pos) / MIN_EVENT_BYTES) {
        throw new FrameError(`array block of ${count} events cannot fit the frame`, BusErrorCode.BadFrame);
      }
      for (let i = 0; i < count; i++) {
        id.end = this.#skip();
        id.start = this.#start;
        const ingestedAt = this.#long();
        const end = this.#skip();
        visit(id, ingestedAt, this.#start, end);
        events++;
      }
    }
    if (this.#pos !== this.#buf.length) {
      throw new FrameError(`${this.#buf.length - this.#pos} bytes after the frame`, BusErrorCode.BadFrame);
    }
    return events;
  }

  // A zigzag varint, as a safe integer.
  #long(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.#pos >= this.#buf.length) throw new FrameError("truncated frame", BusErrorCode.BadFrame);
      const b = this.#buf[this.#pos++]!;
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) break;
      scale *= 128;
      if (scale > 2 ** 56) throw new FrameError("varint too long", BusErrorCode.BadFrame);
    }
    if (n > Number.MAX_SAFE_INTEGER)
      throw new FrameError("long out of safe integer range", BusErrorCode.BadFrame);
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  // Steps over Avro bytes: they lie at [#start, returned end).
  #skip(): number {
    const length = this.#long();
    if (length < 0 || length > this.#buf.length - this.#pos) {
      throw new FrameError(`bytes of length ${length} overrun the frame`, BusErrorCode.BadFrame);
    }
    this.#start = this.#pos;
    this.#pos += length;
    return this.#pos;
  }
}
