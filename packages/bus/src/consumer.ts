import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { DeadLetters } from "./dead-letter.js";
import { BusError, BusErrorCode, FrameError, PoisonError } from "./errors.js";
import { type ReceivedFrame, readFrame } from "./frame.js";
import { type BusLogger, silentLogger } from "./logger.js";
import { Semaphore } from "./semaphore.js";
import type { Stage } from "./subjects.js";

/**
 * Handles one frame. Resolve only when its output is durably accepted (PubAck or lake commit): the
 * frame is acked right after. Throw {@link TransientError} to retry later, {@link PoisonError} to
 * dead-letter it now.
 */
export type FrameHandler = (frame: ReceivedFrame, msg: JsMsg) => Promise<void>;

/** Options of {@link runConsumer}. */
export interface RunConsumerOptions {
  js: JetStreamClient;
  /** Stream name, e.g. `INGEST`. */
  stream: string;
  /** An existing durable pull consumer on it (see `ensureConsumer`). */
  durable: string;
  handle: FrameHandler;
  /** The stage dead letters are filed under. */
  stage: Stage;
  deadLetters: DeadLetters;
  /** Frames handled at once (default 4). */
  concurrency?: number;
  /** Deliveries of a failing frame before it is dead-lettered (default 5). */
  maxAttempts?: number;
  /** Messages buffered from the server (default: `concurrency`; buffered messages age toward ack wait too). */
  batch?: { maxMessages?: number };
  /** Redelivery delay after the n-th failure: `initialMs · 2^(n-1)`, at most `maxMs` (defaults 1 s, 60 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Tell the server frames still in progress are alive this often, in ms (default 10 s, below the 30 s ack wait). */
  workingIntervalMs?: number;
  logger?: BusLogger;
}

/** A running consume loop. */
export interface RunningConsumer {
  /** Stops pulling, lets in-flight frames finish (and be acked), then resolves. */
  stop(): Promise<void>;
  /** Resolves when the loop has ended after {@link RunningConsumer.stop}. */
  done: Promise<void>;
}

// Failures of the bus itself (downstream full, server away): the frame is fine, so it waits as long
// as needed and is never dead-lettered for them.
const BACKPRESSURE_CODES = new Set<string>([
  BusErrorCode.StreamFull,
  BusErrorCode.PublishTimeout,
  BusErrorCode.ConnectionClosed,
]);

const STATUS_WORTH_LOGGING = new Set([
  "heartbeats_missed",
  "consumer_not_found",
  "stream_not_found",
  "consumer_deleted",
  "exceeded_limits",
  "no_responders",
]);

const RESTART_DELAY_MS = 1_000;

/**
 * Consumes frames from a durable pull consumer with at most `concurrency` in flight, and decides
 * each frame's fate in one place: handler resolved → ack; transient failure → nak with backoff;
 * poison, unreadable, or failed `maxAttempts` times → dead-letter (kind frame), then term.
 * Survives NATS restarts (the pull resumes on reconnect). Resolves once the consumer is found.
 */
