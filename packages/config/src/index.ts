export type { CommonEnv } from "./common-env.js";
export { commonEnv, LogLevel } from "./common-env.js";
export { ConfigError, ConfigErrorCode } from "./config-error.js";
export type { EnvField, KeyValue } from "./fields.js";
export {
  bool,
  DEFAULT_NATS_URL,
  durationMs,
  natsServers,
  pairList,
  port,
  positiveInt,
  text,
} from "./fields.js";
export type { Env } from "./parse-env.js";
export { parseEnv } from "./parse-env.js";
