import type { Consumer, JsMsg } from "@nats-io/jetstream";

/** Options of {@link PullLoop}. */
export interface PullLoopOptions {
  /** Frames asked for per fetch. */
  readonly maxMessages: number;
  /** How long one fetch waits for frames, ms (at least 1000, a nats.js rule). */
  readonly expiresMs: number;
  /** Handles one frame; the loop waits for it, so a slow handler is backpressure. */
  readonly handle: (msg: JsMsg) => void | Promise<void>;
  /**
   * Called when a fetch fails (server away, consumer missing: the loop waits and fetches again),
   * or with the frame when `handle` throws (the loop goes on with the next frame).
   */
  readonly onError: (err: unknown, msg?: JsMsg) => void;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

/**
 * Pulls frames from a durable consumer with one fetch at a time and hands each to `handle` in
 * order. Fetches (rather than a continuous `consume`) so that stopping loses nothing in transit:
 * {@link PullLoop.stop} lets the fetch in progress end (at most `expiresMs`) and handles every
 * frame it brought, so none is left waiting for redelivery.
 */
export class PullLoop {
  readonly #consumer: Consumer;
  readonly #options: PullLoopOptions;
  readonly #done: Promise<void>;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(consumer: Consumer, options: PullLoopOptions) {
    this.#consumer = consumer;
    this.#options = options;
    this.#done = this.#run();
  }

  /** Lets the fetch in progress finish, handles what it brought, then resolves. */
  stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    return this.#done;
  }

  async #run(): Promise<void> {
    const { maxMessages, expiresMs, handle, onError } = this.#options;
    let retryMs = FIRST_RETRY_MS;
    while (!this.#stopping) {
      try {
        const messages = await this.#consumer.fetch({ max_messages: maxMessages, expires: expiresMs });
        for await (const msg of messages) {
          try {
            await handle(msg);
          } catch (err) {
            onError(err, msg);
          }
        }
        retryMs = FIRST_RETRY_MS;
      } catch (err) {
        if (this.#stopping) break;
        onError(err);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, retryMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  }
}
