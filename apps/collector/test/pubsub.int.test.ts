import type { PubSub, Subscription } from "@google-cloud/pubsub";
import { decodeFrame, Header, StreamName } from "@inlet/bus";
import { parseTraceparent } from "@inlet/telemetry";
import { type PubSubEmulator, uniqueName, waitFor } from "@inlet/testing";
import { pubsubTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { click, READER, startTestCollector, storedMessages, type TestCollector } from "./helpers.js";

const PRODUCER_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// The collector's client reads the emulator's address from the environment, as a deployment would.
function useEmulator(emulator: PubSubEmulator): Promise<PubSub> {
  Object.assign(process.env, emulator.env);
  return emulator.client();
}

/** A topic and a subscription of its own, named for the test. */
async function topicAndSubscription(emulator: PubSubEmulator, name: string) {
  const pubsub = await useEmulator(emulator);
  const topicName = uniqueName(name);
  const [topic] = await pubsub.createTopic(topicName);
  const [subscription] = await topic.createSubscription(`${topicName}-in`, { ackDeadlineSeconds: 10 });
  return { pubsub, topic, topicName, subscriptionName: subscription.name.split("/").at(-1)! };
}

/** Messages the subscription still holds for a new reader within `ms` (an acked message is not). */
async function undelivered(subscription: Subscription, ms = 1_500): Promise<string[]> {
  const ids: string[] = [];
  subscription.on("message", (m) => {
    ids.push(m.id);
    m.nack();
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  await subscription.close();
  return ids;
}

async function metricsText(t: TestCollector): Promise<string> {
  return (await fetch(`${t.collector.url}/metrics`)).text();
}

/** Pub/Sub messages the collector has answered (any status), from its metrics. */
async function pubsubAnswers(t: TestCollector): Promise<number> {
  const lines = (await metricsText(t)).split("\n");
  return lines
    .filter((l) => l.startsWith("inlet_collector_requests_total{") && l.includes('transport="pubsub"'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

/** Clicks the collector has found already stored (a redelivery), from its metrics. */
async function clickDuplicates(t: TestCollector): Promise<number> {
  const match = /inlet_collector_events_duplicate_total\{dataset="clicks"\} (\d+)/.exec(await metricsText(t));
  return Number(match?.[1] ?? 0);
}

/** Event ids of every frame in INGEST, in order. */
async function ingestedIds(t: TestCollector): Promise<string[]> {
  const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
  return frames.flatMap((f) => decodeFrame(f.data).map((e) => e.id));
}

describe("collector reading Pub/Sub", () => {
  test("stores each message's events in INGEST with ids of the message, then acks it", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { pubsub, topic, topicName, subscriptionName } = await topicAndSubscription(emulator, "ok");
    await useEmulator(emulator);
    const t = await startTestCollector(nats.url, {
      env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=clicks` },
    });
    try {
      const one = await topic.publishMessage({
        json: click(),
        attributes: { traceparent: PRODUCER_TRACEPARENT },
      });
      const many = await topic.publishMessage({
        data: Buffer.from(JSON.stringify([click({ _event_id: "own-id" }), click({ page: "/" })])),
      });
      const lines = await topic.publishMessage({
        data: Buffer.from(`${JSON.stringify(click())}\n${JSON.stringify(click())}\n`),
        attributes: { "content-type": "application/x-ndjson" },
      });

      await waitFor(async () => (await ingestedIds(t)).length === 5, { timeoutMs: 15_000 });
      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      // One message, one request: its events are framed together and apart from other messages'.
      expect(frames).toHaveLength(3);
      const byFirstId = new Map(frames.map((f) => [decodeFrame(f.data)[0]!.id, f]));
      const single = byFirstId.get(`pubsub:${topicName}:${one}:0`);
      expect(single?.header.get(Header.Count)).toBe("1");
      expect(parseTraceparent(single?.header.get(Header.Traceparent))?.traceId).toBe(
        "4bf92f3577b34da6a3ce929d0e0e4736",
      );
      expect(decodeFrame(byFirstId.get("own-id")!.data).map((e) => e.id)).toEqual([
        "own-id",
        `pubsub:${topicName}:${many}:1`,
      ]);
      expect(decodeFrame(byFirstId.get(`pubsub:${topicName}:${lines}:0`)!.data)).toHaveLength(2);

      // Acked: stopped, the collector leaves nothing for the next reader.
      await t.close();
      expect(await undelivered(pubsub.subscription(subscriptionName))).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test("dead-letters bad events and bad bodies with their reasons, and acks them", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { pubsub, topic, subscriptionName } = await topicAndSubscription(emulator, "bad");
    const t = await startTestCollector(nats.url, {
      env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=clicks` },
    });
    try {
      await topic.publishMessage({ json: [click(), click({ duration_ms: "long" })] });
      await topic.publishMessage({ data: Buffer.from('{"page": /x}') });
      await topic.publishMessage({
        data: Buffer.from(""),
        attributes: { "content-type": "application/json" },
      });

      await waitFor(async () => (await storedMessages(t.bus, t.stream(StreamName.Dlq))).length === 3, {
        timeoutMs: 15_000,
      });
      const letters = await storedMessages(t.bus, t.stream(StreamName.Dlq));
      const codes = letters.map((l) => l.header.get(Header.ErrorCode)).sort();
      expect(codes).toEqual(["EMPTY_BODY", "MALFORMED_BODY", "SCHEMA_MISMATCH"]);
      const mismatch = letters.find((l) => l.header.get(Header.ErrorCode) === "SCHEMA_MISMATCH");
      expect(mismatch?.header.get(Header.Error)).toBe(
        'dataset "clicks": field "duration_ms" expected int, got "long"',
      );
      const malformed = letters.find((l) => l.header.get(Header.ErrorCode) === "MALFORMED_BODY");
      expect(malformed?.json()).toMatchObject({ dataset: "clicks", event: '{"page": /x}' });
      expect(await ingestedIds(t)).toHaveLength(1);

      await t.close();
      expect(await undelivered(pubsub.subscription(subscriptionName))).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test("holds messages while INGEST cannot take them, and stores them once it can", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { topic, subscriptionName } = await topicAndSubscription(emulator, "held");
    // No consumer reads INGEST yet: the collector answers 503 and must keep the messages.
    const t = await startTestCollector(nats.url, {
      ingestConsumer: false,
      env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=clicks`, INLET_COLLECTOR_RETRY_AFTER: "1s" },
    });
    try {
      const ids = await Promise.all(
        Array.from({ length: 20 }, (_, i) => topic.publishMessage({ json: click({ _event_id: `h-${i}` }) })),
      );
      expect(ids).toHaveLength(20);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect((await t.bus.jsm.streams.info(t.stream(StreamName.Ingest))).state.messages).toBe(0);

      await t.bus.jsm.consumers.add(t.stream(StreamName.Ingest), {
        durable_name: READER,
        ack_policy: "explicit",
      });
      await waitFor(async () => (await ingestedIds(t)).length === 20, { timeoutMs: 20_000 });
      expect((await ingestedIds(t)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `h-${i}`).sort());
    } finally {
      await t.close();
    }
  });

  test("loses nothing and stores nothing twice when nats-server is killed mid-stream", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { topic, subscriptionName } = await topicAndSubscription(emulator, "kill");
    const t = await startTestCollector(nats.url, {
      env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=clicks`, INLET_COLLECTOR_RETRY_AFTER: "1s" },
    });
    try {
      const total = 300;
      const published: Promise<string>[] = [];
      for (let i = 0; i < total; i++) {
        published.push(topic.publishMessage({ json: click({ page: `/p/${i}` }) }));
        if (i === 100) {
          await waitFor(async () => (await ingestedIds(t)).length > 0, { timeoutMs: 15_000 });
          await nats.kill();
        }
      }
      await Promise.all(published);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await nats.restart();
      await waitFor(async () => (await ingestedIds(t).catch(() => [])).length >= total, {
        timeoutMs: 30_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const ids = await ingestedIds(t);
      expect(ids).toHaveLength(total);
      expect(new Set(ids).size).toBe(total);
    } finally {
      await t.close();
    }
  });

  test("a message delivered again makes the same frame, which JetStream keeps once", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { topic, subscriptionName } = await topicAndSubscription(emulator, "again");
    // A second subscription of the same topic delivers every message a second time.
    const [second] = await topic.createSubscription(`${subscriptionName}-2`);
    const secondName = second.name.split("/").at(-1)!;
    const t = await startTestCollector(nats.url, {
      env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=clicks,${secondName}=clicks` },
    });
    try {
      const before = await pubsubAnswers(t);
      // Counters live as long as the test file: an earlier test may have counted duplicates too.
      const duplicatesBefore = await clickDuplicates(t);
      await topic.publishMessage({ json: [click(), click()] });
      await topic.publishMessage({ json: click() });
      // Two messages, each delivered by both subscriptions and answered.
      await waitFor(async () => (await pubsubAnswers(t)) === before + 4, { timeoutMs: 15_000 });
      const ids = await ingestedIds(t);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(3);
      expect((await clickDuplicates(t)) - duplicatesBefore).toBe(3);
    } finally {
      await t.close();
    }
  });

  test("is not ready while a subscription it reads is gone, says which, and reads it again once it is back", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { pubsub, topic, subscriptionName } = await topicAndSubscription(emulator, "gone");
    const t = await startTestCollector(nats.url, {
      env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=clicks`, INLET_COLLECTOR_RETRY_AFTER: "500ms" },
    });
    try {
      expect((await fetch(`${t.collector.url}/readyz`)).status).toBe(200);
      await pubsub.subscription(subscriptionName).delete();
      await waitFor(async () => (await fetch(`${t.collector.url}/readyz`)).status === 503, {
        timeoutMs: 20_000,
      });
      const body = await (await fetch(`${t.collector.url}/readyz`)).text();
      expect(body).toContain(`pubsub subscription ${subscriptionName}`);

      // Made again (by whoever owns it): read again without a restart.
      await topic.createSubscription(subscriptionName, { ackDeadlineSeconds: 10 });
      await waitFor(async () => (await fetch(`${t.collector.url}/readyz`)).status === 200, {
        timeoutMs: 30_000,
        message: "the collector ready again",
      });
      const before = await pubsubAnswers(t);
      await topic.publishMessage({ json: click() });
      await waitFor(async () => (await pubsubAnswers(t)) > before, {
        timeoutMs: 20_000,
        message: "a message of the subscription made again",
      });
    } finally {
      await t.close();
    }
  });

  test("refuses to start on a subscription that does not exist, naming it", async ({
    nats,
    pubsub: emulator,
  }) => {
    await useEmulator(emulator);
    await expect(
      startTestCollector(nats.url, { env: { INLET_PUBSUB_SUBSCRIPTIONS: "nowhere-in=clicks" } }),
    ).rejects.toThrow(/pubsub subscription "nowhere-in" \(dataset "clicks"\) cannot be read/);
  });

  test("refuses to start on a subscription into a dataset with no schema, naming both", async ({
    nats,
    pubsub: emulator,
  }) => {
    const { subscriptionName } = await topicAndSubscription(emulator, "nods");
    await expect(
      startTestCollector(nats.url, { env: { INLET_PUBSUB_SUBSCRIPTIONS: `${subscriptionName}=orders` } }),
    ).rejects.toThrow(
      `INLET_PUBSUB_SUBSCRIPTIONS: dataset "orders" of subscription "${subscriptionName}" has no registered schema (known: clicks, sensor_readings, transactions)`,
    );
  });
});
