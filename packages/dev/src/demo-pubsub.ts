import type { Topic } from "@google-cloud/pubsub";
import { type PubSubEmulator, resolveGcloudBinary, startPubSubEmulator } from "@inlet/testing";

/** The Pub/Sub emulator of `./inlet up`, a topic per demo dataset and the collector's subscriptions. */
export interface DemoPubSub {
  readonly emulator: PubSubEmulator;
  /** The topic of each dataset (`inlet-<dataset>`), for the demo producer. */
  readonly topics: ReadonlyMap<string, Topic>;
  /** The collector's environment: the emulator, and `INLET_PUBSUB_SUBSCRIPTIONS`. */
  readonly collectorEnv: Record<string, string>;
  /** The processor's environment: the emulator, and every alert to topic {@link DEMO_ALERTS_TOPIC}. */
  readonly processorEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** The topic the demo's processor forwards its alerts to (no subscription: create one to watch). */
export const DEMO_ALERTS_TOPIC = "inlet-alerts";

/** The project the demo's emulator answers for. */
export const DEMO_PUBSUB_PROJECT = "inlet-local";

/** True when the machine has gcloud (the emulator comes with it). */
export function hasGcloud(): boolean {
  try {
    resolveGcloudBinary();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the Pub/Sub emulator on `port`, then makes topic `inlet-<ds>` and its subscription
 * `inlet-<ds>-collector` for each dataset, and the alerts' topic.
 */
export async function startDemoPubSub(options: {
  port: number;
  datasets: readonly string[];
  logFile?: string;
}): Promise<DemoPubSub> {
  const emulator = await startPubSubEmulator({
    projectId: DEMO_PUBSUB_PROJECT,
    port: options.port,
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  });
  // No Google metadata server here: do not let the client's auth library look for one.
  process.env.METADATA_SERVER_DETECTION ??= "none";
  try {
    const client = await emulator.client();
    const topics = new Map<string, Topic>();
    const pairs: string[] = [];
    for (const dataset of options.datasets) {
      const [topic] = await client.createTopic(`inlet-${dataset}`);
      await topic.createSubscription(`inlet-${dataset}-collector`);
      topics.set(dataset, topic);
      pairs.push(`inlet-${dataset}-collector=${dataset}`);
    }
    await client.createTopic(DEMO_ALERTS_TOPIC);
    return {
      emulator,
      topics,
      collectorEnv: {
        ...emulator.env,
        INLET_PUBSUB_PROJECT: DEMO_PUBSUB_PROJECT,
        INLET_PUBSUB_SUBSCRIPTIONS: pairs.join(","),
      },
      processorEnv: {
        ...emulator.env,
        INLET_PUBSUB_PROJECT: DEMO_PUBSUB_PROJECT,
        INLET_ALERTS_PUBSUB_TOPICS: `*=${DEMO_ALERTS_TOPIC}`,
      },
      stop: () => emulator.stop(),
    };
  } catch (error) {
    await emulator.stop();
    throw error;
  }
}

/**
 * Pub/Sub messages the collector at `collectorUrl` has finished with (answered with anything but
 * 503, after which it acks them), from its `/metrics`.
 */
export async function pubsubMessagesDone(collectorUrl: string): Promise<number> {
  const text = await (await fetch(`${collectorUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  let done = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("inlet_collector_requests_total{") || !line.includes('transport="pubsub"')) continue;
    if (line.includes('status="503"')) continue;
    done += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
  }
  return done;
}
