import { PerSchema } from "@inlet/bus";
import type { RegisteredSchema, SchemaRegistry } from "@inlet/schema";
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

/**
 * The pipeline's rules compiled once per schema version (`clicks@2`), on first sight
 * ({@link PerSchema}). Rules that do not fit a version make every frame of it poison (dead-lettered
 * with the reason, replayable once the rules are fixed); an unknown schema id is transient.
 */
export class RuleBook {
  readonly #pipeline: PipelineConfig;
  readonly #registry: SchemaRegistry;
  readonly #perSchema: PerSchema<SchemaRules>;
  readonly #withRules: ReadonlySet<string>;

  constructor(pipeline: PipelineConfig, registry: SchemaRegistry, logger: Logger) {
    this.#pipeline = pipeline;
    this.#registry = registry;
    this.#perSchema = new PerSchema({
      registry,
      compile: (schema, dataset) => ({
        schema,
        rules: compileRules(pipeline, dataset, schema.type as types.RecordType),
      }),
      misfit: (error) => error instanceof PipelineError,
      onMisfit: (err, schemaId) => logger.error({ err, schemaId }, "pipeline rules do not fit the schema"),
    });
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
    return this.#perSchema.get(schemaId, dataset);
  }
}
