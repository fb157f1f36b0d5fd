import type { Logger } from "@inlet/telemetry";
import type { JetStreamManager } from "@nats-io/jetstream";

/** Options of {@link IngestInterest.start}. */
export interface IngestInterestOptions {
  jsm: JetStreamManager;
  /** The INGEST stream's name (`INGEST`, or `<prefix>_INGEST` in tests). */
  stream: string;
  /** How often the stream's consumer count is read again, in ms. */
  intervalMs: number;
  logger: Logger;
}

/**
 * Watches whether anyone reads the INGEST stream. It has interest retention: a frame published
 * while no consumer exists gets a PubAck and is dropped at once. The collector must not answer
 * "accepted" for that, so it refuses events (503) until a consumer exists.
 */
export class IngestInterest {
  readonly #options: IngestInterestOptions;
  #consumers = 0;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;

  private constructor(options: IngestInterestOptions) {
    this.#options = options;
  }

  /** Reads the consumer count once, then keeps reading it every `intervalMs`. */
  static async start(options: IngestInterestOptions): Promise<IngestInterest> {
    const interest = new IngestInterest(options);
    await interest.check();
    interest.#timer = setInterval(() => void interest.check(), options.intervalMs);
    interest.#timer.unref();
    return interest;
  }

  /** Why events cannot be taken now, or undefined when a consumer reads INGEST. */
  reason(): string | undefined {
    if (this.#consumers > 0) return undefined;
    return `no consumer reads stream ${this.#options.stream} yet (start the processor and the lake-writer): events would be dropped`;
  }

  /** Reads the consumer count now (a failed read keeps the last known count). */
  check(): Promise<void> {
    this.#checking ??= this.#options.jsm.streams
      .info(this.#options.stream)
      .then(
        (info) => {
          const before = this.#consumers;
          this.#consumers = info.state.consumer_count;
          if ((before === 0) !== (this.#consumers === 0)) {
            this.#options.logger.info(
              { stream: this.#options.stream, consumers: this.#consumers },
              "ingest consumers changed",
            );
          }
        },
        (err: unknown) =>
          this.#options.logger.warn({ err, stream: this.#options.stream }, "stream info failed"),
      )
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }

  /** Stops the periodic check. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
