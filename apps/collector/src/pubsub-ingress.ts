import { setTimeout as sleep } from "node:timers/promises";
import type { Message, PubSub, Subscription } from "@google-cloud/pubsub";
import type { Logger } from "@inlet/telemetry";
import type { PubSubSource } from "./config.js";
import { type IngestAnswer, type Ingestor, Transport } from "./ingest.js";

/** Message attribute naming the body's format, like HTTP's `Content-Type` (`application/x-ndjson`). */
export const PUBSUB_CONTENT_TYPE_ATTRIBUTE = "content-type";

/** Message attribute carrying the producer's W3C trace context. */
export const PUBSUB_TRACEPARENT_ATTRIBUTE = "traceparent";

// The longest wait between attempts to read a failed subscription again.
const MAX_REOPEN_WAIT_MS = 60_000;

/** A running Pub/Sub ingress. */
export interface PubSubIngress {
  /** Why a subscription stopped delivering, while one has (the collector is then not ready). */
  problem(): string | undefined;
  /** Stops pulling; messages being ingested finish (acked), those waiting to be retried are nacked. */
  stop(): Promise<void>;
}

/** What {@link startPubSubIngress} needs. */
export interface PubSubIngressDeps {
  client: PubSub;
  sources: readonly PubSubSource[];
  ingestor: Ingestor;
  /** Messages held at once across all subscriptions (Pub/Sub flow control). */
  maxMessages: number;
  /** Message bytes held at once across all subscriptions. */
  maxBytes: number;
  /** How long a message answered 503 (bus unavailable, collector full) waits before it is tried again, ms. */
  retryMs: number;
  logger: Logger;
}

/**
 * Reads each subscription of `sources` into its dataset. A message is a body, as an HTTP request's:
 * one JSON event, a JSON array of events or NDJSON (attribute `content-type`), with `traceparent`
 * as an attribute. It is acked only once each of its events is stored in INGEST or dead-lettered;
 * a body refused as a whole (malformed, too large, unknown dataset) is dead-lettered too. While the
 * bus cannot take it, the message is held (and counts against flow control, which is the
 * backpressure) and tried again every `retryMs`.
 *
 * Pub/Sub delivers at least once. An event without `_event_id` gets one made of the topic, the
 * message id and its index, and a message's events are framed on their own, so a redelivered
 * message makes the same frames and JetStream's duplicate window keeps one copy.
 */
export async function startPubSubIngress(deps: PubSubIngressDeps): Promise<PubSubIngress> {
  const { client, sources, ingestor, logger } = deps;
  const stopped = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const problems = new Map<string, string>();
  const subscriptions: Subscription[] = [];
  const share = sources.length === 0 ? 1 : sources.length;

  const ingest = async (source: PubSubSource, topic: string, message: Message): Promise<void> => {
    if (stopped.signal.aborted) {
      message.nack();
      return;
    }
    const attributes = message.attributes ?? {};
    const request = {
      transport: Transport.PubSub,
      dataset: source.dataset,
      body: message.data,
      contentType: attributes[PUBSUB_CONTENT_TYPE_ATTRIBUTE] || undefined,
      errorsOnly: true,
      traceparent: attributes[PUBSUB_TRACEPARENT_ATTRIBUTE] || undefined,
      assignedId: (index: number) => `pubsub:${topic}:${message.id}:${index}`,
      deadLetterRefusals: true,
    };
    for (let attempt = 1; ; attempt++) {
      let answer: IngestAnswer;
      try {
        answer = await ingestor.handle(request);
      } catch (error) {
        // Not an answer but a fault of ours: Pub/Sub delivers it again (its dead-letter policy bounds that).
        logger.error(
          { err: error, subscription: source.subscription, id: message.id },
          "pubsub message failed",
        );
        message.nack();
        return;
      }
      if (answer.status !== 503) {
        message.ack();
        return;
      }
      if (stopped.signal.aborted) {
        message.nack();
        return;
      }
      if (attempt === 1 || attempt % 10 === 0) {
        logger.warn(
          {
            subscription: source.subscription,
            dataset: source.dataset,
            id: message.id,
            attempt,
            reason: reasonOf(answer),
          },
          "pubsub message not stored yet: holding it",
        );
      }
      await sleep(deps.retryMs, undefined, { signal: stopped.signal }).catch(() => {});
    }
  };

  // A subscription the client gave up on (deleted, permission taken away, an outage past its
  // retries) is closed and opened again with a growing wait, until it can be read; meanwhile the
  // collector is not ready and says why. Its messages stay in Pub/Sub.
  const reopen = async (source: PubSubSource, subscription: Subscription): Promise<void> => {
    for (let attempt = 1; !stopped.signal.aborted; attempt++) {
      const waitMs = Math.min(MAX_REOPEN_WAIT_MS, deps.retryMs * 2 ** Math.min(attempt - 1, 10));
      await sleep(waitMs, undefined, { signal: stopped.signal }).catch(() => {});
      if (stopped.signal.aborted) return;
      try {
        await subscription.close();
        await subscription.getMetadata();
        subscription.open();
        problems.delete(source.subscription);
        logger.info({ subscription: source.subscription, attempt }, "pubsub subscription read again");
        return;
      } catch (error) {
        problems.set(source.subscription, error instanceof Error ? error.message : String(error));
        logger.warn(
          { err: error, subscription: source.subscription, attempt, retryInMs: waitMs * 2 },
          "pubsub subscription still cannot be read",
        );
      }
    }
  };

  try {
    for (const source of sources) {
      const subscription = client.subscription(source.subscription, {
        flowControl: {
          maxMessages: Math.max(1, Math.floor(deps.maxMessages / share)),
          maxBytes: Math.max(1, Math.floor(deps.maxBytes / share)),
          allowExcessMessages: false,
        },
      });
      const [metadata] = await subscription.getMetadata().catch((error: unknown) => {
        throw new Error(
          `pubsub subscription ${JSON.stringify(source.subscription)} (dataset ${JSON.stringify(source.dataset)}) cannot be read: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      });
      const topic = shortName(String(metadata.topic ?? source.subscription));
      subscription.on("message", (message: Message) => {
        const work = ingest(source, topic, message).finally(() => inFlight.delete(work));
        inFlight.add(work);
      });
      subscription.on("error", (error: Error) => {
        const first = !problems.has(source.subscription);
        problems.set(source.subscription, error.message);
        logger.error({ err: error, subscription: source.subscription }, "pubsub subscription failed");
        if (first) void reopen(source, subscription);
      });
      subscriptions.push(subscription);
      logger.info({ subscription: source.subscription, topic, dataset: source.dataset }, "pubsub subscribed");
    }
  } catch (error) {
    await Promise.all(subscriptions.map((s) => s.close().catch(() => {})));
    throw error;
  }

  return {
    problem() {
      if (problems.size === 0) return undefined;
      return [...problems].map(([name, message]) => `pubsub subscription ${name}: ${message}`).join("; ");
    },
    async stop() {
      // Messages still arriving are nacked at once; those being ingested are acked once stored,
      // then close() sends the acks and nacks before it resolves.
      stopped.abort();
      while (inFlight.size > 0) await Promise.all(inFlight);
      await Promise.all(subscriptions.map((s) => s.close()));
    },
  };
}

// Why an answer is not a success, for the log.
function reasonOf(answer: IngestAnswer): string | undefined {
  const { error } = answer.body;
  return typeof error === "string" ? error : error?.message;
}

// `projects/p/topics/t` → `t`.
function shortName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
