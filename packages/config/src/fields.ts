import { z } from "zod";

/** A zod schema reading one environment string into a typed value. */
export type EnvField<T> = z.ZodType<T, string | undefined>;

/**
 * Builds a field: `convert` turns the raw string into a value or returns undefined when the string
 * is not acceptable. An unset variable takes `fallback`, or is reported missing when there is none.
 */
function envField<T>(expected: string, convert: (raw: string) => T | undefined, fallback?: T): EnvField<T> {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined) {
        if (fallback !== undefined) return fallback;
        ctx.addIssue({ code: "custom", message: `expected ${expected}` });
        return z.NEVER;
      }
      const value = convert(raw.trim());
      if (value === undefined) {
        ctx.addIssue({ code: "custom", message: `expected ${expected}` });
        return z.NEVER;
      }
      return value;
    });
}

function integer(raw: string): number | undefined {
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** A TCP port 0–65535 (0 lets the OS pick one); `fallback` when unset. */
export function port(fallback?: number): EnvField<number> {
  return envField(
    "a TCP port (0-65535)",
    (raw) => {
      const n = integer(raw);
      return n !== undefined && n <= 65_535 ? n : undefined;
    },
    fallback,
  );
}

/** An integer ≥ 1, at most `max` (default 2^31 - 1); `fallback` when unset. */
export function positiveInt(fallback?: number, max = 2_147_483_647): EnvField<number> {
  return envField(
    `an integer from 1 to ${max}`,
    (raw) => {
      const n = integer(raw);
      return n !== undefined && n >= 1 && n <= max ? n : undefined;
    },
    fallback,
  );
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** A duration in milliseconds: `250` (ms), `250ms`, `5s`, `2m`, `1h`; `fallback` (ms) when unset. */
export function durationMs(fallback?: number): EnvField<number> {
  return envField(
    "a duration such as 500ms, 5s, 2m, 1h or plain milliseconds",
    (raw) => {
      const match = DURATION.exec(raw);
      if (!match) return undefined;
      const unit = (match[2] ?? "ms") as keyof typeof UNIT_MS;
      return Math.round(Number(match[1]) * UNIT_MS[unit]);
    },
    fallback,
  );
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** A boolean: true/1/yes/on or false/0/no/off (any case); `fallback` when unset. */
export function bool(fallback?: boolean): EnvField<boolean> {
  return envField(
    "true or false",
    (raw) => {
      const word = raw.toLowerCase();
      if (TRUE.has(word)) return true;
      if (FALSE.has(word)) return false;
      return undefined;
    },
    fallback,
  );
}

/** A non-empty string; `fallback` when unset. */
export function text(fallback?: string): EnvField<string> {
  return envField("a non-empty string", (raw) => (raw === "" ? undefined : raw), fallback);
}

/** One `<key>=<value>` of a {@link pairList}. */
export interface KeyValue {
  key: string;
  value: string;
}

/**
 * `<key>=<value>` pairs separated by commas (`a-in=clicks, b-in=transactions`), each side trimmed
 * and checked against its pattern, no key twice; an empty list when unset. `shape` names the pair
 * in errors, e.g. `<subscription>=<dataset>`.
 */
export function pairList(shape: string, key: RegExp, value: RegExp): EnvField<KeyValue[]> {
  return z
    .string()
    .optional()
    .transform((raw, ctx): KeyValue[] => {
      const pairs: KeyValue[] = [];
      for (const item of (raw ?? "").split(",")) {
        if (item.trim() === "") continue;
        const [k = "", v = "", ...rest] = item.split("=").map((s) => s.trim());
        if (rest.length > 0 || !key.test(k) || !value.test(v)) {
          ctx.addIssue({
            code: "custom",
            message: `expected ${shape} pairs separated by commas, got ${JSON.stringify(item.trim())}`,
          });
          return z.NEVER;
        }
        if (pairs.some((p) => p.key === k)) {
          ctx.addIssue({ code: "custom", message: `${JSON.stringify(k)} appears twice` });
          return z.NEVER;
        }
        pairs.push({ key: k, value: v });
      }
      return pairs;
    });
}

const NATS_SERVER = /^(?:(?:nats|tls|ws|wss):\/\/)?[^\s,/]+(?::\d{1,5})?\/?$/;

/** Default NATS server list: one server on the local machine. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** NATS servers as a comma-separated list (`nats://a:4222,nats://b:4222`); default {@link DEFAULT_NATS_URL}. */
export function natsServers(fallback: string = DEFAULT_NATS_URL): EnvField<string[]> {
  const split = (raw: string) =>
    raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  return envField(
    "a comma-separated list of NATS servers such as nats://127.0.0.1:4222",
    (raw) => {
      const servers = split(raw);
      return servers.length > 0 && servers.every((s) => NATS_SERVER.test(s)) ? servers : undefined;
    },
    split(fallback),
  );
}
