import { bool, commonEnv, durationMs, type Env, parseEnv, port, positiveInt, text } from "@inlet/config";
import { z } from "zod";

/** A table to capture and the dataset its changes go to. */
export interface CapturedTableSpec {
  /** PostgreSQL schema, `public` when the entry names none. */
  readonly schema: string;
  readonly table: string;
  /** The dataset (`[a-z][a-z0-9_]*`): the entry's `=<dataset>`, else the table's name. */
  readonly dataset: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const DATASET = /^[a-z][a-z0-9_]*$/;
const SLOT = /^[a-z0-9_]{1,63}$/;

/**
 * `INLET_CDC_TABLES`: `[<schema>.]<table>[=<dataset>]` entries separated by commas, e.g.
 * `public.accounts=accounts, orders`. Names are PostgreSQL identifiers as written unquoted
 * (case kept: `Orders` is the table created as `"Orders"`).
 */
export function tableList(): z.ZodType<CapturedTableSpec[], string | undefined> {
  return z
    .string({ error: "expected [<schema>.]<table>[=<dataset>] entries separated by commas" })
    .transform((raw, ctx): CapturedTableSpec[] => {
      const specs: CapturedTableSpec[] = [];
      for (const item of raw.split(",")) {
        const entry = item.trim();
        if (entry === "") continue;
        const [name = "", dataset, ...rest] = entry.split("=").map((s) => s.trim());
        const parts = name.split(".");
        const [schema, table] = parts.length === 1 ? ["public", parts[0] ?? ""] : parts;
        const target = dataset ?? table?.toLowerCase() ?? "";
        if (rest.length > 0 || parts.length > 2 || !IDENT.test(schema ?? "") || !IDENT.test(table ?? "")) {
          ctx.addIssue({
            code: "custom",
            message: `expected [<schema>.]<table>[=<dataset>], got ${JSON.stringify(entry)}`,
          });
          return z.NEVER;
        }
        if (!DATASET.test(target)) {
          ctx.addIssue({
            code: "custom",
            message: `${JSON.stringify(entry)}: dataset ${JSON.stringify(target)} must be lowercase letters, digits and _, starting with a letter (name one with =<dataset>)`,
          });
          return z.NEVER;
        }
        if (specs.some((s) => s.dataset === target)) {
          ctx.addIssue({ code: "custom", message: `dataset ${JSON.stringify(target)} appears twice` });
          return z.NEVER;
        }
        specs.push({ schema: schema!, table: table!, dataset: target });
      }
      if (specs.length === 0) {
        ctx.addIssue({ code: "custom", message: "names no table" });
        return z.NEVER;
      }
      return specs;
    });
}

/** The CDC source's environment: {@link commonEnv} plus its own keys (documented in README.md). */
export const cdcEnv = commonEnv.extend({
  INLET_CDC_PORT: port(8094),
  /** `postgres://user:password@host:port/database`; the user needs the REPLICATION attribute. */
  INLET_CDC_DATABASE_URL: z.url({ error: "expected a URL such as postgres://inlet@127.0.0.1:5432/shop" }),
  INLET_CDC_TABLES: tableList(),
  INLET_CDC_SLOT: z
    .string()
    .regex(SLOT, { error: "expected lowercase letters, digits and _, at most 63" })
    .default("inlet"),
  INLET_CDC_PUBLICATION: z
    .string()
    .regex(IDENT, { error: "expected a PostgreSQL identifier" })
    .default("inlet"),
  /** The `<db>` of `cdc.<db>.<table>`; default the database of the URL. */
  INLET_CDC_SUBJECT_DATABASE: text().optional(),
  INLET_CDC_SNAPSHOT: bool(true),
  INLET_CDC_LINGER_MS: durationMs(100),
  INLET_CDC_MAX_PENDING_EVENTS: positiveInt(10_000),
  INLET_CDC_RETRY_MS: durationMs(2_000),
});

/** The parsed {@link cdcEnv}. */
export type CdcConfig = z.output<typeof cdcEnv>;

/** Reads the CDC source's configuration from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: Env): CdcConfig {
  return parseEnv(cdcEnv, env, "cdc");
}