export async function runConsumer(options: RunConsumerOptions): Promise<RunningConsumer> {
  const { js, stream, durable, handle, stage, deadLetters } = options;
  const concurrency = options.concurrency ?? 4;
  const maxAttempts = options.maxAttempts ?? 5;
  const maxMessages = options.batch?.maxMessages ?? concurrency;
  const initialBackoffMs = options.backoff?.initialMs ?? 1_000;
  const maxBackoffMs = options.backoff?.maxMs ?? 60_000;
  const log = options.logger ?? silentLogger;
  const where = { stream, durable };

  // Fails fast (ConsumerNotFoundError) when the consumer is missing: a setup error, not an outage.
  let consumer = await js.consumers.get(stream, durable);
  const slots = new Semaphore(concurrency);
  const inFlight = new Set<JsMsg>();
  let stopping = false;
  let messages: ConsumerMessages | undefined;

  const working = setInterval(() => {
    for (const msg of inFlight) {
      try {
        msg.working();
      } catch {
        // disconnected: the frame may be redelivered, which its id makes harmless
      }
    }
  }, options.workingIntervalMs ?? 10_000);
  working.unref();

  const backoffMs = (deliveries: number): number =>
    Math.min(initialBackoffMs * 2 ** Math.max(0, deliveries - 1), maxBackoffMs);

  // ack/nak/term are fire-and-forget publishes; on a closed connection they throw, and the server
  // redelivers after the ack wait anyway, so a failure is only logged.
  const reply = (msg: JsMsg, fate: "ack" | "nak" | "term", delayMs?: number): void => {
    try {
      if (fate === "ack") msg.ack();
      else if (fate === "nak") msg.nak(delayMs);
      else msg.term();
    } catch (err) {
      log.warn({ ...where, subject: msg.subject, seq: msg.seq, fate, err }, "could not reply to frame");
    }
  };

  const deadLetter = async (msg: JsMsg, code: string, reason: string): Promise<void> => {
    const deliveries = msg.info.deliveryCount;
    const fields = { ...where, subject: msg.subject, seq: msg.seq, deliveries, code, reason };
    try {
      await deadLetters.frame({ stage, msg, code, reason });
    } catch (err) {
      // The dead letter did not land: keep the frame, try again later.
      reply(msg, "nak", backoffMs(deliveries));
      log.error({ ...fields, err }, "dead letter failed, frame kept");
      return;
    }
    reply(msg, "term");
    log.error(fields, "frame dead-lettered");
  };

  // The one place that decides a frame's fate.
  const settle = async (msg: JsMsg): Promise<void> => {
    let frame: ReceivedFrame;
    try {
      frame = readFrame(msg);
    } catch (err) {
      const code = err instanceof BusError ? err.code : BusErrorCode.BadFrame;
      await deadLetter(msg, code, err instanceof Error ? err.message : String(err));
      return;
    }
    let handled = false;
    let failure: unknown;
    try {
      await handle(frame, msg);
      handled = true;
    } catch (err) {
      failure = err;
    }
    const deliveries = msg.info.deliveryCount;
    const fields = { ...where, subject: msg.subject, seq: msg.seq, deliveries };
    if (handled) {
      reply(msg, "ack");
      log.debug({ ...fields, events: frame.count }, "frame acked");
      return;
    }
    const reason = failure instanceof Error ? failure.message : String(failure);
    if (failure instanceof PoisonError || failure instanceof FrameError) {
      await deadLetter(msg, failure.code, reason);
    } else if (failure instanceof BusError && BACKPRESSURE_CODES.has(failure.code)) {
      reply(msg, "nak", backoffMs(deliveries));
      log.warn({ ...fields, err: failure }, "bus unavailable, frame nak'ed");
    } else if (deliveries >= maxAttempts) {
      await deadLetter(
        msg,
        BusErrorCode.MaxDeliveries,
        `failed ${deliveries} deliveries; last error: ${reason}`,
      );
    } else {
      reply(msg, "nak", backoffMs(deliveries));
      log.warn({ ...fields, err: failure }, "frame failed, nak'ed");
    }
  };

  const watchStatus = async (current: ConsumerMessages): Promise<void> => {
    for await (const status of current.status()) {
      if (STATUS_WORTH_LOGGING.has(status.type)) log.warn({ ...where, status }, "consumer status");
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopping) {
      try {
        messages = await consumer.consume({ max_messages: maxMessages });
        if (stopping) await messages.close();
        watchStatus(messages).catch(() => {});
        for await (const msg of messages) {
          await slots.acquire();
          if (stopping) {
            // Pulled but not started: hand it back at once rather than after the ack wait.
            slots.release();
            reply(msg, "nak");
            continue;
          }
          inFlight.add(msg);
          void settle(msg).finally(() => {
            inFlight.delete(msg);
            slots.release();
          });
        }
        if (!stopping) log.warn(where, "consume ended, restarting");
      } catch (err) {
        if (!stopping) log.error({ ...where, err }, "consume failed, restarting");
      }
      if (!stopping) {
        await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
        consumer = await js.consumers.get(stream, durable).catch(() => consumer);
      }
    }
    await slots.idle();
    clearInterval(working);
    log.info(where, "consumer stopped");
  };

  log.info(where, "consumer started");
  const done = loop();
  return {
    done,
    async stop() {
      stopping = true;
      await messages?.close().catch(() => {});
      await done;
    },
  };
}
