import { bool, commonEnv, durationMs, type Env, parseEnv, port, positiveInt } from "@inlet/config";
import { z } from "zod";

const DATASET_NAME = /^[a-z][a-z0-9_]*$/;
const MIB = 1024 * 1024;
const HOUR_MS = 3_600_000;
/**
 * The shortest vacuum retention: a file younger than this may be one a flush wrote and is about to
 * commit, or one a running query still reads.
 */
export const MIN_VACUUM_RETENTION_MS = HOUR_MS;

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
    INLET_WRITER_MAX_ROWS: positiveInt(50_000),
    INLET_WRITER_MAX_BYTES: positiveInt(1.5 * MIB),
    INLET_WRITER_TARGET_FILE_BYTES: positiveInt(128 * MIB),
    INLET_WRITER_FLUSH_MS: durationMs(5_000),
    INLET_WRITER_ACK_WAIT_MS: durationMs().optional(),
    INLET_WRITER_MAX_ACK_PENDING: positiveInt(500),
    INLET_WRITER_DUCKDB_MEMORY: z
      .string()
      .regex(/^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, "expected a size such as 64MB or 1GiB")
      .default("64MB"),
    INLET_WRITER_DUCKDB_THREADS: positiveInt(1, 256),
    INLET_RAW_ENABLED: bool(true),
    INLET_WRITER_DEAD_LETTERS: bool(true),
    /** Apply the CDC stream (`lake-writer-cdc`) to the CDC datasets' tables. */
    INLET_WRITER_CDC: bool(true),
    INLET_RAW_FLUSH_MS: durationMs(1_000),
    INLET_WRITER_COMPACT_INTERVAL_MS: durationMs(10 * 60_000),
    INLET_WRITER_COMPACT_MIN_FILES: positiveInt(20),
    INLET_WRITER_VACUUM_INTERVAL_MS: durationMs(HOUR_MS),
    INLET_WRITER_VACUUM_RETENTION_MS: durationMs(7 * 24 * HOUR_MS),
  })
  .superRefine((env, ctx) => {
    if (env.INLET_WRITER_FLUSH_MS < 10) {
      ctx.addIssue({
        code: "custom",
        path: ["INLET_WRITER_FLUSH_MS"],
        message: "expected a flush interval of at least 10ms",
      });
    }
    if (env.INLET_RAW_FLUSH_MS < 10 || env.INLET_RAW_FLUSH_MS > 10_000) {
      ctx.addIssue({
        code: "custom",
        path: ["INLET_RAW_FLUSH_MS"],
        message: "expected a raw flush interval from 10ms to 10s (frames wait un-acked until it)",
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
    if (env.INLET_WRITER_COMPACT_MIN_FILES < 2) {
      ctx.addIssue({
        code: "custom",
        path: ["INLET_WRITER_COMPACT_MIN_FILES"],
        message: "expected at least 2 files (compacting one file alone gains nothing)",
      });
    }
    if (env.INLET_WRITER_VACUUM_RETENTION_MS < MIN_VACUUM_RETENTION_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["INLET_WRITER_VACUUM_RETENTION_MS"],
        message:
          "expected a retention of at least 1h (a younger file may be about to be committed or still be read)",
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
