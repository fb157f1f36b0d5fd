import { commonEnv, type Env, parseEnv, port, positiveInt } from "@inlet/config";
import type { z } from "zod";

/** The processor's environment: {@link commonEnv} plus its own keys (documented in README.md). */
export const processorEnv = commonEnv.extend({
  INLET_PROCESSOR_PORT: port(8091),
  INLET_PROCESSOR_CONCURRENCY: positiveInt(8, 256),
  INLET_PROCESSOR_MAX_ACK_PENDING: positiveInt(64),
  INLET_PROCESSOR_MAX_DELIVERIES: positiveInt(5, 100),
});

/** The parsed {@link processorEnv}. */
export type ProcessorConfig = z.output<typeof processorEnv>;

/** Reads the processor's configuration from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: Env): ProcessorConfig {
  return parseEnv(processorEnv, env, "processor");
}
