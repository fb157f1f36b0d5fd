import { PerSchema } from "@inlet/bus";
import type { RegisteredSchema, SchemaRegistry } from "@inlet/schema";
import type { Logger } from "@inlet/telemetry";
import type { types } from "avsc";
import { type CompiledEnrichment, compileEnrichment } from "./enrich-events.js";
import type { EnrichmentConfig } from "./enrichment-config.js";
import { EnrichmentError } from "./enrichment-error.js";
import type { Lookup } from "./join.js";

/** A frame's schema and the dataset's joins compiled for it. */
export interface SchemaJoins {
  readonly schema: RegisteredSchema;
  readonly enrichment: CompiledEnrichment;
}

/**
 * The enrichment joins compiled once per schema version (`transactions@2`), on first sight
 * ({@link PerSchema}). Joins that do not fit a version make every frame of it poison
 * (dead-lettered with the reason); an unknown schema id is transient.
 */
export class JoinBook {
  readonly #config: EnrichmentConfig;
  readonly #registry: SchemaRegistry;
  readonly #tables: ReadonlyMap<string, Lookup>;
  readonly #perSchema: PerSchema<SchemaJoins>;

  constructor(
    config: EnrichmentConfig,
    registry: SchemaRegistry,
    tables: ReadonlyMap<string, Lookup>,
    logger: Logger,
  ) {
    this.#config = config;
    this.#registry = registry;
    this.#tables = tables;
    this.#perSchema = new PerSchema({
      registry,
      compile: (schema, dataset) => ({
        schema,
        enrichment: compileEnrichment(
          config.datasets[dataset] ?? [],
          schema.type as types.RecordType,
          dataset,
          tables,
        ),
      }),
      misfit: (error) => error instanceof EnrichmentError,
      onMisfit: (err, schemaId) => logger.error({ err, schemaId }, "enrichment joins do not fit the schema"),
    });
  }

  /** True when frames of `dataset` are enriched (otherwise they pass through undecoded). */
  hasJoins(dataset: string): boolean {
    return this.#config.datasets[dataset] !== undefined;
  }

  /**
   * Compiles the joins of every dataset against its latest registered schema; throws
   * {@link EnrichmentError} when one does not fit. Datasets not registered yet are checked on first sight.
   */
  async checkRegistered(): Promise<string[]> {
    const checked: string[] = [];
    for (const [dataset, joins] of Object.entries(this.#config.datasets)) {
      const latest = await this.#registry.latest(dataset);
      if (latest === undefined) continue;
      compileEnrichment(joins, latest.type as types.RecordType, dataset, this.#tables);
      checked.push(latest.id);
    }
    return checked;
  }

  /** The schema `schemaId` of `dataset` and the dataset's joins for it (cached). */
  forSchema(schemaId: string, dataset: string): Promise<SchemaJoins> {
    return this.#perSchema.get(schemaId, dataset);
  }
}
