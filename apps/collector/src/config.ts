import { bool, commonEnv, durationMs, type Env, parseEnv, port, positiveInt, text } from "@inlet/config";
import { DATASET_NAME_PATTERN } from "@inlet/schema";
import { z } from "zod";

const MIB = 1024 * 1024;

/** One Pub/Sub subscription the collector reads, and the dataset its messages belong to. */
export interface PubSubSource {
  /** A subscription name, or its full path `projects/<project>/subscriptions/<name>`. */
  subscription: string;
  dataset: string;
}

const SUBSCRIPTION = /^(projects\/[^/\s]+\/subscriptions\/)?[A-Za-z][\w.~+%-]{2,254}$/;

// `INLET_PUBSUB_SUBSCRIPTIONS`: `<subscription>=<dataset>` pairs, comma-separated; none when unset.
function pubsubSources() {
  return z
    .string()
    .optional()
    .transform((raw, ctx): PubSubSource[] => {
      const pairs = (raw ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      const sources: PubSubSource[] = [];
      for (const pair of pairs) {
        const [subscription = "", dataset = "", ...rest] = pair.split("=").map((s) => s.trim());
        if (rest.length > 0 || !SUBSCRIPTION.test(subscription) || !DATASET_NAME_PATTERN.test(dataset)) {
          ctx.addIssue({
            code: "custom",
            message: `expected <subscription>=<dataset> pairs separated by commas, got ${JSON.stringify(pair)}`,
          });
          return z.NEVER;
        }
        if (sources.some((s) => s.subscription === subscription)) {
          ctx.addIssue({
            code: "custom",
            message: `subscription ${JSON.stringify(subscription)} appears twice`,
          });
          return z.NEVER;
        }
        sources.push({ subscription, dataset });
      }
      return sources;
    });
}

/** The collector's environment: {@link commonEnv} plus its own keys (documented in README.md). */
export const collectorEnv = commonEnv
  .extend({
    INLET_COLLECTOR_PORT: port(8080),
    INLET_COLLECTOR_MAX_BODY_BYTES: positiveInt(8 * MIB),
    INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST: positiveInt(10_000),
    INLET_COLLECTOR_MAX_INFLIGHT_EVENTS: positiveInt(50_000),
    INLET_COLLECTOR_MAX_INFLIGHT_BYTES: positiveInt(16 * MIB),
    INLET_COLLECTOR_FRAME_MAX_EVENTS: positiveInt(1_000),
    INLET_COLLECTOR_PUBLISH_TIMEOUT: durationMs(5_000),
    INLET_COLLECTOR_RETRY_AFTER: durationMs(2_000),
    INLET_COLLECTOR_SCHEMA_REFRESH: durationMs(30_000),
    INLET_REGISTER_SCHEMAS: bool(true),
    INLET_RAW_ENABLED: bool(true),
    INLET_PUBSUB_SUBSCRIPTIONS: pubsubSources(),
    INLET_PUBSUB_PROJECT: text().optional(),
    INLET_PUBSUB_MAX_MESSAGES: positiveInt(1_000),
    INLET_PUBSUB_MAX_BYTES: positiveInt(8 * MIB),
  })
  .refine((env) => env.INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST <= env.INLET_COLLECTOR_MAX_INFLIGHT_EVENTS, {
    path: ["INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST"],
    message: "expected at most INLET_COLLECTOR_MAX_INFLIGHT_EVENTS (a request must fit in flight)",
  })
  .refine((env) => env.INLET_COLLECTOR_MAX_BODY_BYTES <= env.INLET_COLLECTOR_MAX_INFLIGHT_BYTES, {
    path: ["INLET_COLLECTOR_MAX_BODY_BYTES"],
    message: "expected at most INLET_COLLECTOR_MAX_INFLIGHT_BYTES (a request must fit in flight)",
  });

/** The parsed {@link collectorEnv}. */
export type CollectorConfig = z.output<typeof collectorEnv>;

/** Reads the collector's configuration from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: Env): CollectorConfig {
  return parseEnv(collectorEnv, env, "collector");
}
