import { setTimeout as sleep } from "node:timers/promises";
import type { PubSub, Topic } from "@google-cloud/pubsub";
import { ensureConsumer, Header, type Subjects } from "@inlet/bus";
import type { Logger, Meter } from "@inlet/telemetry";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";

/** Alerts of one rule (or of every rule, `*`) and the Pub/Sub topic they go to. */
export interface AlertRoute {
  /** A rule of `pipeline.json`, or `*` for every rule no other route names. */
  rule: string;
  /** A topic name, or its full path `projects/<project>/topics/<name>`. */
  topic: string;
}

/** The durable consumer on ALERTS that forwards alerts to Pub/Sub. */
export const ALERT_FORWARDER_DURABLE = "alerts-pubsub";

/** Message attribute holding the alert's id (`<rule>:<event id>`): Pub/Sub may deliver twice. */
export const ALERT_ID_ATTRIBUTE = "inlet-alert-id";

/** What {@link startAlertForwarder} needs. */
export interface AlertForwarderDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The ALERTS stream's name. */
  stream: string;
  subjects: Subjects;
  routes: readonly AlertRoute[];
  client: PubSub;
  /** Alerts read but not yet published and acked, at most (the consumer's `max_ack_pending`). */
  maxPending: number;
  logger: Logger;
  meter: Meter;
}

/** A running forwarder. */
export interface AlertForwarder {
  /** Stops reading; alerts being published finish (and are acked) first. */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 60_000;
const RESTART_DELAY_MS = 1_000;

/**
 * Forwards the processor's alerts from ALERTS to Pub/Sub topics, from a durable consumer of its own
 * (`alerts-pubsub`): each alert's JSON as the message, with attributes `rule`, `dataset`,
 * `traceparent` and `inlet-alert-id`. An alert is acked only once Pub/Sub accepted it, and nak'ed
 * with a growing delay while Pub/Sub refuses it (a missing topic, no credentials, an outage), so
 * none is lost; one may reach a topic twice (the forwarder stopped between the publish and the
 * ack), which `inlet-alert-id` lets a subscriber drop. Started first, the consumer delivers the
 * alerts ALERTS still holds (7 days of them).
 */
export async function startAlertForwarder(deps: AlertForwarderDeps): Promise<AlertForwarder> {
  const { js, jsm, stream, subjects, routes, client, logger } = deps;
  const catchAll = routes.find((r) => r.rule === "*");
  const named = new Map(routes.filter((r) => r.rule !== "*").map((r) => [r.rule, r.topic]));
  const topics = new Map<string, Topic>();
  const topicOf = (rule: string): Topic | undefined => {
    const name = named.get(rule) ?? catchAll?.topic;
    if (name === undefined) return undefined;
    let topic = topics.get(name);
    if (topic === undefined) {
      topic = client.topic(name, { batching: { maxMessages: 100, maxMilliseconds: 10 } });
      topics.set(name, topic);
    }
    return topic;
  };
  const forwarded = deps.meter.createCounter("inlet.processor.alerts.forwarded", {
    description: "Alerts published to Pub/Sub, by rule",
  });
  const refused = deps.meter.createCounter("inlet.processor.alerts.forward_failures", {
    description: "Alert publishes Pub/Sub refused (each is tried again), by rule",
  });

  await ensureConsumer(jsm, stream, {
    durable: ALERT_FORWARDER_DURABLE,
    filterSubjects: catchAll !== undefined ? [subjects.all.alerts] : [...named.keys()].map(subjects.alert),
    maxAckPending: deps.maxPending,
    description: "processor: alerts to Pub/Sub",
  });

  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let messages: ConsumerMessages | undefined;

  const forward = async (msg: JsMsg): Promise<void> => {
    const rule = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    const topic = topicOf(rule);
    if (topic === undefined) {
      // A rule no route names (the routes changed while it waited): nothing to send it to.
      msg.term("no Pub/Sub route for this rule");
      return;
    }
    const attributes: Record<string, string> = {
      rule,
      [ALERT_ID_ATTRIBUTE]: msg.headers?.get(Header.MsgId) ?? "",
    };
    const traceparent = msg.headers?.get(Header.Traceparent);
    if (traceparent) attributes.traceparent = traceparent;
    const dataset = datasetOf(msg.data);
    if (dataset !== undefined) attributes.dataset = dataset;
    try {
      await topic.publishMessage({ data: Buffer.from(msg.data), attributes });
      msg.ack();
      forwarded.add(1, { rule });
    } catch (error) {
      const delayMs = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(16, msg.info.deliveryCount - 1));
      msg.nak(delayMs);
      refused.add(1, { rule });
      logger.warn(
        { err: error, rule, topic: topic.name, attempt: msg.info.deliveryCount, retryInMs: delayMs },
        "alert not accepted by Pub/Sub: tried again later",
      );
    }
  };

  const loop = (async () => {
    const consumer = await js.consumers.get(stream, ALERT_FORWARDER_DURABLE);
    while (!stopping) {
      try {
        messages = await consumer.consume({ max_messages: deps.maxPending });
        for await (const msg of messages) {
          const work = forward(msg).finally(() => inFlight.delete(work));
          inFlight.add(work);
        }
      } catch (error) {
        if (!stopping) logger.warn({ err: error }, "alert forwarding interrupted: starting again");
      }
      if (!stopping) await sleep(RESTART_DELAY_MS);
    }
  })();
  logger.info({ routes }, "forwarding alerts to Pub/Sub");

  return {
    async stop() {
      stopping = true;
      await messages?.close();
      await loop.catch(() => {});
      while (inFlight.size > 0) await Promise.all(inFlight);
      await Promise.all([...topics.values()].map((t) => t.flush()));
    },
  };
}

// The `dataset` of an alert's JSON, for the message's attributes.
function datasetOf(data: Uint8Array): string | undefined {
  try {
    const { dataset } = JSON.parse(Buffer.from(data).toString("utf8")) as { dataset?: unknown };
    return typeof dataset === "string" ? dataset : undefined;
  } catch {
    return undefined;
  }
}
