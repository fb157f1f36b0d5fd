import { describe, expect, it } from "vitest";
import { Semaphore } from "./semaphore.js";

describe("Semaphore", () => {
  it("lets at most `limit` holders in, the rest in arrival order", async () => {
    const sem = new Semaphore(2);
    const order: number[] = [];
    await sem.acquire();
    await sem.acquire();
    const waiting = [3, 4].map((n) => sem.acquire().then(() => order.push(n)));
    expect(sem.held).toBe(2);
    sem.release();
    await waiting[0];
    sem.release();
    await waiting[1];
    expect(order).toEqual([3, 4]);
    expect(sem.held).toBe(2);
  });

  it("resolves idle() when the last holder leaves", async () => {
    const sem = new Semaphore(3);
    await sem.acquire();
    await sem.acquire();
    let idle = false;
    const done = sem.idle().then(() => {
      idle = true;
    });
    sem.release();
    await Promise.resolve();
    expect(idle).toBe(false);
    sem.release();
    await done;
    expect(idle).toBe(true);
  });

  it("refuses a limit below 1", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
