import { readFile } from "node:fs/promises";
import { z } from "zod";
import { EnrichmentError, EnrichmentErrorCode } from "./enrichment-error.js";

const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an Avro field name");
const datasetName = z.string().regex(/^[a-z][a-z0-9_]*$/, "expected a dataset name ([a-z][a-z0-9_]*)");
// The table name is part of its KV bucket's name, `inlet_ref_<table>`.
const tableName = z.string().regex(/^[a-z][a-z0-9_]*$/, "expected a table name ([a-z][a-z0-9_]*)");

/** A reference table; `file` (relative to the config directory) seeds its KV bucket when empty. */
export const referenceTableSchema = z.strictObject({ file: z.string().min(1).optional() });

/**
 * One join: look `event[key]` up in `table`; on a hit copy `set` (event field ← table column) and
 * set `foundField` true; on a miss set those fields null and `foundField` false.
 */
export const joinSchema = z.strictObject({
  table: tableName,
  key: fieldName,
  set: z
    .record(fieldName, z.string().min(1))
    .refine((set) => Object.keys(set).length > 0, "expected at least one field"),
  foundField: fieldName.optional(),
});

/** A {@link joinSchema} value. */
export type Join = z.output<typeof joinSchema>;

/** The whole of `config/enrichment.json`. */
export const enrichmentConfigSchema = z
  .strictObject({
    tables: z.record(tableName, referenceTableSchema).default({}),
    datasets: z.record(datasetName, z.array(joinSchema).min(1)).default({}),
  })
  .superRefine((config, ctx) => {
    for (const [dataset, joins] of Object.entries(config.datasets)) {
      joins.forEach((join, i) => {
        if (config.tables[join.table] === undefined) {
          ctx.addIssue({
            code: "custom",
            message: `table "${join.table}" is not declared under "tables"`,
            path: ["datasets", dataset, i, "table"],
          });
        }
      });
    }
  });

/** A parsed `enrichment.json`. */
export type EnrichmentConfig = z.output<typeof enrichmentConfigSchema>;

/** Checks `input` (parsed JSON) against the enrichment format; `source` names it in errors. */
export function parseEnrichmentConfig(input: unknown, source: string): EnrichmentConfig {
  const result = enrichmentConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)";
    return `  ${path}: ${issue.message}`;
  });
  throw new EnrichmentError(
    `${source}: invalid enrichment config:\n${problems.join("\n")}`,
    EnrichmentErrorCode.InvalidConfig,
    {
      cause: result.error,
    },
  );
}

/** Reads and checks an `enrichment.json` file; a missing, malformed or invalid file throws {@link EnrichmentError}. */
export async function loadEnrichmentConfig(path: string): Promise<EnrichmentConfig> {
  return parseEnrichmentConfig(await readJsonFile(path, EnrichmentErrorCode.InvalidConfig), path);
}

/** Reads a JSON file, throwing {@link EnrichmentError} with `code` and the path when it cannot. */
export async function readJsonFile(path: string, code: EnrichmentErrorCode): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new EnrichmentError(`${path}: cannot read (${(cause as Error).message})`, code, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EnrichmentError(`${path}: not valid JSON (${(cause as Error).message})`, code, { cause });
  }
}
