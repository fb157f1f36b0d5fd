/** When a micro-batch must be flushed; whichever bound is reached first wins. */
export interface FlushBounds {
  /** Rows (events) buffered. */
  readonly maxRows: number;
  /** Payload bytes buffered. */
  readonly maxBytes: number;
  /**
   * Frames buffered. Frames wait un-acked until their flush, so with small frames the consumer's
   * max_ack_pending would stall delivery long before `maxRows`: keep this at about half of it.
   */
  readonly maxFrames: number;
  /** Age of the oldest buffered frame, in milliseconds. */
  readonly maxAgeMs: number;
}

/** Why a batch is flushed (a metric label). */
export const FlushReason = {
  Rows: "rows",
  Bytes: "bytes",
  Frames: "frames",
  Interval: "interval",
  /** A partition's rows reached the target file size. */
  File: "file",
  Stop: "stop",
} as const;

/** A {@link FlushReason} value. */
export type FlushReason = (typeof FlushReason)[keyof typeof FlushReason];

/** One buffered frame: its stream sequence, the message to ack, and what the frame became. */
export interface BatchEntry<M, I> {
  readonly seq: number;
  message: M;
  readonly item: I;
}

/**
 * The frames buffered for one flush, keyed by stream sequence (in arrival order). A frame that
 * JetStream redelivers while it is buffered is kept once: only its message (the newest delivery,
 * the one to ack) is replaced.
 */
export class MicroBatch<M, I> {
  private readonly entries = new Map<number, BatchEntry<M, I>>();
  private rowCount = 0;
  private byteCount = 0;
  private highestSeq = 0;
  private openedAt: number | undefined;

  constructor(private readonly bounds: FlushBounds) {}

  /** Frames buffered. */
  get frames(): number {
    return this.entries.size;
  }

  /** Rows buffered. */
  get rows(): number {
    return this.rowCount;
  }

  /** Payload bytes buffered. */
  get bytes(): number {
    return this.byteCount;
  }

  /** The highest stream sequence buffered (0 when empty): the version of the commit that holds it. */
  get maxSeq(): number {
    return this.highestSeq;
  }

  /** Milliseconds since the oldest buffered frame arrived (0 when empty). */
  age(now: number): number {
    return this.openedAt === undefined ? 0 : now - this.openedAt;
  }

  /** True when `seq` is buffered. */
  has(seq: number): boolean {
    return this.entries.has(seq);
  }

  /** When `seq` is buffered, takes `message` as its newest delivery and returns true. */
  swap(seq: number, message: M): boolean {
    const known = this.entries.get(seq);
    if (known === undefined) return false;
    known.message = message;
    return true;
  }

  /**
   * Buffers a frame of `rows` rows and `bytes` payload bytes received at `now` (ms). Returns false
   * (and only swaps in the newer message) when `seq` is already buffered.
   */
  add(seq: number, message: M, item: I, rows: number, bytes: number, now: number): boolean {
    const known = this.entries.get(seq);
    if (known) {
      known.message = message;
      return false;
    }
    this.entries.set(seq, { seq, message, item });
    this.rowCount += rows;
    this.byteCount += bytes;
    if (seq > this.highestSeq) this.highestSeq = seq;
    this.openedAt ??= now;
    return true;
  }

  /** The reason this batch must be flushed at `now` (ms), or undefined while it may keep growing. */
  due(now: number): FlushReason | undefined {
    if (this.entries.size === 0) return undefined;
    if (this.rowCount >= this.bounds.maxRows) return FlushReason.Rows;
    if (this.byteCount >= this.bounds.maxBytes) return FlushReason.Bytes;
    if (this.entries.size >= this.bounds.maxFrames) return FlushReason.Frames;
    if (now - (this.openedAt ?? now) >= this.bounds.maxAgeMs) return FlushReason.Interval;
    return undefined;
  }

  /** True when a size bound (rows, bytes or frames) is reached, whatever the age. */
  full(): boolean {
    return (
      this.rowCount >= this.bounds.maxRows ||
      this.byteCount >= this.bounds.maxBytes ||
      this.entries.size >= this.bounds.maxFrames
    );
  }

  /** The buffered frames in arrival order. */
  [Symbol.iterator](): IterableIterator<BatchEntry<M, I>> {
    return this.entries.values();
  }
}
