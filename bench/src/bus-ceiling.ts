import { Semaphore } from "@inlet/bus";
import { natsLaunchEnv } from "@inlet/dev";
import { startNatsServer } from "@inlet/testing";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { BENCH_DATASETS, generateLines } from "./events.js";
import { count, type Phase } from "./progress.js";

/** The bus ceiling: one JetStream message per event, one client. */
export interface BusCeiling {
  /** Messages published (and then consumed). */
  messages: number;
  /** Mean message size, bytes. */
  messageBytes: number;
  /** Publishes in flight at once. */
  inFlight: number;
  publishPerS: number;
  consumePerS: number;
}

const STREAM = "BENCH_BUS";
const IN_FLIGHT = 2_000;

/**
 * Starts its own nats-server, publishes `events` demo events as one JetStream message each (file
 * storage, as Inlet's streams) with many publishes in flight, then consumes them with a durable pull
 * consumer acking each message. The same client library as Inlet (`@nats-io/jetstream`).
 */
export async function measureBusCeiling(events: number, phase: Phase): Promise<BusCeiling> {
  phase.update("generating events");
  const perDataset = Math.ceil(events / BENCH_DATASETS.length);
  const payloads: { subject: string; data: Uint8Array }[] = [];
  const lines = BENCH_DATASETS.map((ds, d) => generateLines(ds, perDataset, 100 + d));
  for (let i = 0; i < perDataset && payloads.length < events; i++) {
    BENCH_DATASETS.forEach((ds, d) => {
      if (payloads.length < events)
        payloads.push({ subject: `bench.${ds}`, data: Buffer.from(lines[d]![i]!) });
    });
  }
  const messageBytes = payloads.reduce((n, p) => n + p.data.byteLength, 0) / payloads.length;

  // The same server settings as the stack the e2e figure runs.
  const server = await startNatsServer({ env: natsLaunchEnv() });
  const nc = await connect({ servers: server.url, name: "inlet-bench-bus" });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: STREAM,
      subjects: ["bench.>"],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    });
    await jsm.consumers.add(STREAM, {
      durable_name: "bench",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 10_000,
    });
    const js = jetstream(nc);

    const slots = new Semaphore(IN_FLIGHT);
    let acked = 0;
    let failure: unknown;
    const publishStarted = performance.now();
    const ticker = setInterval(() => phase.update(`publish ${count(acked)} / ${count(events)}`), 250);
    for (const p of payloads) {
      if (failure !== undefined) break;
      await slots.acquire();
      js.publish(p.subject, p.data).then(
        () => {
          acked++;
          slots.release();
        },
        (err: unknown) => {
          failure ??= err;
          slots.release();
        },
      );
    }
    await slots.idle();
    const publishS = (performance.now() - publishStarted) / 1000;
    clearInterval(ticker);
    if (failure !== undefined) throw failure;

    const consumer = await js.consumers.get(STREAM, "bench");
    let consumed = 0;
    const consumeStarted = performance.now();
    const ticker2 = setInterval(() => phase.update(`consume ${count(consumed)} / ${count(events)}`), 250);
    const messages = await consumer.consume({ max_messages: 1_000 });
    for await (const m of messages) {
      m.ack();
      if (++consumed >= events) break;
    }
    await nc.flush();
    const consumeS = (performance.now() - consumeStarted) / 1000;
    clearInterval(ticker2);
    return {
      messages: events,
      messageBytes: Math.round(messageBytes),
      inFlight: IN_FLIGHT,
      publishPerS: Math.round(events / publishS),
      consumePerS: Math.round(events / consumeS),
    };
  } finally {
    await nc.close();
    await server.stop();
  }
}
