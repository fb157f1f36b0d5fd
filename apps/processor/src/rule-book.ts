import { PoisonError, TransientError } from "@inlet/bus";
import { type RegisteredSchema, SchemaError, SchemaErrorCode, type SchemaRegistry } from "@inlet/schema";
import type { Logger } from "@inlet/telemetry";
import type { types } from "avsc";
import { type CompiledRules, compileRules, hasRules } from "./dataset-rules.js";
import type { PipelineConfig } from "./pipeline-config.js";
import { PipelineError } from "./pipeline-error.js";

/** A frame's schema and the dataset's rules compiled for it. */
export interface SchemaRules {
  readonly schema: RegisteredSchema;
  readonly rules: CompiledRules;
}

// Schema versions are few; the bound only guards against a flood of bogus ids.
const MAX_SCHEMAS = 1_000;

/**
 * The pipeline's rules compiled once per schema version (`clicks@2`), on first sight. Rules that do
 * not fit a version make every frame of it poison (dead-lettered with the reason, replayable once
 * the rules are fixed); an unknown schema id is transient (retried, then dead-lettered).
 */
export class RuleBook {
  readonly #pipeline: PipelineConfig;
  readonly #registry: SchemaRegistry;
  readonly #logger: Logger;
  readonly #compiled = new Map<string, Promise<SchemaRules>>();
  readonly #withRules: ReadonlySet<string>;

  constructor(pipeline: PipelineConfig, registry: SchemaRegistry, logger: Logger) {
    this.#pipeline = pipeline;
    this.#registry = registry;
    this.#logger = logger;
    const named = [...Object.keys(pipeline.datasets), ...pipeline.alerts.map((a) => a.dataset)];
    this.#withRules = new Set(named.filter((dataset) => hasRules(pipeline, dataset)));
  }

  /** True when frames of `dataset` must be decoded (it has filters, transforms or alerts). */
  hasRules(dataset: string): boolean {
    return this.#withRules.has(dataset);
  }

  /**
   * Compiles the rules of every dataset against its latest registered schema; throws
   * {@link PipelineError} when one does not fit. Datasets not registered yet are checked on first sight.
   */
  async checkRegistered(): Promise<string[]> {
    const datasets = new Set([
      ...Object.keys(this.#pipeline.datasets),
      ...this.#pipeline.alerts.map((a) => a.dataset),
    ]);
    const checked: string[] = [];
    for (const dataset of datasets) {
      const latest = await this.#registry.latest(dataset);
      if (latest === undefined) continue;
      compileRules(this.#pipeline, dataset, latest.type as types.RecordType);
      checked.push(latest.id);
    }
    return checked;
  }

  /** The schema `schemaId` of `dataset` and the dataset's rules for it (cached). */
  forSchema(schemaId: string, dataset: string): Promise<SchemaRules> {
    const cached = this.#compiled.get(schemaId);
    if (cached !== undefined) return cached;
    const compiling = this.#compile(schemaId, dataset);
    if (this.#compiled.size >= MAX_SCHEMAS) this.#compiled.clear();
    this.#compiled.set(schemaId, compiling);
    // A registry outage is not remembered: the next frame asks again.
    compiling.catch((error: unknown) => {
      if (error instanceof TransientError) this.#compiled.delete(schemaId);
    });
    return compiling;
  }

  async #compile(schemaId: string, dataset: string): Promise<SchemaRules> {
    let schema: RegisteredSchema;
    try {
      schema = await this.#registry.get(schemaId);
    } catch (error) {
      const notFound = error instanceof SchemaError && error.code === SchemaErrorCode.NotFound;
      throw new TransientError(
        notFound ? `schema ${schemaId} is not registered` : `schema ${schemaId} unavailable`,
        {
          code: notFound ? SchemaErrorCode.NotFound : "SCHEMA_UNAVAILABLE",
          cause: error,
        },
      );
    }
    try {
      return { schema, rules: compileRules(this.#pipeline, dataset, schema.type as types.RecordType) };
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      this.#logger.error({ err: error, schemaId }, "pipeline rules do not fit the schema");
      throw new PoisonError(`${schemaId}: ${error.message}`, { code: error.code, cause: error });
    }
  }
}
