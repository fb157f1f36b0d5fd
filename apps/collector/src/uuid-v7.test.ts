import { validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import { UuidV7Generator } from "./uuid-v7.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix ms timestamp in an id's first 48 bits. */
function timestampOf(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

describe("UuidV7Generator", () => {
  it("makes valid RFC 9562 version 7 ids carrying the clock's millisecond", () => {
    const ms = Date.UTC(2026, 10, 24, 10, 0, 0, 123);
    const ids = new UuidV7Generator(() => ms);
    for (let i = 0; i < 100; i++) {
      const id = ids.next();
      expect(id).toMatch(UUID_V7);
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
      expect(timestampOf(id)).toBe(ms);
    }
  });

  it("keeps ids increasing and distinct while the clock stands still, across pool refills", () => {
    const ids = new UuidV7Generator(() => 1_764_000_000_000);
    let previous = ids.next();
    const seen = new Set([previous]);
    // 20,000 ids take three refills of the 64 KiB random pool.
    for (let i = 0; i < 20_000; i++) {
      const id = ids.next();
      expect(id > previous).toBe(true);
      seen.add(id);
      previous = id;
    }
    expect(seen.size).toBe(20_001);
  });

  it("keeps ids increasing when the clock steps back", () => {
    let now = 1_764_000_000_500;
    const ids = new UuidV7Generator(() => now);
    const before = ids.next();
    now -= 400;
    const after = ids.next();
    expect(after > before).toBe(true);
    expect(timestampOf(after)).toBe(1_764_000_000_500);
    now += 1_000;
    expect(timestampOf(ids.next())).toBe(1_764_000_001_100);
  });

  it("orders ids of later milliseconds after earlier ones", () => {
    let now = 1_764_000_000_000;
    const ids = new UuidV7Generator(() => now);
    const list = Array.from({ length: 50 }, () => {
      now += 1;
      return ids.next();
    });
    expect([...list].sort()).toEqual(list);
  });

  it("draws fresh random bits for every id", () => {
    const ids = new UuidV7Generator(() => 1_764_000_000_000);
    const tails = new Set(Array.from({ length: 1_000 }, () => ids.next().slice(-10)));
    expect(tails.size).toBe(1_000);
  });
});
