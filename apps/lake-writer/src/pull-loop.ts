import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Consumer, JsMsg } from "@nats-io/jetstream";

/** Options of {@link PullLoop}. */
export interface PullLoopOptions {
  /** Frames asked for per fetch. */
  readonly maxMessages: number;
  /** How long one fetch waits for frames, ms (at least 1000, a nats.js rule). */
  readonly expiresMs: number;
  /**
   * Most bytes of frames fetched and not yet handled. A fetch asks for no more frames than fit
   * (each counted as the largest frame seen), so a slow handler is backpressure, not growth.
   */
  readonly maxInboxBytes: number;
  /** Handles one frame; the next waits for it, so a slow handler is backpressure. */
  readonly handle: (msg: JsMsg) => void | Promise<void>;
  /**
   * Called when a fetch fails (server away, consumer missing: the loop waits and fetches again),
   * or with the frame when `handle` throws (the loop goes on with the next frame).
   */
  readonly onError: (err: unknown, msg?: JsMsg) => void;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
// What a frame is assumed to weigh until one is seen: NATS's default max payload.
const FIRST_FRAME_BYTES = 1024 * 1024;
// Most bytes one fetch asks for. The server pushes a fetch's frames at once and drops a client
// (slow consumer) holding more than 64 MiB unread: every fetch on the connection must stay well
// under that while the event loop is busy.
const MAX_FETCH_BYTES = 8 * 1024 * 1024;
// Handling gives the event loop back this often, so socket reads and timers never wait long.
const YIELD_AFTER_MS = 10;

/**
 * Pulls frames from a durable consumer and hands each to `handle`, in order. Two loops share the
 * work: the puller fetches frames into a bounded inbox and never waits inside a fetch, so the
 * server's pull heartbeats are always read however long a handler takes; the handler loop takes
 * frames from the inbox. Fetches (rather than a continuous `consume`) so that stopping loses
 * nothing in transit: {@link PullLoop.stop} lets the fetch in progress end (at most `expiresMs`)
 * and handles every frame it brought, so none is left waiting for redelivery.
 */
export class PullLoop {
  readonly #consumer: Consumer;
  readonly #options: PullLoopOptions;
  readonly #inbox: JsMsg[] = [];
  #inboxBytes = 0;
  #largestFrame = 0;
  #pulled = false;
  #stopping = false;
  #wakePuller: (() => void) | undefined;
  #wakeHandler: (() => void) | undefined;
  readonly #done: Promise<void>;

  constructor(consumer: Consumer, options: PullLoopOptions) {
    this.#consumer = consumer;
    this.#options = options;
    const pulling = this.#pull().finally(() => {
      this.#pulled = true;
      this.#wakeHandler?.();
    });
    this.#done = Promise.all([pulling, this.#handleAll()]).then(() => {});
  }

  /** Frames fetched and not handled yet: delivered to this loop, so pending on the server. */
  get inboxFrames(): number {
    return this.#inbox.length;
  }

  /** Lets the fetch in progress finish, handles everything fetched, then resolves. */
  stop(): Promise<void> {
    this.#stopping = true;
    this.#wakePuller?.();
    return this.#done;
  }

  async #pull(): Promise<void> {
    const { maxMessages, expiresMs, maxInboxBytes, onError } = this.#options;
    let retryMs = FIRST_RETRY_MS;
    while (!this.#stopping) {
      const frameBytes = this.#largestFrame > 0 ? this.#largestFrame : FIRST_FRAME_BYTES;
      const room = Math.min(maxInboxBytes - this.#inboxBytes, MAX_FETCH_BYTES);
      // One frame at least when the inbox is empty, whatever its size; none while it is full.
      const frames =
        this.#inbox.length === 0 ? Math.max(1, Math.floor(room / frameBytes)) : Math.floor(room / frameBytes);
      if (frames < 1) {
        await this.#pause(undefined); // until the handler makes room
        continue;
      }
      try {
        const messages = await this.#consumer.fetch({
          max_messages: Math.min(maxMessages, frames),
          expires: expiresMs,
        });
        for await (const msg of messages) {
          this.#inbox.push(msg);
          this.#inboxBytes += msg.data.length;
          if (msg.data.length > this.#largestFrame) this.#largestFrame = msg.data.length;
          this.#wakeHandler?.();
        }
        retryMs = FIRST_RETRY_MS;
      } catch (err) {
        if (this.#stopping) break;
        onError(err);
        await this.#pause(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  }

  // Waits `ms` (undefined: until woken) unless stop() or the handler wakes the puller first.
  async #pause(ms: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.#wakePuller = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wakePuller = undefined;
  }

  async #handleAll(): Promise<void> {
    const { handle, onError } = this.#options;
    let yieldedAt = performance.now();
    for (;;) {
      const msg = this.#inbox.shift();
      if (msg === undefined) {
        if (this.#pulled) return;
        await new Promise<void>((resolve) => {
          this.#wakeHandler = resolve;
        });
        this.#wakeHandler = undefined;
        yieldedAt = performance.now();
        continue;
      }
      try {
        await handle(msg);
      } catch (err) {
        onError(err, msg);
      } finally {
        this.#inboxBytes -= msg.data.length;
        this.#wakePuller?.();
      }
      if (performance.now() - yieldedAt >= YIELD_AFTER_MS) {
        await yieldToEventLoop();
        yieldedAt = performance.now();
      }
    }
  }
}
