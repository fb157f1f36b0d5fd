import { commonEnv, durationMs, type Env, parseEnv, port, positiveInt, text } from "@inlet/config";
import { z } from "zod";

const DUCKDB_SIZE = /^\d+(?:\.\d+)?\s*(?:B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/** The query service's environment: {@link commonEnv} plus its own keys (documented in README.md). */
export const queryEnv = commonEnv.extend({
  INLET_QUERY_PORT: port(8082),
  INLET_QUERY_HOST: text("0.0.0.0"),
  INLET_QUERY_MAX_ROWS: positiveInt(100_000),
  INLET_QUERY_TIMEOUT_MS: durationMs(30_000),
  INLET_QUERY_MAX_CONCURRENT: positiveInt(4, 256),
  INLET_QUERY_MEMORY_LIMIT: z
    .string()
    .regex(DUCKDB_SIZE, { error: "expected a size such as 512MB or 2GB" })
    .optional(),
  INLET_QUERY_THREADS: positiveInt(undefined, 1024).optional(),
  INLET_QUERY_TEMP_DIR: z.string().optional(),
  INLET_QUERY_TOKENS_FILE: text().optional(),
});

/** The parsed {@link queryEnv}. */
export type QueryConfig = z.output<typeof queryEnv>;

/** Reads the query service's configuration from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: Env): QueryConfig {
  return parseEnv(queryEnv, env, "query");
}
