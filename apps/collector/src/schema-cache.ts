import { type RegisteredSchema, SCHEMA_BUCKET, type SchemaRegistry } from "@inlet/schema";
import type { Logger } from "@inlet/telemetry";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/** Options of {@link SchemaCache.create}. */
export interface SchemaCacheOptions {
  /** The registry's KV bucket (default `inlet_schemas`). */
  bucket?: string;
  /** How often every dataset's latest version is read again, in ms, besides the KV watch. */
  refreshMs: number;
  logger: Logger;
}

/**
 * The latest registered schema of every dataset, kept in memory so validating an event costs no
 * registry call. A watch on the registry's KV bucket picks up a new version (or a new dataset) within
 * moments; a periodic refresh backs the watch up (a lagging `latest` pointer, a lost watch).
 */
export class SchemaCache {
  readonly #registry: SchemaRegistry;
  readonly #options: SchemaCacheOptions;
  readonly #latest = new Map<string, RegisteredSchema>();
  #timer: NodeJS.Timeout | undefined;
  #watch: { stop(): void } | undefined;
  #watching: Promise<void> | undefined;
  #refreshing: Promise<void> | undefined;

  private constructor(registry: SchemaRegistry, options: SchemaCacheOptions) {
    this.#registry = registry;
    this.#options = options;
  }

  /** Loads the latest version of every dataset, then starts watching the registry for new ones. */
  static async create(
    nc: NatsConnection,
    registry: SchemaRegistry,
    options: SchemaCacheOptions,
  ): Promise<SchemaCache> {
    const cache = new SchemaCache(registry, options);
    await cache.refresh();
    await cache.#startWatch(nc);
    cache.#timer = setInterval(() => {
      cache.refresh().catch((err: unknown) => options.logger.warn({ err }, "schema refresh failed"));
    }, options.refreshMs);
    cache.#timer.unref();
    return cache;
  }

  /** The latest schema of `dataset`, or undefined when none is registered. */
  latest(dataset: string): RegisteredSchema | undefined {
    return this.#latest.get(dataset);
  }

  /** Names of the datasets with a schema, sorted. */
  datasets(): string[] {
    return [...this.#latest.keys()].sort();
  }

  /** Reads the latest version of every dataset from the registry again (one refresh at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshAll().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Stops watching and refreshing. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#watch?.stop();
    await this.#watching;
  }

  async #refreshAll(): Promise<void> {
    for (const dataset of await this.#registry.datasets()) await this.#refreshOne(dataset);
  }

  async #refreshOne(dataset: string): Promise<void> {
    const latest = await this.#registry.latest(dataset);
    if (latest === undefined) return;
    const current = this.#latest.get(dataset);
    if (current !== undefined && current.version >= latest.version) return;
    this.#latest.set(dataset, latest);
    if (current !== undefined) {
      this.#options.logger.info(
        { dataset, schema: latest.id, previous: current.id },
        "new schema version in use",
      );
    }
  }

  async #startWatch(nc: NatsConnection): Promise<void> {
    const kv = await new Kvm(nc).open(this.#options.bucket ?? SCHEMA_BUCKET);
    const watch = await kv.watch({ key: ">", include: KvWatchInclude.UpdatesOnly, ignoreDeletes: true });
    this.#watch = watch;
    this.#watching = (async () => {
      for await (const entry of watch) {
        const dataset = entry.key.slice(0, entry.key.indexOf("."));
        if (dataset === "") continue;
        await this.#refreshOne(dataset).catch((err: unknown) =>
          this.#options.logger.warn({ err, dataset }, "schema refresh failed"),
        );
      }
    })();
  }
}
