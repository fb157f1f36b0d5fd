import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/** The KV bucket where the lake-writer says how far it has copied the DLQ into the lake. */
export const DEAD_LETTER_PROGRESS_BUCKET = "inlet_dead_letters";

const ARCHIVED_KEY = "archived_seq";

/** {@link DEAD_LETTER_PROGRESS_BUCKET} under a test prefix, as stream names are (`<prefix>_<name>`). */
export function deadLetterProgressBucket(prefix = ""): string {
  return prefix === "" ? DEAD_LETTER_PROGRESS_BUCKET : `${prefix}_${DEAD_LETTER_PROGRESS_BUCKET}`;
}

/** Options of {@link DeadLetterProgress.create} and {@link DeadLetterProgress.open}. */
export interface DeadLetterProgressOptions {
  /** Stream and bucket prefix, so tests can share a server (default: none). */
  prefix?: string;
  /** Replicas of the bucket when it is created (default 1). */
  replicas?: number;
}

/**
 * How far the dead letters have been copied into the lake's `dead_letters` table: the DLQ stream
 * sequence of the last one committed (docs/contracts.md, "Dead letters"). The table's own Delta txn
 * is the truth; this is its announcement on the bus, for whoever must not take a letter out of the
 * DLQ before the lake has it (`inlet dlq replay`). It may lag the table, never lead it.
 */
export class DeadLetterProgress {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Opens the bucket, creating it when it does not exist yet (the archive's side). */
  static async create(
    nc: NatsConnection,
    options: DeadLetterProgressOptions = {},
  ): Promise<DeadLetterProgress> {
    const kv = await new Kvm(nc).create(deadLetterProgressBucket(options.prefix), {
      replicas: options.replicas ?? 1,
      history: 1,
      description: "Inlet: the DLQ sequence the lake's dead_letters table holds every dead letter up to",
    });
    return new DeadLetterProgress(kv);
  }

  /** Opens the bucket; undefined when it does not exist (no archive has ever run). */
  static async open(
    nc: NatsConnection,
    options: DeadLetterProgressOptions = {},
  ): Promise<DeadLetterProgress | undefined> {
    try {
      const kv = await new Kvm(nc).open(deadLetterProgressBucket(options.prefix));
      await kv.status(); // `open` does not look: this throws when the bucket is missing
      return new DeadLetterProgress(kv);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw err;
    }
  }

  /** The DLQ sequence the table holds every dead letter up to (0: none yet). */
  async archivedSeq(): Promise<number> {
    const entry = await this.#kv.get(ARCHIVED_KEY);
    const seq = Number(entry?.string() ?? "0");
    return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
  }

  /** Announces that the table holds every dead letter up to `seq`. */
  async recordArchived(seq: number): Promise<void> {
    await this.#kv.put(ARCHIVED_KEY, String(seq));
  }
}
