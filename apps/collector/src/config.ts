import {
  bool,
  commonEnv,
  durationMs,
  type Env,
  pairList,
  parseEnv,
  port,
  positiveInt,
  text,
} from "@inlet/config";
import { DATASET_NAME_PATTERN } from "@inlet/schema";
import type { z } from "zod";

const MIB = 1024 * 1024;

/** One Pub/Sub subscription the collector reads, and the dataset its messages belong to. */
export interface PubSubSource {
  /** A subscription name, or its full path `projects/<project>/subscriptions/<name>`. */
  subscription: string;
  dataset: string;
}

/** A Pub/Sub subscription by name, or by its full path `projects/<project>/subscriptions/<name>`. */
export const PUBSUB_SUBSCRIPTION = /^(projects\/[^/\s]+\/subscriptions\/)?[A-Za-z][\w.~+%-]{2,254}$/;

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
    INLET_COLLECTOR_TOKENS_FILE: text().optional(),
    INLET_PUBSUB_SUBSCRIPTIONS: pairList(
      "<subscription>=<dataset>",
      PUBSUB_SUBSCRIPTION,
      DATASET_NAME_PATTERN,
    ).transform((pairs): PubSubSource[] =>
      pairs.map(({ key, value }) => ({ subscription: key, dataset: value })),
    ),
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
