import { describe, expect, it } from "vitest";
import { ByteArena } from "./byte-arena.js";

describe("ByteArena", () => {
  it("appends bytes and text back to back, growing and keeping what it holds", () => {
    const arena = new ByteArena(1);
    const source = Buffer.from("xxhello");
    const texts = ["plain", "é😀", "a\ud800b", "long ".repeat(300)];
    const at = [arena.appendBytes(source, 2, 5)];
    const lengths = [5];
    for (const t of texts) {
      const start = arena.appendString(t);
      at.push(start);
      lengths.push(arena.used - start);
    }
    expect(arena.bytes.length).toBeGreaterThanOrEqual(arena.used);
    const read = at.map((a, i) => arena.bytes.toString("utf8", a, a + lengths[i]!));
    expect(read).toEqual(["hello", "plain", "é😀", "a\ufffdb", "long ".repeat(300)]);
    arena.used = at[2]!; // give the tail up
    arena.appendBytes(source, 0, 2);
    expect(arena.bytes.toString("utf8", 0, arena.used)).toBe("helloplainxx");
  });
});
