import type { PubSub, Subscription } from "@google-cloud/pubsub";
import {
  type Bus,
  connectBus,
  createSubjects,
  ensureStreams,
  Header,
  StreamName,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import { createLogger } from "@inlet/telemetry";
import { uniqueName, waitFor } from "@inlet/testing";
import { pubsubTest as test } from "@inlet/testing/vitest";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { metrics } from "@opentelemetry/api";
import { describe, expect } from "vitest";
import { ALERT_FORWARDER_DURABLE, type AlertRoute, startAlertForwarder } from "../src/alert-forwarder.js";
import { alertMsgId, encodeAlert } from "../src/alert-message.js";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const logger = createLogger({ service: "processor-test", level: "silent" });

/** ALERTS of its own (a unique prefix), and a way to raise alerts on it as the processor does. */
async function alertsStream(natsUrl: string) {
  const bus: Bus = await connectBus({ servers: natsUrl, name: "alerts-test" });
  const prefix = uniqueName("a");
  const subjects = createSubjects(prefix);
  await ensureStreams(bus.jsm, streamSpecs({ prefix }));
  const stream = streamName(StreamName.Alerts, prefix);
  return {
    bus,
    subjects,
    stream,
    async raise(rule: string, eventId: string, amount: number) {
      const h = natsHeaders();
      h.set(Header.MsgId, alertMsgId(rule, eventId));
      h.set(Header.Traceparent, TRACEPARENT);
      const body = encodeAlert({
        rule,
        dataset: "transactions",
        eventId,
        ingestedAt: 1_767_225_600_000,
        traceId: "0af7651916cd43dd8448eb211c80319c",
        event: { amount },
      });
      await bus.js.publish(subjects.alert(rule), body, { headers: h });
    },
    async unacked(): Promise<number> {
      const info = await bus.jsm.consumers.info(stream, ALERT_FORWARDER_DURABLE);
      return info.num_pending + info.num_ack_pending;
    },
  };
}

type Alerts = Awaited<ReturnType<typeof alertsStream>>;

/** A forwarder reading `alerts`' stream. */
function startForwarder(alerts: Alerts, client: PubSub, routes: AlertRoute[], maxPending = 16) {
  return startAlertForwarder({
    js: alerts.bus.js,
    jsm: alerts.bus.jsm,
    stream: alerts.stream,
    subjects: alerts.subjects,
    routes,
    client,
    maxPending,
    logger,
    meter: metrics.getMeter("alerts-test"),
  });
}

/** Collects what a subscription receives, acking it. */
function receive(subscription: Subscription) {
  const got: Array<{ data: Record<string, unknown>; attributes: Record<string, string> }> = [];
  subscription.on("message", (m) => {
    got.push({ data: JSON.parse(m.data.toString("utf8")), attributes: m.attributes });
    m.ack();
  });
  return got;
}

async function topicWithSubscription(pubsub: PubSub, name: string) {
  const [topic] = await pubsub.createTopic(name);
  const [subscription] = await topic.createSubscription(`${name}-sub`);
  return subscription;
}

describe("alerts to Pub/Sub", () => {
  test("publishes each alert to its rule's topic with its attributes, then acks it", async ({
    nats,
    pubsub: emulator,
  }) => {
    const pubsub = await emulator.client();
    const alerts = await alertsStream(nats.url);
    const big = uniqueName("big-tx");
    const other = uniqueName("other");
    const bigGot = receive(await topicWithSubscription(pubsub, big));
    const otherGot = receive(await topicWithSubscription(pubsub, other));
    const routes: AlertRoute[] = [
      { rule: "large_transaction", topic: big },
      { rule: "*", topic: other },
    ];
    const forwarder = await startForwarder(alerts, pubsub, routes);
    try {
      for (let i = 0; i < 30; i++) await alerts.raise("large_transaction", `tx-${i}`, 10_000 + i);
      await alerts.raise("new_country", "tx-x", 5);

      await waitFor(() => bigGot.length === 30 && otherGot.length === 1, { timeoutMs: 15_000 });
      expect(bigGot.map((g) => g.data.eventId).sort()).toEqual(
        Array.from({ length: 30 }, (_, i) => `tx-${i}`).sort(),
      );
      expect(bigGot.find((g) => g.data.eventId === "tx-3")).toEqual({
        data: expect.objectContaining({ rule: "large_transaction", event: { amount: 10_003 } }),
        attributes: {
          rule: "large_transaction",
          dataset: "transactions",
          traceparent: TRACEPARENT,
          "inlet-alert-id": "large_transaction:tx-3",
        },
      });
      expect(otherGot[0]?.attributes.rule).toBe("new_country");
      await waitFor(async () => (await alerts.unacked()) === 0, { timeoutMs: 5_000 });
    } finally {
      await forwarder.stop();
      await alerts.bus.close();
    }
  });

  test("keeps an alert Pub/Sub refuses, and delivers it once the topic exists", async ({
    nats,
    pubsub: emulator,
  }) => {
    const pubsub = await emulator.client();
    const alerts = await alertsStream(nats.url);
    const later = uniqueName("later");
    const forwarder = await startForwarder(alerts, pubsub, [{ rule: "large_transaction", topic: later }]);
    try {
      await alerts.raise("large_transaction", "kept-1", 20_000);
      await alerts.raise("large_transaction", "kept-2", 30_000);
      // The topic does not exist: Pub/Sub answers NOT_FOUND, the alerts wait in ALERTS.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await alerts.unacked()).toBe(2);

      const got = receive(await topicWithSubscription(pubsub, later));
      await waitFor(() => got.length >= 2, { timeoutMs: 20_000 });
      expect(new Set(got.map((g) => g.data.eventId))).toEqual(new Set(["kept-1", "kept-2"]));
      await waitFor(async () => (await alerts.unacked()) === 0, { timeoutMs: 5_000 });
    } finally {
      await forwarder.stop();
      await alerts.bus.close();
    }
  });

  test("a forwarder stopped and started again forwards what was raised meanwhile", async ({
    nats,
    pubsub: emulator,
  }) => {
    const pubsub = await emulator.client();
    const alerts = await alertsStream(nats.url);
    const topic = uniqueName("again");
    const got = receive(await topicWithSubscription(pubsub, topic));
    const start = () => startForwarder(alerts, pubsub, [{ rule: "*", topic }], 4);
    let forwarder = await start();
    try {
      for (let i = 0; i < 10; i++) await alerts.raise("large_transaction", `a-${i}`, i);
      await waitFor(() => got.length >= 10, { timeoutMs: 15_000 });
      await forwarder.stop();
      for (let i = 10; i < 20; i++) await alerts.raise("large_transaction", `a-${i}`, i);
      forwarder = await start();
      await waitFor(() => new Set(got.map((g) => g.data.eventId)).size === 20, { timeoutMs: 15_000 });
      await waitFor(async () => (await alerts.unacked()) === 0, { timeoutMs: 5_000 });
    } finally {
      await forwarder.stop();
      await alerts.bus.close();
    }
  });
});
