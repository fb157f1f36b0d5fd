import type { Logger } from "@inlet/telemetry";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/nats-core";
import { EnrichmentError, EnrichmentErrorCode } from "./enrichment-error.js";
import type { Lookup, ReferenceRow } from "./join.js";
import { isRow, readReferenceFile } from "./reference-file.js";

/** Options of {@link ReferenceTable.open}. */
export interface ReferenceTableOptions {
  /** The table's name (for logs and errors). */
  table: string;
  /** Its KV bucket, `inlet_ref_<table>` in production. */
  bucket: string;
  /** Replicas of the bucket when it is created. */
  replicas: number;
  /** Most entries held in memory; more refuse the start, or are skipped (logged) once running. */
  maxEntries: number;
  /** A reference file loaded into the bucket when the bucket is empty. */
  seedFile?: string;
  logger: Logger;
}

// How many puts are in flight while seeding a bucket from its file.
const SEED_WINDOW = 256;
// A refusal past the bound is logged on the first one and then every this many.
const LOG_EVERY = 1_000;

/**
 * An in-memory copy of one reference table held in a NATS KV bucket (key = id, value = JSON object
 * of columns), kept current by a KV watch: puts and deletes apply live. Bounded by `maxEntries`.
 */
export class ReferenceTable implements Lookup {
  readonly table: string;
  readonly bucket: string;
  readonly #rows = new Map<string, ReferenceRow>();
  readonly #maxEntries: number;
  readonly #logger: Logger;
  #watch: QueuedIterator<KvWatchEntry> | undefined;
  #loop: Promise<void> = Promise.resolve();
  #refused = 0;
  #closed = false;

  private constructor(options: ReferenceTableOptions) {
    this.table = options.table;
    this.bucket = options.bucket;
    this.#maxEntries = options.maxEntries;
    this.#logger = options.logger;
  }

  /**
   * Opens (creating when needed) the table's bucket, seeds it from `seedFile` when it is empty,
   * and resolves once every entry present at start is in memory. Throws {@link EnrichmentError}
   * (TOO_MANY_REFERENCE_ENTRIES) when the table is larger than `maxEntries`.
   */
  static async open(nc: NatsConnection, options: ReferenceTableOptions): Promise<ReferenceTable> {
    const kv = await new Kvm(nc).create(options.bucket, {
      replicas: options.replicas,
      history: 1,
      description: `Inlet reference table "${options.table}": key = id, value = JSON object of columns`,
    });
    if (options.seedFile !== undefined && (await kv.status()).values === 0) {
      await seed(kv, options.seedFile, options);
    }
    const table = new ReferenceTable(options);
    try {
      await table.#start(kv);
    } catch (error) {
      await table.close();
      throw error;
    }
    return table;
  }

  /** The row under `key`, or undefined on a miss. */
  get(key: string): ReferenceRow | undefined {
    return this.#rows.get(key);
  }

  /** Entries held in memory. */
  get size(): number {
    return this.#rows.size;
  }

  /** Stops the watch; lookups keep answering from the last state. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watch?.stop();
    await this.#loop;
  }

  async #start(kv: KV): Promise<void> {
    // The watch flags the entries present when it starts (isUpdate false); an empty bucket has none.
    const empty = (await kv.status()).values === 0;
    const watch = await kv.watch();
    this.#watch = watch;
    const { promise: loaded, resolve, reject } = Promise.withResolvers<void>();
    let initial = !empty;
    if (!initial) resolve();
    this.#loop = (async () => {
      try {
        for await (const entry of watch) {
          if (!this.#apply(entry, initial)) {
            reject(this.#tooMany());
            return;
          }
          if (initial && entry.isUpdate) {
            initial = false;
            resolve();
          }
        }
        if (!this.#closed)
          this.#logger.error({ table: this.table, bucket: this.bucket }, "reference watch ended");
      } catch (error) {
        reject(error);
        if (!this.#closed) this.#logger.error({ err: error, table: this.table }, "reference watch failed");
      } finally {
        // Settles the start if the watch ended before the initial load did.
        reject(
          new EnrichmentError(
            `reference table "${this.table}": watch ended during the initial load`,
            EnrichmentErrorCode.InvalidReference,
          ),
        );
      }
    })();
    await loaded;
  }

  // Applies one KV change; returns false when the initial load would pass the bound.
  #apply(entry: KvWatchEntry, initial: boolean): boolean {
    const key = entry.key;
    if (entry.operation !== "PUT") {
      this.#rows.delete(key);
      return true;
    }
    let row: unknown;
    try {
      row = entry.json();
    } catch {
      row = undefined;
    }
    if (!isRow(row)) {
      this.#rows.delete(key);
      this.#logger.warn(
        { table: this.table, key, revision: entry.revision },
        "reference value is not a json object, key ignored",
      );
      return true;
    }
    if (!this.#rows.has(key) && this.#rows.size >= this.#maxEntries) {
      if (initial) return false;
      this.#refused++;
      if (this.#refused % LOG_EVERY === 1) {
        this.#logger.error(
          { table: this.table, key, maxEntries: this.#maxEntries, refused: this.#refused },
          "reference table full, new key ignored",
        );
      }
      return true;
    }
    this.#rows.set(key, row);
    return true;
  }

  #tooMany(): EnrichmentError {
    return new EnrichmentError(
      `reference table "${this.table}" (bucket ${this.bucket}) holds more than ${this.#maxEntries} entries: raise INLET_ENRICHER_MAX_REFERENCE_ENTRIES (and the heap cap with it, see the README) or shrink the table`,
      EnrichmentErrorCode.TooManyEntries,
    );
  }
}

// Loads the file into an empty bucket. `create` never overwrites a value someone put meanwhile.
async function seed(kv: KV, file: string, options: ReferenceTableOptions): Promise<void> {
  const entries = await readReferenceFile(file);
  if (entries.length > options.maxEntries) {
    throw new EnrichmentError(
      `${file}: ${entries.length} entries, more than INLET_ENRICHER_MAX_REFERENCE_ENTRIES (${options.maxEntries})`,
      EnrichmentErrorCode.TooManyEntries,
    );
  }
  for (let i = 0; i < entries.length; i += SEED_WINDOW) {
    const window = entries.slice(i, i + SEED_WINDOW);
    await Promise.all(
      window.map(([key, row]) =>
        kv.create(key, JSON.stringify(row)).catch(async (error: unknown) => {
          // Only "already there" is fine: someone else seeded or maintained it first.
          if ((await kv.get(key))?.operation !== "PUT") throw error;
        }),
      ),
    );
  }
  options.logger.info(
    { table: options.table, bucket: options.bucket, entries: entries.length, file },
    "reference table seeded",
  );
}
