import { describe, expect, it } from "vitest";
import { MAX_CELL_WIDTH, renderTable } from "./table.js";

describe("renderTable", () => {
  it("draws a box with centered headers, right-aligned numbers and left-aligned text", () => {
    const text = renderTable(
      [
        { name: "id", type: "BIGINT" },
        { name: "page", type: "VARCHAR" },
      ],
      [
        ["1", "/home"],
        ["1234", null],
      ],
    );
    const lines = text.trimEnd().split("\n");
    expect(lines).toEqual([
      "┌────────┬─────────┐",
      "│   id   │  page   │",
      "│ bigint │ varchar │",
      "├────────┼─────────┤",
      "│      1 │ /home   │",
      "│   1234 │ NULL    │",
      "└────────┴─────────┘",
    ]);
  });

  it("escapes line breaks and cuts long values so rows stay on one line", () => {
    const long = "x".repeat(MAX_CELL_WIDTH + 10);
    const lines = renderTable([{ name: "v", type: "VARCHAR" }], [["a\nb"], [long]])
      .trimEnd()
      .split("\n");
    expect(lines[4]).toContain("a\\nb");
    expect(lines[5]).toContain(`${"x".repeat(MAX_CELL_WIDTH - 1)}…`);
    expect(lines).toHaveLength(7);
  });

  it("draws only the header for an empty result", () => {
    const lines = renderTable([{ name: "n", type: "INTEGER" }], [])
      .trimEnd()
      .split("\n");
    expect(lines).toEqual(["┌─────────┐", "│    n    │", "│ integer │", "├─────────┤", "└─────────┘"]);
  });
});
