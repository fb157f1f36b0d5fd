import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AvroSchema, type AvroType, createAvroType, normalizedSchema } from "./avro-type.js";
import { CompatibilityMode, checkCompatibility } from "./compatibility.js";
import { SchemaError, SchemaErrorCode } from "./schema-error.js";
import { assertDatasetName, formatSchemaId, parseSchemaId } from "./schema-id.js";

/** The KV bucket holding the registry. */
export const SCHEMA_BUCKET = "inlet_schemas";

/** A schema version as the registry holds it. */
export interface RegisteredSchema {
  /** `<dataset>@<version>`, e.g. `clicks@1`. */
  id: string;
  dataset: string;
  version: number;
  /** The schema JSON as registered. */
  schema: AvroSchema;
  /** The schema compiled with {@link createAvroType}. */
  type: AvroType;
}

/** What {@link SchemaRegistry.register} did. */
export interface RegisterResult {
  id: string;
  version: number;
  /** False when an equal schema was already registered (that version is returned). */
  created: boolean;
}

/** Options of {@link SchemaRegistry.create}. */
export interface SchemaRegistryOptions {
  /** KV bucket name (default `inlet_schemas`). */
  bucket?: string;
  /** Replicas of the bucket when it is created (default 1). */
  replicas?: number;
  /** Compatibility mode new versions must pass (default BACKWARD). */
  compatibility?: CompatibilityMode;
}

/** Options of {@link SchemaRegistry.register}. */
export interface RegisterOptions {
  /** Overrides the registry's compatibility mode for this dataset. */
  compatibility?: CompatibilityMode;
}

// Versions are immutable, so cached ones never go stale; the bound only stops abuse.
const MAX_CACHED = 10_000;
const MAX_ATTEMPTS = 20;

/**
 * Versioned Avro schemas of every dataset in a NATS KV bucket: key `<dataset>.<version>` holds the
 * schema JSON, `<dataset>.latest` the latest version number. New versions must pass the
 * compatibility check against the latest; concurrent registrations are safe (put-if-absent).
 */
export class SchemaRegistry {
  readonly #kv: KV;
  readonly #compatibility: CompatibilityMode;
  readonly #cache = new Map<string, Promise<RegisteredSchema>>();
  readonly #forms = new WeakMap<AvroType, string>();
  #closed = false;

  private constructor(kv: KV, compatibility: CompatibilityMode) {
    this.#kv = kv;
    this.#compatibility = compatibility;
  }

  /** Opens the registry, creating its KV bucket when it does not exist yet. */
  static async create(nc: NatsConnection, options: SchemaRegistryOptions = {}): Promise<SchemaRegistry> {
    const kv = await new Kvm(nc).create(options.bucket ?? SCHEMA_BUCKET, {
      replicas: options.replicas ?? 1,
      history: 5,
      description: "Inlet schema registry: <dataset>.<version> = Avro schema, <dataset>.latest = version",
    });
    return new SchemaRegistry(kv, options.compatibility ?? CompatibilityMode.Backward);
  }

