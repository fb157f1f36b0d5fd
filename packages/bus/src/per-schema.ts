import { type RegisteredSchema, SchemaError, SchemaErrorCode, type SchemaRegistry } from "@inlet/schema";
import { PoisonError, TransientError } from "./errors.js";

// Schema versions are few; the bound only guards against a flood of bogus ids.
const MAX_SCHEMAS = 1_000;

/** What {@link PerSchema} compiles, and how it tells a misfit from a bug. */
export interface PerSchemaOptions<T> {
  readonly registry: SchemaRegistry;
  /** Compiles the stage's configuration for `schema` of `dataset`; throws when it does not fit. */
  compile(schema: RegisteredSchema, dataset: string): T;
  /** True for what `compile` throws when the configuration does not fit the schema. */
  misfit(error: unknown): error is Error & { readonly code: string };
  /** Told of each misfit, once per schema id (to log it). */
  onMisfit?(error: Error, schemaId: string): void;
}

/**
 * A stage's configuration (the processor's rules, the enricher's joins) compiled once per schema
 * version (`clicks@2`), on first sight, and kept. A configuration that does not fit a version makes
 * every frame of it poison: a {@link PoisonError} with the misfit's code and message, so the frame
 * is dead-lettered with the reason and can be replayed once the configuration is fixed. A schema
 * id the registry does not know, or a registry that does not answer, is transient (retried, then
 * dead-lettered), and is not remembered: the next frame asks again.
 */
export class PerSchema<T> {
  readonly #options: PerSchemaOptions<T>;
  readonly #compiled = new Map<string, Promise<T>>();

  constructor(options: PerSchemaOptions<T>) {
    this.#options = options;
  }

  /** What the configuration compiles to for schema `schemaId` of `dataset` (cached). */
  get(schemaId: string, dataset: string): Promise<T> {
    const cached = this.#compiled.get(schemaId);
    if (cached !== undefined) return cached;
    const compiling = this.#compile(schemaId, dataset);
    if (this.#compiled.size >= MAX_SCHEMAS) this.#compiled.clear();
    this.#compiled.set(schemaId, compiling);
    compiling.catch((error: unknown) => {
      if (error instanceof TransientError) this.#compiled.delete(schemaId);
    });
    return compiling;
  }

  async #compile(schemaId: string, dataset: string): Promise<T> {
    let schema: RegisteredSchema;
    try {
      schema = await this.#options.registry.get(schemaId);
    } catch (error) {
      const notFound = error instanceof SchemaError && error.code === SchemaErrorCode.NotFound;
      throw new TransientError(
        notFound ? `schema ${schemaId} is not registered` : `schema ${schemaId} unavailable`,
        { code: notFound ? SchemaErrorCode.NotFound : "SCHEMA_UNAVAILABLE", cause: error },
      );
    }
    try {
      return this.#options.compile(schema, dataset);
    } catch (error) {
      if (!this.#options.misfit(error)) throw error;
      this.#options.onMisfit?.(error, schemaId);
      throw new PoisonError(`${schemaId}: ${error.message}`, { code: error.code, cause: error });
    }
  }
}
