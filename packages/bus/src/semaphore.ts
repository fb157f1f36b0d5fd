/**
 * At most `limit` holders at a time; the rest wait in order. Used to bound in-flight work (handlers,
 * publishes). A few lines here read faster than a dependency.
 */
export class Semaphore {
  readonly limit: number;
  #held = 0;
  readonly #waiting: Array<() => void> = [];
  readonly #idle: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`semaphore limit must be >= 1, got ${limit}`);
    this.limit = limit;
  }

  /** How many holders there are now. */
  get held(): number {
    return this.#held;
  }

  /** Resolves when a slot is free and taken; call {@link Semaphore.release} once when done. */
  acquire(): Promise<void> {
    if (this.#held < this.limit) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Frees a slot, handing it to the next waiter. */
  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) {
      next();
      return;
    }
    this.#held--;
    if (this.#held === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves when nothing holds a slot. */
  idle(): Promise<void> {
    if (this.#held === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
