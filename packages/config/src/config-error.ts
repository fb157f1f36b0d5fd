/** Codes carried by {@link ConfigError}. */
export const ConfigErrorCode = {
  /** The environment does not satisfy the service's config schema. */
  InvalidConfig: "INVALID_CONFIG",
} as const;

/** A {@link ConfigErrorCode} value. */
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/** Bad configuration: the message lists every problem, one `KEY: expected …, got …` per line. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;
  /** The service whose configuration failed. */
  readonly service: string;
  /** One line per problem, `INLET_X: expected …, got …`. */
  readonly problems: readonly string[];

  constructor(service: string, problems: readonly string[], options?: { cause?: unknown }) {
    super(`invalid configuration for ${service}:\n${problems.map((p) => `  ${p}`).join("\n")}`, options);
    this.code = ConfigErrorCode.InvalidConfig;
    this.service = service;
    this.problems = problems;
  }
}
