import { describe, expect, it } from "vitest";
import { LogTail } from "./log-tail.js";

describe("LogTail", () => {
  it("keeps only the last lines", () => {
    const tail = new LogTail(3);
    tail.write("a\nb\nc\nd\ne\n");
    expect(tail.text()).toBe("c\nd\ne");
  });

  it("joins a line split across chunks", () => {
    const tail = new LogTail();
    tail.write("hel");
    tail.write(Buffer.from("lo\nwor"));
    expect(tail.text()).toBe("hello\nwor");
    tail.write("ld\n");
    expect(tail.text()).toBe("hello\nworld");
  });

  it("cuts a runaway line", () => {
    const tail = new LogTail();
    tail.write(`${"x".repeat(10_000)}\n`);
    expect(tail.text().length).toBeLessThan(5_000);
  });
});
