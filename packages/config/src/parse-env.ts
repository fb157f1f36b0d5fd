import type { z } from "zod";
import { ConfigError } from "./config-error.js";

/** The environment as a service receives it (`process.env` has this shape). */
export type Env = Record<string, string | undefined>;

const SECRET_KEY = /PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_KEY/i;
const MAX_SHOWN = 80;

/**
 * Parses `env` with `schema` (a zod object keyed by variable names) and returns the typed result.
 * Empty values count as unset, so `FOO=` in an .env file falls back to the default.
 * Throws {@link ConfigError} listing every problem, never just the first.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env, service: string): z.output<S> {
  const input: Env = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== "") input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => describeIssue(issue, input));
  throw new ConfigError(service, problems, { cause: result.error });
}

function describeIssue(issue: z.core.$ZodIssue, env: Env): string {
  const key = issue.path.length > 0 ? issue.path.map(String).join(".") : "(environment)";
  const first = issue.path[0];
  const raw = typeof first === "string" ? env[first] : undefined;
  return `${key}: ${expectation(issue)}, got ${shown(key, raw)}`;
}

function expectation(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith("expected")) return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return `expected a ${issue.format}`;
    default:
      return `expected valid input (${issue.message})`;
  }
}

function shown(key: string, raw: string | undefined): string {
  if (raw === undefined) return "nothing (not set)";
  if (SECRET_KEY.test(key)) return "a value (hidden: it looks like a secret)";
  const text = raw.length > MAX_SHOWN ? `${raw.slice(0, MAX_SHOWN)}…` : raw;
  return JSON.stringify(text);
}
