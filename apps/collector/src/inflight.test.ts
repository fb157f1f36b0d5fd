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

  it("refuses a request whose body bytes would go over the byte limit, whatever its event count", () => {
    const limiter = new InflightLimiter(1_000, 100);
    expect(limiter.tryAcquire(1, 80)).toBe(true);
    expect(limiter.tryAcquire(1, 30)).toBe(false);
    expect(limiter.inflightBytes).toBe(80);
    expect(limiter.tryAcquire(1, 20)).toBe(true);
    expect(limiter.full).toBe(true);
    expect(limiter.refusal).toBe(
      "the collector has 2 events (100 bytes) in flight, its limits are 1000 events and 100 bytes: retry shortly",
    );
    limiter.release(1, 80);
    expect(limiter.full).toBe(false);
    expect(limiter.tryAcquire(1, 80)).toBe(true);
  });
});
