import { DEFAULT_MAX_FRAME_BYTES, type FrameEvent } from "@inlet/bus";
import { type RegisteredSchema, validateEvent } from "@inlet/schema";
import type { ParsedBody } from "./body.js";
import { takeEventId } from "./event-id.js";
import type { EventError } from "./response.js";

/** Why an event was rejected: the dead letter's `Inlet-Error-Code`. */
export const RejectCode = {
  /** An NDJSON line that is not JSON. */
  MalformedJson: "MALFORMED_JSON",
  /** A JSON value that is not an object. */
  NotAnObject: "NOT_AN_OBJECT",
  /** `_event_id` is not a string of 1 to 128 characters. */
  InvalidEventId: "INVALID_EVENT_ID",
  /** The event does not match the dataset's latest schema. */
  SchemaMismatch: "SCHEMA_MISMATCH",
  /** The event is too large for a frame. */
  EventTooLarge: "EVENT_TOO_LARGE",
} as const;

/** A {@link RejectCode} value. */
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/** A refused event with what its dead letter needs. */
export interface Rejection {
  id: string | undefined;
  code: RejectCode;
  errors: readonly EventError[];
  /** The event as received (the raw line when it did not parse). */
  event: unknown;
}

/** The events of one body sorted into valid (encoded) and rejected. */
export interface ValidatedBatch {
  /** Event ids by body index (undefined where the client's id was refused). */
  ids: (string | undefined)[];
  /** Valid events in body order, Avro-encoded, ready to be framed. */
  valid: FrameEvent[];
  /** Body index of each valid event (`valid[i]` is event `validIndex[i]`). */
  validIndex: number[];
  /** Refused events by body index. */
  rejected: Map<number, Rejection>;
}

// Room left in a frame for the id and the Avro framing around the largest event.
const MAX_PAYLOAD_BYTES = DEFAULT_MAX_FRAME_BYTES - 1024;
const MAX_SHOWN = 40;

/**
 * Gives every event its id (the client's `_event_id`, removed, else `assignedId(index)`, else a new
 * UUIDv7), validates it against `schema` and encodes the valid ones, stamped with `ingestedAt` (ms).
 * A malformed NDJSON line, a non-object, an unusable `_event_id` or an event too large for a frame
 * is rejected with its reason, like a schema mismatch.
 */
export function validateBatch(
  body: ParsedBody,
  schema: RegisteredSchema,
  ingestedAt: number,
  assignedId?: (index: number) => string,
): ValidatedBatch {
  const { events, malformed } = body;
  const { type, id: schemaId, dataset } = schema;
  const prefix = `dataset ${JSON.stringify(dataset)}:`;
  const ids: (string | undefined)[] = new Array(events.length);
  const valid: FrameEvent[] = [];
  const validIndex: number[] = [];
  const rejected = new Map<number, Rejection>();
  const reject = (
    index: number,
    id: string | undefined,
    code: RejectCode,
    error: EventError,
    event: unknown,
  ) => rejected.set(index, { id, code, errors: [error], event });

  for (let index = 0; index < events.length; index++) {
    const bad = malformed.get(index);
    if (bad !== undefined) {
      const error = {
        field: "",
        expected: "JSON",
        got: show(bad.raw),
        message: `${prefix} malformed JSON at ${bad.message}`,
      };
      reject(index, undefined, RejectCode.MalformedJson, error, bad.raw);
      continue;
    }
    const event = events[index];
    if (typeof event !== "object" || event === null || Array.isArray(event)) {
      const got = show(event);
      const error = {
        field: "",
        expected: "object",
        got,
        message: `${prefix} event expected an object, got ${got}`,
      };
      reject(index, undefined, RejectCode.NotAnObject, error, event);
      continue;
    }
    const record = event as Record<string, unknown>;
    const taken =
      assignedId === undefined ? takeEventId(record) : takeEventId(record, () => assignedId(index));
    if (!taken.ok) {
      const got = show(taken.got);
      const error = {
        field: "_event_id",
        expected: "string of 1 to 128 characters",
        got,
        message: `${prefix} ${taken.message}, got ${got}`,
      };
      reject(index, undefined, RejectCode.InvalidEventId, error, record);
      continue;
    }
    const id = taken.id;
    ids[index] = id;
    const issues = validateEvent(type, record, schemaId);
    if (issues.length > 0) {
      rejected.set(index, { id, code: RejectCode.SchemaMismatch, errors: issues, event: record });
      continue;
    }
    const payload = type.toBuffer(record);
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      const error = {
        field: "",
        expected: `at most ${MAX_PAYLOAD_BYTES} bytes`,
        got: `${payload.byteLength} bytes`,
        message: `${prefix} event is ${payload.byteLength} bytes in Avro, more than a frame carries (${MAX_PAYLOAD_BYTES})`,
      };
      reject(index, id, RejectCode.EventTooLarge, error, record);
      continue;
    }
    valid.push({ id, ingestedAt, payload });
    validIndex.push(index);
  }
  return { ids, valid, validIndex, rejected };
}

/** A short JSON rendering of what came, for error messages: `"12,5"`, `null`, `[1,2,…`. */
function show(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // a bigint or a cycle cannot come from JSON.parse; be safe anyway
  }
  text ??= String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}
