import { describe, expect, it } from "vitest";
import { InflightLimiter } from "./inflight.js";

describe("InflightLimiter", () => {
  it("admits events up to the limit and refuses a request that would go over it", () => {
    const limiter = new InflightLimiter(10);
    expect(limiter.tryAcquire(6)).toBe(true);
    expect(limiter.tryAcquire(5)).toBe(false);
    expect(limiter.inflight).toBe(6);
    expect(limiter.tryAcquire(4)).toBe(true);
    expect(limiter.full).toBe(true);
  });

  it("makes room again when events are released", () => {
    const limiter = new InflightLimiter(10);
    limiter.tryAcquire(10);
    limiter.release(7);
    expect(limiter.tryAcquire(7)).toBe(true);
    expect(limiter.inflight).toBe(10);
  });
});
