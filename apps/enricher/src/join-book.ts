import { PoisonError, TransientError } from "@inlet/bus";
import { type RegisteredSchema, SchemaError, SchemaErrorCode, type SchemaRegistry } from "@inlet/schema";
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

// Schema versions are few; the bound only guards against a flood of bogus ids.
const MAX_SCHEMAS = 1_000;

/**
 * The enrichment joins compiled once per schema version (`transactions@2`), on first sight. Joins
 * that do not fit a version make every frame of it poison (dead-lettered with the reason); an
 * unknown schema id is transient (retried, then dead-lettered).
 */
export class JoinBook {
  readonly #config: EnrichmentConfig;
  readonly #registry: SchemaRegistry;
  readonly #tables: ReadonlyMap<string, Lookup>;
  readonly #logger: Logger;
  readonly #compiled = new Map<string, Promise<SchemaJoins>>();

  constructor(
    config: EnrichmentConfig,
    registry: SchemaRegistry,
    tables: ReadonlyMap<string, Lookup>,
    logger: Logger,
  ) {
    this.#config = config;
    this.#registry = registry;
    this.#tables = tables;
    this.#logger = logger;
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

  async #compile(schemaId: string, dataset: string): Promise<SchemaJoins> {
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
    const joins = this.#config.datasets[dataset] ?? [];
    try {
      return {
        schema,
        enrichment: compileEnrichment(joins, schema.type as types.RecordType, dataset, this.#tables),
      };
    } catch (error) {
      if (!(error instanceof EnrichmentError)) throw error;
      this.#logger.error({ err: error, schemaId }, "enrichment joins do not fit the schema");
      throw new PoisonError(`${schemaId}: ${error.message}`, { code: error.code, cause: error });
    }
  }
}
