import { setTimeout as sleep } from "node:timers/promises";

/** Options of {@link waitFor}: give up after `timeoutMs` (default 10 s), poll every `intervalMs` (default 50 ms). */
export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was awaited, shown in the timeout error. */
  message?: string;
}

/** Thrown by {@link waitFor} when the condition did not hold in time. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  readonly code = "WAIT_TIMEOUT";
}

/**
 * Polls `predicate` until it returns a truthy value and resolves with that value. A predicate that
 * throws counts as "not yet"; the last error becomes the timeout error's cause.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 50, message = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${message}`, {
        cause: lastError,
      });
    }
    await sleep(intervalMs);
  }
}
