import type { EventRecord } from "./event-record.js";

/** The JSON body of an alert on `alerts.<rule>`. */
export interface AlertMessage {
  /** The alert rule's name. */
  rule: string;
  dataset: string;
  eventId: string;
  /** When the collector accepted the event, ms since the epoch. */
  ingestedAt: number;
  /** The trace id (32 hex) of the frame the event travelled in; empty when unknown. */
  traceId: string;
  /** The event as the processor kept it (after its transforms). */
  event: EventRecord;
}

/** The alert's `Nats-Msg-Id`: `<rule>:<event id>`, so a redelivered frame raises each alert once. */
export function alertMsgId(rule: string, eventId: string): string {
  return `${rule}:${eventId}`;
}

/** Encodes an alert as JSON bytes. */
export function encodeAlert(alert: AlertMessage): Uint8Array {
  return Buffer.from(JSON.stringify(alert), "utf8");
}
