import { CliError, CliErrorCode } from "./cli-error.js";

/** How a command prints its result. */
export const OutputFormat = {
  /** A box-drawn table like DuckDB's CLI (the default). */
  Table: "table",
  Json: "json",
  Ndjson: "ndjson",
  Csv: "csv",
} as const;

/** An {@link OutputFormat} value. */
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

/** The `--format` option's value, checked against the formats a command offers. */
export function parseOutputFormat(
  value: string | undefined,
  allowed: readonly OutputFormat[] = Object.values(OutputFormat),
): OutputFormat {
  if (value === undefined) return OutputFormat.Table;
  const format = allowed.find((f) => f === value);
  if (format === undefined) {
    throw new CliError(CliErrorCode.Usage, `--format must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return format;
}

/** `--version clicks=3` options as `{ clicks: 3 }`. */
export function parseVersions(values: readonly string[] | undefined): Record<string, number> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const versions: Record<string, number> = {};
  for (const value of values) {
    const match = /^([a-z][a-z0-9_]*)=(\d+)$/.exec(value);
    if (match === null) {
      throw new CliError(
        CliErrorCode.Usage,
        `--version expects <dataset>=<version>, e.g. clicks=3, got "${value}"`,
      );
    }
    versions[match[1] as string] = Number(match[2]);
  }
  return versions;
}

/** A positive integer option, or `fallback` when absent. */
export function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new CliError(CliErrorCode.Usage, `--${name} must be a positive integer, got "${value}"`);
  }
  return Number(value);
}
