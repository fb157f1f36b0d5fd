import { commonEnv, type Env, pairList, parseEnv, port, positiveInt, text } from "@inlet/config";
import type { z } from "zod";
import type { AlertRoute } from "./alert-forwarder.js";

/** A Pub/Sub topic by name, or by its full path `projects/<project>/topics/<name>`. */
const PUBSUB_TOPIC = /^(projects\/[^/\s]+\/topics\/)?[A-Za-z][\w.~+%-]{2,254}$/;
/** An alert rule's name (as pipeline.json has them), or `*` for every rule. */
const ALERT_RULE = /^(\*|[a-z][a-z0-9_-]*)$/;

/** The processor's environment: {@link commonEnv} plus its own keys (documented in README.md). */
export const processorEnv = commonEnv.extend({
  INLET_PROCESSOR_PORT: port(8091),
  INLET_PROCESSOR_CONCURRENCY: positiveInt(8, 256),
  INLET_PROCESSOR_MAX_ACK_PENDING: positiveInt(64),
  INLET_PROCESSOR_MAX_DELIVERIES: positiveInt(5, 100),
  INLET_ALERTS_PUBSUB_TOPICS: pairList("<rule>=<topic>", ALERT_RULE, PUBSUB_TOPIC).transform(
    (pairs): AlertRoute[] => pairs.map(({ key, value }) => ({ rule: key, topic: value })),
  ),
  INLET_ALERTS_PUBSUB_MAX_PENDING: positiveInt(256, 10_000),
  INLET_PUBSUB_PROJECT: text().optional(),
});

/** The parsed {@link processorEnv}. */
export type ProcessorConfig = z.output<typeof processorEnv>;

/** Reads the processor's configuration from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: Env): ProcessorConfig {
  return parseEnv(processorEnv, env, "processor");
}
