import { describe, expect, it } from "vitest";
import { uniqueName } from "./unique-name.js";

describe("uniqueName", () => {
  it("gives distinct names that are valid stream names and subject tokens", () => {
    const names = new Set(Array.from({ length: 1_000 }, () => uniqueName("t")));
    expect(names.size).toBe(1_000);
    for (const name of names) expect(name).toMatch(/^t_[a-z0-9]+$/);
  });
});
