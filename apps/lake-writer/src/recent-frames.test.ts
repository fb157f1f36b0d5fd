import { describe, expect, it } from "vitest";
import { RecentFrames } from "./recent-frames.js";

describe("RecentFrames", () => {
  it("knows the content ids committed within the window", () => {
    const recent = new RecentFrames(1_000, 10);
    recent.remember(["a", "b"], 0);
    expect(recent.has("a")).toBe(true);
    expect(recent.has("c")).toBe(false);
  });

  it("forgets ids older than the window at the next commit", () => {
    const recent = new RecentFrames(1_000, 10);
    recent.remember(["a"], 0);
    recent.remember(["b"], 500);
    recent.remember(["c"], 1_200);
    expect([recent.has("a"), recent.has("b"), recent.has("c")]).toEqual([false, true, true]);
  });

  it("keeps at most maxFrames ids, dropping the oldest", () => {
    const recent = new RecentFrames(60_000, 3);
    recent.remember(["a", "b", "c"], 0);
    recent.remember(["d", "e"], 1);
    expect(recent.size).toBe(3);
    expect(["a", "b", "c", "d", "e"].map((id) => recent.has(id))).toEqual([false, false, true, true, true]);
  });

  it("renews an id committed again", () => {
    const recent = new RecentFrames(1_000, 10);
    recent.remember(["a"], 0);
    recent.remember(["a"], 900);
    recent.remember(["b"], 1_500);
    expect(recent.has("a")).toBe(true);
  });
});
