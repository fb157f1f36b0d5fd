import { JetStreamApiError, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import {
  ClosedConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  type MsgHdrs,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import { BusError, BusErrorCode } from "./errors.js";
import { encodeFrame, type FrameEvent, frameHeaders } from "./frame.js";

/** Options of {@link publishFrame} and {@link publishWithRetry}. */
export interface PublishOptions {
  /** Give up retrying after this long, in ms (default 30 s). */
  timeoutMs?: number;
  /** Wait for one PubAck at most this long, in ms (default 5 s, capped by what is left of `timeoutMs`). */
  attemptTimeoutMs?: number;
}

/** A frame to publish. */
export interface FrameToPublish {
  events: readonly FrameEvent[];
  /** `Inlet-Schema`, e.g. `clicks@1`. */
  schemaId: string;
  /** The frame id (`collectorFrameId` or `stageFrameId`), sent as `Nats-Msg-Id`. */
  msgId: string;
  traceparent?: string;
}

/**
 * Publishes a frame and resolves with the PubAck (`duplicate: true` when JetStream had it already).
 * Retries while the server is unreachable; throws {@link BusError}: STREAM_FULL when the stream
 * refuses (answer 503), PUBLISH_TIMEOUT past the deadline, MESSAGE_TOO_LARGE, PUBLISH_REJECTED.
 */
export function publishFrame(
  js: JetStreamClient,
  subject: string,
  frame: FrameToPublish,
  options: PublishOptions = {},
): Promise<PubAck> {
  const headers = frameHeaders({
    msgId: frame.msgId,
    schemaId: frame.schemaId,
    count: frame.events.length,
    ...(frame.traceparent === undefined ? {} : { traceparent: frame.traceparent }),
  });
  return publishWithRetry(js, subject, encodeFrame(frame.events), headers, options);
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

/**
 * Publishes `data` to JetStream, retrying transient failures (no responders, timeouts: a server
 * restarting) with backoff until the deadline. Give headers a `Nats-Msg-Id` so a retry of a
 * publish that did land is deduplicated. Errors as {@link publishFrame}.
 */
export async function publishWithRetry(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  headers: MsgHdrs,
  options: PublishOptions = {},
): Promise<PubAck> {
  const { timeoutMs = 30_000, attemptTimeoutMs = 5_000 } = options;
  const deadline = Date.now() + timeoutMs;
  let backoff = FIRST_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    try {
      return await js.publish(subject, data, {
        headers,
        timeout: Math.max(1, Math.min(attemptTimeoutMs, left)),
      });
    } catch (err) {
      const failure = classify(subject, err);
      if (failure instanceof BusError) throw failure;
      if (Date.now() + backoff >= deadline) {
        throw new BusError(
          `no PubAck for ${subject} after ${attempt} attempts in ${timeoutMs} ms (${failure})`,
          BusErrorCode.PublishTimeout,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, backoff * (0.5 + Math.random() / 2)));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

// JetStream API error codes that mean "the stream is full" (maximum bytes/messages exceeded, or
// the server is out of storage).
const STREAM_STORE_FAILED = 10077;
const INSUFFICIENT_RESOURCES = 10023;

/** A BusError for a final failure, or a short description of a transient one (worth a retry). */
function classify(subject: string, err: unknown): BusError | string {
  if (err instanceof TimeoutError) return "timeout";
  if (err instanceof NoRespondersError) return "no responders";
  if (err instanceof RequestError && err.isNoResponders()) return "no responders";
  // nats.js reports "no responders" on a JetStream subject as JetStreamNotEnabled, caused by the
  // RequestError: nothing answered, because the server is starting or no stream listens there.
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof RequestError && cause.isNoResponders())
    return "no responders: is there a stream for the subject?";
  if (err instanceof ClosedConnectionError || err instanceof DrainingConnectionError) {
    return new BusError(
      `cannot publish to ${subject}: the connection is closed`,
      BusErrorCode.ConnectionClosed,
      {
        cause: err,
      },
    );
  }
  if (err instanceof InvalidArgumentError && /max_payload/.test(err.message)) {
    return new BusError(
      `message to ${subject} is larger than the server's max payload`,
      BusErrorCode.MessageTooLarge,
      {
        cause: err,
      },
    );
  }
  if (err instanceof JetStreamApiError) {
    const full =
      (err.code === STREAM_STORE_FAILED && /maximum (bytes|messages)/i.test(err.message)) ||
      err.code === INSUFFICIENT_RESOURCES;
    if (full) {
      return new BusError(`stream for ${subject} is full: ${err.message}`, BusErrorCode.StreamFull, {
        cause: err,
      });
    }
    // Other 503s: JetStream is temporarily unavailable (e.g. electing a leader).
    if (err.status === 503) return err.message;
    return new BusError(`stream refused ${subject}: ${err.message}`, BusErrorCode.PublishRejected, {
      cause: err,
    });
  }
  return new BusError(`publishing to ${subject} failed: ${String(err)}`, BusErrorCode.PublishRejected, {
    cause: err,
  });
}
