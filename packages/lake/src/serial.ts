/**
 * Runs tasks one at a time, in the order they are given: each starts once every task given before
 * it has settled, whether it resolved or rejected.
 */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after the tasks given before it; settles as `task` does. */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Resolves once every task given so far has settled; never rejects. */
  idle(): Promise<void> {
    return this.#tail.then(() => {});
  }
}
