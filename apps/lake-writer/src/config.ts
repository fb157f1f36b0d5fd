import { bool, commonEnv, durationMs, type Env, parseEnv, port, positiveInt } from "@inlet/config";
import { z } from "zod";

const DATASET_NAME = /^[a-z][a-z0-9_]*$/;

/** A comma-separated list of dataset names (`clicks,transactions`); unset means every dataset. */
function datasetList() {
  return z
    .string()
    .optional()
    .transform((raw, ctx): string[] | undefined => {
      if (raw === undefined) return undefined;
      const names = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      if (names.length === 0 || !names.every((n) => DATASET_NAME.test(n))) {
        ctx.addIssue({ code: "custom", message: "expected a comma-separated list of dataset names" });
        return z.NEVER;
      }
      return names;
    });
}

const lakeWriterEnv = commonEnv
  .extend({
    INLET_LAKE_WRITER_PORT: port(8093),
    INLET_WRITER_DATASETS: datasetList(),
    INLET_WRITER_MAX_ROWS: positiveInt(100_000),
    INLET_WRITER_MAX_BYTES: positiveInt(64 * 1024 * 1024),
    INLET_WRITER_FLUSH_MS: durationMs(5_000),
    INLET_WRITER_ACK_WAIT_MS: durationMs().optional(),
    INLET_WRITER_MAX_ACK_PENDING: positiveInt(2_000),
    INLET_RAW_ENABLED: bool(true),
  })
  .superRefine((env, ctx) => {
    if (env.INLET_WRITER_FLUSH_MS < 10) {
      ctx.addIssue({
        code: "custom",
        path: ["INLET_WRITER_FLUSH_MS"],
        message: "expected a flush interval of at least 10ms",
      });
    }
    if (
      env.INLET_WRITER_ACK_WAIT_MS !== undefined &&
      env.INLET_WRITER_ACK_WAIT_MS < 2 * env.INLET_WRITER_FLUSH_MS
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["INLET_WRITER_ACK_WAIT_MS"],
        message: "expected an ack wait of at least twice INLET_WRITER_FLUSH_MS",
      });
    }
  });

/** The lake-writer's configuration, parsed from the environment. */
export type LakeWriterConfig = ReturnType<typeof loadConfig>;

/**
 * Reads the lake-writer's environment (every key is documented in the README). The ack wait
 * defaults to max(30 s, 4 × flush interval) so a buffered frame is never redelivered while it waits
 * for its flush (see README, "Exactly once").
 */
export function loadConfig(env: Env) {
  const parsed = parseEnv(lakeWriterEnv, env, "lake-writer");
  return {
    ...parsed,
    INLET_WRITER_ACK_WAIT_MS:
      parsed.INLET_WRITER_ACK_WAIT_MS ?? Math.max(30_000, 4 * parsed.INLET_WRITER_FLUSH_MS),
  };
}
