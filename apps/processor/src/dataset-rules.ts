import type { types } from "avsc";
import { compileAll } from "./condition.js";
import type { Mutator, Predicate } from "./event-record.js";
import type { PipelineConfig } from "./pipeline-config.js";
import { PipelineError } from "./pipeline-error.js";
import { compileTransforms } from "./transform.js";

/** An alert rule compiled for one schema. */
export interface CompiledAlert {
  readonly name: string;
  readonly matches: Predicate;
}

/** A dataset's filter, transforms and alerts compiled for one schema version. */
export interface CompiledRules {
  readonly dataset: string;
  /** True when the event is kept (every filter condition holds). */
  readonly keep: Predicate;
  /** Applies the dataset's transforms in order, in place. */
  readonly transform: Mutator;
  /** The fields the transforms may change (an event whose values there stay the same keeps its bytes). */
  readonly transformFields: readonly string[];
  /** Alert rules of the dataset, checked on kept, transformed events. */
  readonly alerts: readonly CompiledAlert[];
}

/** True when `config` has filters, transforms or alerts for `dataset` (otherwise frames pass through undecoded). */
export function hasRules(config: PipelineConfig, dataset: string): boolean {
  const rules = config.datasets[dataset];
  const own = rules !== undefined && (rules.filter.length > 0 || rules.transform.length > 0);
  return own || config.alerts.some((a) => a.dataset === dataset);
}

/**
 * Compiles the rules of `dataset` from `config` against its record schema `record`.
 * Throws {@link PipelineError} naming the dataset, rule and field when a rule does not fit the schema.
 */
export function compileRules(
  config: PipelineConfig,
  dataset: string,
  record: types.RecordType,
): CompiledRules {
  const rules = config.datasets[dataset];
  return {
    dataset,
    keep: compileAll(rules?.filter ?? [], record, dataset),
    transform: compileTransforms(rules?.transform ?? [], record, dataset),
    transformFields: [...new Set((rules?.transform ?? []).map((t) => t.field))],
    alerts: config.alerts
      .filter((a) => a.dataset === dataset)
      .map((a) => ({ name: a.name, matches: inAlert(a.name, () => compileAll(a.when, record, dataset)) })),
  };
}

function inAlert<T>(name: string, compile: () => T): T {
  try {
    return compile();
  } catch (error) {
    if (!(error instanceof PipelineError)) throw error;
    throw new PipelineError(`alert "${name}": ${error.message}`, error.code, { cause: error });
  }
}
