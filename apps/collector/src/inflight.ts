/**
 * Counts the events being validated and published across all requests, so memory stays bounded:
 * a request that would go over the limit is refused (backpressure), never queued.
 */
export class InflightLimiter {
  #inflight = 0;

  /** `max`: most events in flight at once. */
  constructor(readonly max: number) {}

  /** Events in flight now. */
  get inflight(): number {
    return this.#inflight;
  }

  /** True when no more events fit right now. */
  get full(): boolean {
    return this.#inflight >= this.max;
  }

  /** Reserves room for `count` events; false (nothing reserved) when they do not fit. */
  tryAcquire(count: number): boolean {
    if (this.#inflight + count > this.max) return false;
    this.#inflight += count;
    return true;
  }

  /** Gives back room reserved by {@link tryAcquire}. */
  release(count: number): void {
    this.#inflight = Math.max(0, this.#inflight - count);
  }
}
