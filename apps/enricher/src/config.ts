import { bool, commonEnv, type Env, parseEnv, port, positiveInt } from "@inlet/config";
import type { z } from "zod";

/** The enricher's environment: {@link commonEnv} plus its own keys (documented in README.md). */
export const enricherEnv = commonEnv.extend({
  INLET_ENRICHER_PORT: port(8092),
  INLET_ENRICHER_CONCURRENCY: positiveInt(8, 256),
  INLET_ENRICHER_MAX_ACK_PENDING: positiveInt(64),
  INLET_ENRICHER_MAX_DELIVERIES: positiveInt(5, 100),
  INLET_ENRICHER_LOAD_REFERENCE: bool(true),
  INLET_ENRICHER_MAX_REFERENCE_ENTRIES: positiveInt(100_000),
});

/** The parsed {@link enricherEnv}. */
export type EnricherConfig = z.output<typeof enricherEnv>;

/** Reads the enricher's configuration from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: Env): EnricherConfig {
  return parseEnv(enricherEnv, env, "enricher");
}
