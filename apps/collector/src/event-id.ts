import { UuidV7Generator } from "./uuid-v7.js";

/** The JSON property a client sets to name its event (removed before validation). */
export const EVENT_ID_FIELD = "_event_id";

/** Longest client-given event id, in characters. */
export const MAX_EVENT_ID_LENGTH = 128;

const uuidV7 = new UuidV7Generator();

/** The event id of one event, or why the client-given one is refused. */
export type EventIdResult = { ok: true; id: string } | { ok: false; got: unknown; message: string };

/**
 * Takes the event's id: removes `_event_id` from `event` and returns it when it is a non-empty
 * string of at most {@link MAX_EVENT_ID_LENGTH} characters. An event with none gets `assigned()`,
 * by default a new UUIDv7 (an ingress whose messages have ids of their own derives it from them,
 * so that a redelivery gets the same id).
 */
export function takeEventId(
  event: Record<string, unknown>,
  assigned: () => string = () => uuidV7.next(),
): EventIdResult {
  if (!Object.hasOwn(event, EVENT_ID_FIELD)) return { ok: true, id: assigned() };
  const given = event[EVENT_ID_FIELD];
  delete event[EVENT_ID_FIELD];
  if (typeof given !== "string" || given.length === 0 || given.length > MAX_EVENT_ID_LENGTH) {
    return {
      ok: false,
      got: given,
      message: `${EVENT_ID_FIELD} must be a string of 1 to ${MAX_EVENT_ID_LENGTH} characters`,
    };
  }
  return { ok: true, id: given };
}
