import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { FrameInbox } from "./frame-inbox.js";

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

// Handling gives the event loop back this often, so socket reads and timers never wait long.
const YIELD_AFTER_MS = 10;

/**
 * Pulls frames from a durable consumer into a {@link FrameInbox} and hands each to `handle`, in
 * order. {@link PullLoop.stop} lets the fetch in progress end and handles every frame it brought,
 * so none is left waiting for redelivery.
 */
export class PullLoop {
  readonly #options: PullLoopOptions;
  readonly #inbox: FrameInbox;
  readonly #done: Promise<void>;
  #wakeHandler: (() => void) | undefined;

  constructor(consumer: Consumer, options: PullLoopOptions) {
    this.#options = options;
    this.#inbox = new FrameInbox(consumer, {
      maxMessages: options.maxMessages,
      expiresMs: options.expiresMs,
      room: () => options.maxInboxBytes - this.#inbox.bytes,
      capacity: options.maxInboxBytes,
      onFrame: () => this.#wakeHandler?.(),
      onFetchError: (err) => options.onError(err),
    });
    this.#inbox.start();
    this.#done = this.#handleAll();
  }

  /** Frames fetched and not handled yet: delivered to this loop, so pending on the server. */
  get inboxFrames(): number {
    return this.#inbox.frames;
  }

  /** Lets the fetch in progress finish, handles everything fetched, then resolves. */
  async stop(): Promise<void> {
    await this.#inbox.stop();
    this.#wakeHandler?.();
    await this.#done;
  }

  async #handleAll(): Promise<void> {
    const { handle, onError } = this.#options;
    const inbox = this.#inbox;
    let yieldedAt = performance.now();
    for (;;) {
      const msg = inbox.take();
      if (msg === undefined) {
        if (inbox.pulled) return;
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
        inbox.release(msg);
      }
      if (performance.now() - yieldedAt >= YIELD_AFTER_MS) {
        await yieldToEventLoop();
        yieldedAt = performance.now();
      }
    }
  }
}
