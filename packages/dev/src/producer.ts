import { setTimeout as sleep } from "node:timers/promises";
import type { Topic } from "@google-cloud/pubsub";
import { createGenerator, createRng, DEMO_DATASETS, invalidEvent } from "@inlet/demo";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** How the demo producer sends. */
export interface DemoProducerOptions {
  collectorUrl: string;
  /** When set, one request in `natsEvery` goes over NATS request/reply instead of HTTP. */
  natsUrl?: string;
  /** Events per second across all datasets (default 1,000). */
  ratePerSecond?: number;
  /** Events per request (default 250). */
  batchSize?: number;
  /** Share of deliberately invalid events (default 0.005). */
  invalidRatio?: number;
  /** Every n-th request goes over NATS (default 10). */
  natsEvery?: number;
  /** When set, one request in `pubsubEvery` is published as one message to its dataset's topic instead. */
  pubsubTopics?: ReadonlyMap<string, Topic>;
  /** Every n-th request goes over Pub/Sub (default 10; not the same requests as NATS's). */
  pubsubEvery?: number;
  seed?: number;
  signal: AbortSignal;
}

/** What the producer did. */
export interface DemoProducerStats {
  requests: number;
  accepted: number;
  rejected: number;
  retries: number;
  /** Messages published to Pub/Sub (each a batch of events the collector reads from its subscription). */
  pubsubMessages: number;
}

interface CollectorAnswer {
  accepted: number;
  rejected: number;
}

/**
 * Sends demo events for clicks, transactions and sensor_readings at a steady rate until the signal
 * aborts. Every event carries its own `_event_id`, so a retry after a 503 is deduplicated.
 */
export async function runDemoProducer(options: DemoProducerOptions): Promise<DemoProducerStats> {
  const rate = options.ratePerSecond ?? 1_000;
  const batchSize = options.batchSize ?? 250;
  const invalidRatio = options.invalidRatio ?? 0.005;
  const natsEvery = options.natsEvery ?? 10;
  const seed = options.seed ?? Date.now() % 1_000_000;
  const generators = DEMO_DATASETS.map((dataset, i) => ({
    dataset,
    generator: createGenerator(dataset, { seed: seed + i }),
    sent: 0,
  }));
  const rng = createRng(seed);
  const pubsubEvery = options.pubsubEvery ?? 10;
  const stats: DemoProducerStats = { requests: 0, accepted: 0, rejected: 0, retries: 0, pubsubMessages: 0 };
  const nc: NatsConnection | undefined = options.natsUrl
    ? await connect({ servers: options.natsUrl, name: "inlet-demo-producer", maxReconnectAttempts: -1 })
    : undefined;

  const tickMs = 200;
  let debt = 0;
  let turn = 0;
  try {
    while (!options.signal.aborted) {
      const started = Date.now();
      debt += (rate * tickMs) / 1000;
      const sends: Promise<void>[] = [];
      while (debt >= 1) {
        const n = Math.min(batchSize, Math.floor(debt));
        debt -= n;
        const slot = generators[turn % generators.length]!;
        turn++;
        const events: Record<string, unknown>[] = [];
        for (let i = 0; i < n; i++) {
          const event = rng.chance(invalidRatio)
            ? (invalidEvent(slot.dataset, rng).event as Record<string, unknown>)
            : (slot.generator.next() as Record<string, unknown>);
          events.push({ ...event, _event_id: `demo-${seed}-${slot.dataset}-${slot.sent++}` });
        }
        const viaNats = nc !== undefined && stats.requests % natsEvery === natsEvery - 1;
        const topic = options.pubsubTopics?.get(slot.dataset);
        const viaPubSub = topic !== undefined && stats.requests % pubsubEvery === Math.floor(pubsubEvery / 2);
        stats.requests++;
        sends.push(viaPubSub ? publish(topic, events) : send(slot.dataset, events, viaNats ? nc : undefined));
      }
      await Promise.all(sends);
      const wait = tickMs - (Date.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal: options.signal }).catch(() => {});
    }
  } finally {
    await nc?.close();
  }
  return stats;

  // One message of NDJSON; the collector answers nobody, so only the topic's acceptance is awaited.
  function publish(topic: Topic, events: Record<string, unknown>[]) {
    const data = Buffer.from(ndjson(events));
    return untilDone(async () => {
      await topic.publishMessage({ data, attributes: { "content-type": "application/x-ndjson" } });
      stats.pubsubMessages++;
    });
  }

  function send(dataset: string, events: Record<string, unknown>[], via?: NatsConnection) {
    const body = ndjson(events);
    return untilDone(async () => {
      const answer = via
        ? ((
            await via.request(`inlet.collect.${dataset}`, body, { timeout: 10_000 })
          ).json() as CollectorAnswer)
        : await postEvents(`${options.collectorUrl}/v1/events/${dataset}?results=errors`, body);
      stats.accepted += answer.accepted;
      stats.rejected += answer.rejected;
    });
  }

  // Runs `work` until it succeeds, backing off; after the signal aborts, tries once more at most.
  // A 503 (backpressure) or a collector restarting only delays a batch: the same ids make the same frames.
  async function untilDone(work: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await work();
        return;
      } catch {
        if (options.signal.aborted && attempt > 0) return;
        stats.retries++;
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
      }
    }
  }
}

function ndjson(events: readonly Record<string, unknown>[]): string {
  return events.map((e) => JSON.stringify(e)).join("\n");
}

async function postEvents(url: string, body: string): Promise<CollectorAnswer> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status >= 500) throw new Error(`collector answered ${res.status}`);
  return (await res.json()) as CollectorAnswer;
}
