import {
  BusError,
  chunkEvents,
  collectorFrameId,
  encodeFrame,
  type FrameEvent,
  frameHeaders,
  publishWithRetry,
} from "@inlet/bus";
import {
  ATTR_INLET_DATASET,
  ATTR_INLET_SCHEMA_ID,
  ATTR_INLET_STAGE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_SYSTEM_VALUE_NATS,
  MessagingOperationType,
  SpanKind,
  type Tracer,
  traceparentOfSpan,
  withSpan,
} from "@inlet/telemetry";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { CollectorMetrics } from "./collector-metrics.js";

/** What became of one frame: the events `[start, start + count)` of the valid list. */
export type FrameOutcome =
  | { start: number; count: number; stored: true; duplicate: boolean }
  | { start: number; count: number; stored: false; reason: string };

/** What {@link publishFrames} needs besides the events. */
export interface PublishFramesOptions {
  js: JetStreamClient;
  tracer: Tracer;
  metrics: CollectorMetrics;
  /** `ingest.<ds>` (with the test prefix, if any). */
  subject: string;
  dataset: string;
  /** `Inlet-Schema` of every payload, e.g. `clicks@2`. */
  schemaId: string;
  /** Most events per frame. */
  maxFrameEvents: number;
  /** Give up on a frame after this long without a PubAck, in ms. */
  timeoutMs: number;
}

/**
 * Splits `events` into frames and publishes them all at once, each under a PRODUCER span whose
 * context is the frame's `traceparent`. Resolves when every frame has its PubAck or has failed:
 * a frame the bus refused or could not reach is reported `stored: false`, never thrown. Every
 * frame is encoded before the first publish is awaited, so the publishes in flight hold bytes, not
 * the events.
 */
export function publishFrames(
  events: readonly FrameEvent[],
  options: PublishFramesOptions,
): Promise<FrameOutcome[]> {
  const { js, tracer, metrics, subject, dataset, schemaId, timeoutMs } = options;
  let start = 0;
  const frames = chunkEvents(events, { maxEvents: options.maxFrameEvents }).map((events) => {
    const frame = {
      start,
      count: events.length,
      body: encodeFrame(events),
      msgId: collectorFrameId(
        dataset,
        events.map((e) => e.id),
      ),
    };
    start += events.length;
    return frame;
  });
  return Promise.all(
    frames.map(({ start, count, body, msgId }) => {
      const attributes = {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
        [ATTR_MESSAGING_OPERATION_TYPE]: MessagingOperationType.Publish,
        [ATTR_MESSAGING_OPERATION_NAME]: "publish",
        [ATTR_MESSAGING_DESTINATION_NAME]: subject,
        [ATTR_MESSAGING_MESSAGE_ID]: msgId,
        [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count,
        [ATTR_INLET_DATASET]: dataset,
        [ATTR_INLET_SCHEMA_ID]: schemaId,
        [ATTR_INLET_STAGE]: "collector",
      };
      return withSpan(tracer, `publish ${subject}`, { kind: SpanKind.PRODUCER, attributes }, async (span) => {
        const began = performance.now();
        const traceparent = traceparentOfSpan(span);
        try {
          const headers = frameHeaders({
            msgId,
            schemaId,
            count,
            ...(traceparent === undefined ? {} : { traceparent }),
          });
          const ack = await publishWithRetry(js, subject, body, headers, {
            timeoutMs,
            attemptTimeoutMs: timeoutMs,
          });
          metrics.publishDuration(dataset, (performance.now() - began) / 1000);
          return { start, count, stored: true, duplicate: ack.duplicate } as const;
        } catch (error) {
          // A BusError is the bus saying no (full, unreachable): report it, let the others finish.
          if (!(error instanceof BusError)) throw error;
          span.recordException(error);
          span.setAttribute("error.type", error.code);
          return { start, count, stored: false, reason: error.message } as const;
        }
      });
    }),
  );
}
