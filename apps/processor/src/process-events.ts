import { type FrameEvent, PayloadDecodeError } from "@inlet/bus";
import { validateEvent } from "@inlet/schema";
import type { Type } from "avsc";
import type { CompiledRules } from "./dataset-rules.js";
import type { EventRecord } from "./event-record.js";
import { TransformError } from "./transform-error.js";

/** An event that matched an alert rule. */
export interface AlertHit {
  readonly rule: string;
  readonly event: FrameEvent;
  readonly record: EventRecord;
}

/** An event a transform could not handle; it goes to the dead-letter stream. */
export interface RejectedEvent {
  readonly event: FrameEvent;
  /** The event as it arrived (before any transform). */
  readonly record: EventRecord;
  readonly error: TransformError;
}

/** What the rules made of one frame's events. */
export interface ProcessedEvents {
  /**
   * Kept events in input order (same ids and ingest times): re-encoded when a transform changed a
   * value, otherwise with their payload bytes as they arrived.
   */
  readonly out: FrameEvent[];
  /** How many events the filter dropped. */
  filtered: number;
  readonly alerts: AlertHit[];
  readonly rejected: RejectedEvent[];
}

/**
 * Runs `rules` over the events of one frame written with `type` (`schemaId`): decode, filter,
 * transform, re-encode, then check alerts on what is kept. A transform or encode failure rejects
 * that event only; an undecodable payload throws {@link PayloadDecodeError}.
 */
export function processEvents(
  events: readonly FrameEvent[],
  type: Type,
  schemaId: string,
  rules: CompiledRules,
): ProcessedEvents {
  const result: ProcessedEvents = { out: [], filtered: 0, alerts: [], rejected: [] };
  const fields = rules.transformFields;
  const before: unknown[] = new Array(fields.length);
  for (const event of events) {
    let record: EventRecord;
    try {
      record = type.fromBuffer(asBuffer(event.payload));
    } catch (cause) {
      throw new PayloadDecodeError(schemaId, event.id, { cause });
    }
    if (!rules.keep(record)) {
      result.filtered++;
      continue;
    }
    let payload: Buffer;
    try {
      for (let i = 0; i < fields.length; i++) before[i] = record[fields[i]!];
      rules.transform(record);
      // Most events arrive already in shape: the same values encode to the same bytes.
      let changed = false;
      for (let i = 0; i < fields.length && !changed; i++) changed = !Object.is(before[i], record[fields[i]!]);
      payload = changed ? type.toBuffer(record) : asBuffer(event.payload);
    } catch (error) {
      const reason = asTransformError(error, type, record, rules.dataset);
      // The dead letter carries the event as it arrived, not half transformed.
      result.rejected.push({ event, record: type.fromBuffer(asBuffer(event.payload)), error: reason });
      continue;
    }
    result.out.push({ id: event.id, ingestedAt: event.ingestedAt, payload });
    for (const alert of rules.alerts) {
      if (alert.matches(record)) result.alerts.push({ rule: alert.name, event, record });
    }
  }
  return result;
}

// An encode failure names the first field that no longer fits its type.
function asTransformError(error: unknown, type: Type, record: EventRecord, dataset: string): TransformError {
  if (error instanceof TransformError) return error;
  const issue = validateEvent(type, record, dataset)[0];
  return new TransformError(
    dataset,
    issue?.field ?? "",
    issue?.expected ?? "a valid event",
    issue?.got ?? "?",
    {
      cause: error,
    },
  );
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