  /**
   * Registers `schema` for `dataset`. An equal schema already registered returns that version
   * (`created: false`); otherwise the schema must pass the compatibility check against the latest
   * version, or {@link SchemaError} (INCOMPATIBLE) is thrown with the reason.
   */
  async register(
    dataset: string,
    schema: AvroSchema,
    options: RegisterOptions = {},
  ): Promise<RegisterResult> {
    this.#assertOpen();
    assertDatasetName(dataset);
    const type = createAvroType(schema);
    if (type.typeName !== "record") {
      throw new SchemaError(
        `dataset ${JSON.stringify(dataset)}: schema must be an Avro record, got ${type.typeName}`,
        SchemaErrorCode.InvalidSchema,
      );
    }
    const form = this.#form(type);
    const mode = options.compatibility ?? this.#compatibility;

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const latest = await this.#highestVersion(dataset);
      for (let version = 1; version <= latest; version++) {
        const existing = await this.get(formatSchemaId(dataset, version));
        if (this.#form(existing.type) === form) return { id: existing.id, version, created: false };
      }
      if (latest > 0) {
        const previous = await this.get(formatSchemaId(dataset, latest));
        const verdict = checkCompatibility(type, previous.type, mode);
        if (!verdict.compatible) {
          throw new SchemaError(
            `dataset ${JSON.stringify(dataset)}: new schema refused against ${previous.id}: ${verdict.reason}`,
            SchemaErrorCode.Incompatible,
          );
        }
      }
      const version = latest + 1;
      try {
        await this.#kv.create(versionKey(dataset, version), JSON.stringify(schema));
      } catch (err) {
        // Someone else took this version number: look again (their schema may even be ours).
        if (await this.#exists(versionKey(dataset, version))) continue;
        throw err;
      }
      await this.#advanceLatest(dataset, version);
      return { id: formatSchemaId(dataset, version), version, created: true };
    }
    throw new SchemaError(
      `dataset ${JSON.stringify(dataset)}: registration lost ${MAX_ATTEMPTS} races with concurrent registrations`,
      SchemaErrorCode.Conflict,
    );
  }

  /** The latest version of `dataset`, or undefined when the dataset has no schema yet. */
  async latest(dataset: string): Promise<RegisteredSchema | undefined> {
    this.#assertOpen();
    assertDatasetName(dataset);
    const version = await this.#highestVersion(dataset);
    return version === 0 ? undefined : this.get(formatSchemaId(dataset, version));
  }

  /** The schema with id `<dataset>@<version>` (cached); throws {@link SchemaError} NOT_FOUND or INVALID_SCHEMA_ID. */
  get(schemaId: string): Promise<RegisteredSchema> {
    if (this.#closed) return Promise.reject(closedError());
    const cached = this.#cache.get(schemaId);
    if (cached !== undefined) return cached;
    const loading = this.#load(schemaId);
    if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(schemaId, loading);
    loading.catch(() => this.#cache.delete(schemaId));
    return loading;
  }

  /** Names of the datasets with at least one schema, sorted. */
  async datasets(): Promise<string[]> {
    this.#assertOpen();
    const names = new Set<string>();
    for await (const key of await this.#kv.keys()) {
      const dot = key.indexOf(".");
      if (dot > 0) names.add(key.slice(0, dot));
    }
    return [...names].sort();
  }

  /** Forgets the cache; the NATS connection belongs to the caller and stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear();
  }

  async #load(schemaId: string): Promise<RegisteredSchema> {
    const { dataset, version } = parseSchemaId(schemaId);
    const entry = await this.#kv.get(versionKey(dataset, version));
    if (entry === null || entry.operation !== "PUT") {
      throw new SchemaError(`schema ${schemaId} is not registered`, SchemaErrorCode.NotFound);
    }
    let schema: AvroSchema;
    try {
      schema = entry.json<AvroSchema>();
    } catch (err) {
      throw new SchemaError(`schema ${schemaId} in the registry is not JSON`, SchemaErrorCode.InvalidSchema, {
        cause: err,
      });
    }
    return { id: formatSchemaId(dataset, version), dataset, version, schema, type: createAvroType(schema) };
  }

  // The `latest` pointer can lag behind when a registrar died between its two writes: probe past it.
  async #highestVersion(dataset: string): Promise<number> {
    const entry = await this.#kv.get(latestKey(dataset));
    let version = entry !== null && entry.operation === "PUT" ? Number(entry.string()) : 0;
    if (!Number.isSafeInteger(version) || version < 0) version = 0;
    while (await this.#exists(versionKey(dataset, version + 1))) version++;
    return version;
  }

  // Moves `<dataset>.latest` up to `version`, never down, with compare-and-set.
  async #advanceLatest(dataset: string, version: number): Promise<void> {
    const key = latestKey(dataset);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await this.#kv.get(key);
      try {
        if (entry === null || entry.operation !== "PUT") {
          await this.#kv.create(key, String(version));
        } else if (Number(entry.string()) < version) {
          await this.#kv.update(key, String(version), entry.revision);
        }
        return;
      } catch {
        // a concurrent writer moved it first: read it again
      }
    }
    // Readers probe past a lagging pointer, so a lost race here loses nothing.
  }

  async #exists(key: string): Promise<boolean> {
    const entry = await this.#kv.get(key);
    return entry !== null && entry.operation === "PUT";
  }

  #form(type: AvroType): string {
    let form = this.#forms.get(type);
    if (form === undefined) {
      form = normalizedSchema(type);
      this.#forms.set(type, form);
    }
    return form;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function versionKey(dataset: string, version: number): string {
  return `${dataset}.${version}`;
}

function latestKey(dataset: string): string {
  return `${dataset}.latest`;
}

function closedError(): SchemaError {
  return new SchemaError("schema registry is closed", SchemaErrorCode.Closed);
}
