/**
 * Counts the events and request-body bytes being validated and published across all requests, so
 * memory stays bounded: a request that would go over either limit is refused (backpressure), never
 * queued. Bytes bound what events alone cannot: a few large events hold as much as many small ones.
 */
export class InflightLimiter {
  #events = 0;
  #bytes = 0;

  /** `max`: most events in flight at once; `maxBytes`: most body bytes in flight at once. */
  constructor(
    readonly max: number,
    readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Events in flight now. */
  get inflight(): number {
    return this.#events;
  }

  /** Body bytes in flight now. */
  get inflightBytes(): number {
    return this.#bytes;
  }

  /** True when no more requests fit right now. */
  get full(): boolean {
    return this.#events >= this.max || this.#bytes >= this.maxBytes;
  }

  /** Why a request is refused now, for its 503 answer. */
  get refusal(): string {
    const limits = Number.isFinite(this.maxBytes)
      ? `${this.max} events and ${this.maxBytes} bytes`
      : `${this.max} events`;
    return `the collector has ${this.#events} events (${this.#bytes} bytes) in flight, its limits are ${limits}: retry shortly`;
  }

  /** Reserves room for `count` events of `bytes` body bytes; false (nothing reserved) when they do not fit. */
  tryAcquire(count: number, bytes = 0): boolean {
    if (this.#events + count > this.max || this.#bytes + bytes > this.maxBytes) return false;
    this.#events += count;
    this.#bytes += bytes;
    return true;
  }

  /** Gives back room reserved by {@link tryAcquire}. */
  release(count: number, bytes = 0): void {
    this.#events = Math.max(0, this.#events - count);
    this.#bytes = Math.max(0, this.#bytes - bytes);
  }
}
