import type { Consumer, JsMsg } from "@nats-io/jetstream";

/** Options of {@link FrameInbox}. */
export interface FrameInboxOptions {
  /** Frames asked for per fetch. */
  readonly maxMessages: number;
  /** How long one fetch waits for frames, ms (at least 1000, a nats.js rule). */
  readonly expiresMs: number;
  /**
   * Bytes that may still be fetched: what the owner's memory bound leaves. A fetch asks for no
   * more frames than fit (each counted as the largest frame seen), and for one when the room is
   * positive and the inbox empty; none while the room is gone.
   */
  readonly room: () => number;
  /**
   * What {@link room} gives when nothing is held, bytes. While the inbox holds frames, a fetch
   * waits until half of it is free, so frames come in few large fetches rather than one fetch per
   * frame released.
   */
  readonly capacity: number;
  /** A frame arrived in the inbox. */
  readonly onFrame?: () => void;
  /** A fetch failed (server away, consumer missing): the puller waits and fetches again. */
  readonly onFetchError: (err: unknown) => void;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
// What a frame is assumed to weigh until one is seen: NATS's default max payload.
const FIRST_FRAME_BYTES = 1024 * 1024;
// Most bytes one fetch asks for. The server pushes a fetch's frames at once and drops a client
// (slow consumer) holding more than 64 MiB unread: every fetch on the connection must stay well
// under that while the event loop is busy.
const MAX_FETCH_BYTES = 8 * 1024 * 1024;

/**
 * Fetches frames from a durable consumer into a bounded inbox. The puller never waits inside a
 * fetch for whoever takes the frames, so the server's pull heartbeats are always read however
 * long handling takes. Fetches (rather than a continuous `consume`) so that stopping loses nothing
 * in transit: {@link FrameInbox.stop} lets the fetch in progress end (at most `expiresMs`), and
 * what it brought stays in the inbox to be taken.
 */
export class FrameInbox {
  readonly #consumer: Consumer;
  readonly #o: FrameInboxOptions;
  readonly #frames: JsMsg[] = [];
  #pulling: Promise<void> | undefined;
  #bytes = 0;
  #largestFrame = 0;
  #stopping = false;
  #pulled = false;
  #wakePuller: (() => void) | undefined;

  constructor(consumer: Consumer, options: FrameInboxOptions) {
    this.#consumer = consumer;
    this.#o = options;
  }

  /** Starts fetching. */
  start(): void {
    this.#pulling ??= this.#pull().finally(() => {
      this.#pulled = true;
    });
  }

  /** Frames fetched and not released yet: delivered here, so pending on the server. */
  get frames(): number {
    return this.#frames.length;
  }

  /** Bytes of the frames fetched and not released yet. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True once pulling stopped: the inbox only empties from then on. */
  get pulled(): boolean {
    return this.#pulled;
  }

  /** The oldest frame fetched; it counts in {@link bytes} until {@link release}d. */
  take(): JsMsg | undefined {
    return this.#frames.shift();
  }

  /** A frame taken is handled (in a batch, or done with): its bytes leave the inbox's count. */
  release(msg: JsMsg): void {
    this.#bytes -= msg.data.length;
    this.wake();
  }

  /** Room may have opened (a frame released, a flush acked): the puller looks again. */
  wake(): void {
    this.#wakePuller?.();
  }

  /** Stops fetching; resolves when the fetch in progress has ended (its frames are in the inbox). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.wake();
    if (this.#pulling === undefined) this.#pulled = true;
    await this.#pulling;
  }

  async #pull(): Promise<void> {
    const { maxMessages, expiresMs, room, onFrame, onFetchError } = this.#o;
    let retryMs = FIRST_RETRY_MS;
    while (!this.#stopping) {
      const frameBytes = this.#largestFrame > 0 ? this.#largestFrame : FIRST_FRAME_BYTES;
      const bytes = room();
      let frames = Math.floor(Math.min(bytes, MAX_FETCH_BYTES) / frameBytes);
      if (frames < 1 && bytes > 0 && this.#frames.length === 0) frames = 1; // one frame, however large
      if (frames < 1 || (this.#frames.length > 0 && bytes < this.#o.capacity / 2)) {
        await this.#pause(undefined); // until room opens
        continue;
      }
      try {
        const messages = await this.#consumer.fetch({
          max_messages: Math.min(maxMessages, frames),
          expires: expiresMs,
        });
        for await (const msg of messages) {
          this.#frames.push(msg);
          this.#bytes += msg.data.length;
          if (msg.data.length > this.#largestFrame) this.#largestFrame = msg.data.length;
          onFrame?.();
        }
        retryMs = FIRST_RETRY_MS;
      } catch (err) {
        if (this.#stopping) break;
        onFetchError(err);
        await this.#pause(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  }

  // Waits `ms` (undefined: until woken) unless stop() or wake() comes first.
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
}
