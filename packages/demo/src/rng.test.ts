import { describe, expect, it } from "vitest";
import { createRng } from "./rng.js";

describe("createRng", () => {
  it("repeats its sequence for the same seed and differs for another", () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it("stays in range", () => {
    const rng = createRng(7);
    for (let i = 0; i < 10_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      const n = rng.int(3, 5);
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true);
    }
  });

  it("hits every integer of a range about equally often", () => {
    const rng = createRng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[rng.int(0, 3)]! += 1;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it("draws weighted keys in proportion", () => {
    const rng = createRng(3);
    let heavy = 0;
    for (let i = 0; i < 10_000; i++) if (rng.weighted({ heavy: 9, light: 1 }) === "heavy") heavy++;
    expect(heavy).toBeGreaterThan(8_700);
    expect(heavy).toBeLessThan(9_300);
  });

  it("draws normal values around the mean", () => {
    const rng = createRng(5);
    const values = Array.from({ length: 20_000 }, () => rng.normal(21, 3));
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    expect(mean).toBeCloseTo(21, 0);
    expect(sd).toBeCloseTo(3, 0);
  });

  it("makes hex strings of the asked length", () => {
    const rng = createRng(9);
    expect(rng.hex(24)).toMatch(/^[0-9a-f]{24}$/);
    expect(rng.hex(5)).toMatch(/^[0-9a-f]{5}$/);
  });

  it("refuses to pick from nothing", () => {
    expect(() => createRng(1).pick([])).toThrow(RangeError);
  });
});
