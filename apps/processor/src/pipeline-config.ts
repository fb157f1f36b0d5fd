import { readFile } from "node:fs/promises";
import { z } from "zod";
import { PipelineError, PipelineErrorCode } from "./pipeline-error.js";

const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an Avro field name");
const datasetName = z.string().regex(/^[a-z][a-z0-9_]*$/, "expected a dataset name ([a-z][a-z0-9_]*)");
// The rule name is a subject token (`alerts.<rule>`) and part of the alert's Msg-Id.
const alertName = z.string().regex(/^[a-z][a-z0-9_-]*$/, "expected a rule name ([a-z][a-z0-9_-]*)");
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** One test on one field of an event. `between` is inclusive; `exists` means not null. */
export const conditionSchema = z.discriminatedUnion("op", [
  z.strictObject({ field: fieldName, op: z.enum(["eq", "ne"]), value: scalar }),
  z.strictObject({
    field: fieldName,
    op: z.enum(["gt", "gte", "lt", "lte"]),
    value: z.union([z.number(), z.string()]),
  }),
  z.strictObject({ field: fieldName, op: z.enum(["in", "not_in"]), value: z.array(scalar).min(1) }),
  z.strictObject({ field: fieldName, op: z.enum(["contains", "not_contains"]), value: z.string().min(1) }),
  z
    .strictObject({ field: fieldName, op: z.literal("between"), min: z.number(), max: z.number() })
    .refine((c) => c.min <= c.max, { message: "expected min <= max", path: ["max"] }),
  z.strictObject({ field: fieldName, op: z.enum(["exists", "is_null"]) }),
]);

/** A {@link conditionSchema} value. */
export type Condition = z.output<typeof conditionSchema>;

/** One change to one field of an event. Transforms of a dataset run in order. */
export const transformSchema = z.discriminatedUnion("op", [
  z.strictObject({ field: fieldName, op: z.enum(["lowercase", "uppercase", "trim", "hash"]) }),
  z.strictObject({ field: fieldName, op: z.literal("round"), digits: z.int().min(0).max(15).default(0) }),
  z
    .strictObject({ field: fieldName, op: z.literal("clamp"), min: z.number(), max: z.number() })
    .refine((t) => t.min <= t.max, { message: "expected min <= max", path: ["max"] }),
  z.strictObject({
    field: fieldName,
    op: z.literal("scale"),
    multiply: z.number().default(1),
    add: z.number().default(0),
  }),
  z.strictObject({ field: fieldName, op: z.literal("set"), value: scalar }),
  z.strictObject({
    field: fieldName,
    op: z.literal("default"),
    value: z.union([z.string(), z.number(), z.boolean()]),
  }),
]);

/** A {@link transformSchema} value. */
export type Transform = z.output<typeof transformSchema>;

/** The rules of one dataset: keep an event when every filter condition holds, then transform it. */
export const datasetRulesSchema = z.strictObject({
  filter: z.array(conditionSchema).default([]),
  transform: z.array(transformSchema).default([]),
});

/** A {@link datasetRulesSchema} value. */
export type DatasetRules = z.output<typeof datasetRulesSchema>;

/** An alert rule: fires for every kept, transformed event of `dataset` where every `when` condition holds. */
export const alertRuleSchema = z.strictObject({
  name: alertName,
  dataset: datasetName,
  when: z.array(conditionSchema).min(1),
});

/** A {@link alertRuleSchema} value. */
export type AlertRule = z.output<typeof alertRuleSchema>;

/** The whole of `config/pipeline.json`. */
export const pipelineConfigSchema = z
  .strictObject({
    datasets: z.record(datasetName, datasetRulesSchema).default({}),
    alerts: z.array(alertRuleSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.alerts.forEach((alert, i) => {
      if (seen.has(alert.name)) {
        ctx.addIssue({
          code: "custom",
          message: `duplicate alert name "${alert.name}"`,
          path: ["alerts", i, "name"],
        });
      }
      seen.add(alert.name);
    });
  });

/** A parsed `pipeline.json`. */
export type PipelineConfig = z.output<typeof pipelineConfigSchema>;

/** Checks `input` (parsed JSON) against the pipeline format; `source` names it in errors. */
export function parsePipelineConfig(input: unknown, source: string): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)";
    return `  ${path}: ${issue.message}`;
  });
  throw new PipelineError(
    `${source}: invalid pipeline rules:\n${problems.join("\n")}`,
    PipelineErrorCode.InvalidConfig,
    {
      cause: result.error,
    },
  );
}

/** Reads and checks a `pipeline.json` file; a missing, malformed or invalid file throws {@link PipelineError}. */
export async function loadPipelineConfig(path: string): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new PipelineError(
      `${path}: cannot read the pipeline rules (${(cause as Error).message})`,
      PipelineErrorCode.InvalidConfig,
      {
        cause,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new PipelineError(
      `${path}: not valid JSON (${(cause as Error).message})`,
      PipelineErrorCode.InvalidConfig,
      { cause },
    );
  }
  return parsePipelineConfig(json, path);
}
