import { describe, expect, it } from "vitest";
import { FlushReason, MicroBatch } from "./micro-batch.js";

const bounds = { maxRows: 100, maxBytes: 1_000, maxFrames: 3, maxAgeMs: 5_000 };

describe("MicroBatch", () => {
  it("is never due while empty", () => {
    const batch = new MicroBatch<string, string>(bounds);
    expect(batch.due(1_000_000)).toBeUndefined();
    expect(batch.age(1_000_000)).toBe(0);
    expect(batch.maxSeq).toBe(0);
  });

  it("is due by rows once the row bound is reached", () => {
    const batch = new MicroBatch<string, string>(bounds);
    batch.add(1, "m1", "f1", 60, 10, 0);
    expect(batch.due(0)).toBeUndefined();
    batch.add(2, "m2", "f2", 40, 10, 0);
    expect(batch.due(0)).toBe(FlushReason.Rows);
    expect(batch.full()).toBe(true);
  });

  it("is due by bytes once the payload bound is reached", () => {
    const batch = new MicroBatch<string, string>(bounds);
    batch.add(1, "m1", "f1", 1, 999, 0);
    expect(batch.due(0)).toBeUndefined();
    batch.add(2, "m2", "f2", 1, 1, 0);
    expect(batch.due(0)).toBe(FlushReason.Bytes);
  });

  it("is due by frames once as many frames wait as the bound allows", () => {
    const batch = new MicroBatch<string, string>(bounds);
    batch.add(1, "m1", "f1", 1, 1, 0);
    batch.add(2, "m2", "f2", 1, 1, 0);
    expect(batch.due(0)).toBeUndefined();
    batch.add(3, "m3", "f3", 1, 1, 0);
    expect(batch.due(0)).toBe(FlushReason.Frames);
    expect(batch.full()).toBe(true);
  });

  it("is due by interval when its oldest frame is older than the flush interval", () => {
    const batch = new MicroBatch<string, string>(bounds);
    batch.add(1, "m1", "f1", 1, 1, 10_000);
    batch.add(2, "m2", "f2", 1, 1, 14_000);
    expect(batch.due(14_999)).toBeUndefined();
    expect(batch.age(14_999)).toBe(4_999);
    expect(batch.due(15_000)).toBe(FlushReason.Interval);
    expect(batch.full()).toBe(false);
  });

  it("prefers the size reason over the interval when both hold", () => {
    const batch = new MicroBatch<string, string>(bounds);
    batch.add(1, "m1", "f1", 100, 1, 0);
    expect(batch.due(60_000)).toBe(FlushReason.Rows);
  });

  it("keeps a redelivered frame once and swaps in its newest message", () => {
    const batch = new MicroBatch<string, string>(bounds);
    expect(batch.add(7, "first delivery", "f7", 10, 100, 0)).toBe(true);
    expect(batch.add(7, "second delivery", "f7 again", 10, 100, 1)).toBe(false);
    expect(batch.frames).toBe(1);
    expect(batch.rows).toBe(10);
    expect(batch.bytes).toBe(100);
    expect([...batch]).toEqual([{ seq: 7, message: "second delivery", item: "f7" }]);
  });

  it("swaps in a redelivery only for a buffered sequence", () => {
    const batch = new MicroBatch<string, string>(bounds);
    expect(batch.swap(3, "m3")).toBe(false);
    batch.add(3, "m3", "f3", 1, 1, 0);
    expect(batch.swap(3, "m3 again")).toBe(true);
    expect([...batch].map((e) => e.message)).toEqual(["m3 again"]);
  });

  it("tracks the highest sequence whatever the arrival order", () => {
    const batch = new MicroBatch<string, string>(bounds);
    batch.add(9, "m9", "f9", 1, 1, 0);
    batch.add(4, "m4", "f4", 1, 1, 0);
    expect(batch.maxSeq).toBe(9);
    expect(batch.has(4)).toBe(true);
    expect(batch.has(5)).toBe(false);
    expect([...batch].map((e) => e.seq)).toEqual([9, 4]);
  });
});
