import { z } from "zod";
import { natsServers, positiveInt, text } from "./fields.js";

/** Log levels accepted by `INLET_LOG_LEVEL` (pino's). */
export const LogLevel = {
  Fatal: "fatal",
  Error: "error",
  Warn: "warn",
  Info: "info",
  Debug: "debug",
  Trace: "trace",
  Silent: "silent",
} as const;

/** A {@link LogLevel} value. */
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const LOG_LEVELS = Object.values(LogLevel) as [LogLevel, ...LogLevel[]];

/**
 * The variables every Inlet service reads; a service extends it (`commonEnv.extend({ … })`).
 * - `INLET_NATS_URL`: comma-separated NATS servers, default `nats://127.0.0.1:4222`.
 * - `INLET_STREAM_REPLICAS`: JetStream replicas for streams and KV buckets, 1–5, default 1.
 * - `INLET_LOG_LEVEL`: fatal|error|warn|info|debug|trace|silent, default info.
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: OTLP/HTTP collector URL, optional (no export when unset).
 * - `INLET_CONFIG_DIR`: the directory holding `datasets/` and `reference/`, default `config`.
 * - `INLET_LAKE_DIR`: the lake's root directory, default `lake`.
 */
export const commonEnv = z.object({
  INLET_NATS_URL: natsServers(),
  INLET_STREAM_REPLICAS: positiveInt(1, 5),
  INLET_LOG_LEVEL: z.enum(LOG_LEVELS).default(LogLevel.Info),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ error: "expected a URL such as http://127.0.0.1:4318" }).optional(),
  INLET_CONFIG_DIR: text("config"),
  INLET_LAKE_DIR: text("lake"),
});

/** The parsed {@link commonEnv}. */
export type CommonEnv = z.output<typeof commonEnv>;
