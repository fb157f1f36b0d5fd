import { describe, expect, it } from "vitest";
import { Serial } from "./serial.js";

describe("Serial", () => {
  it("runs tasks one at a time in the order given, a failure not stopping the next", async () => {
    const serial = new Serial();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = serial.run(async () => {
      log.push("first start");
      await gate;
      log.push("first end");
      return 1;
    });
    const second = serial.run(() => {
      log.push("second");
      throw new Error("boom");
    });
    const third = serial.run(() => {
      log.push("third");
      return 3;
    });
    const idle = serial.idle();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(log).toEqual(["first start"]);
    release();
    expect(await first).toBe(1);
    await expect(second).rejects.toThrow("boom");
    expect(await third).toBe(3);
    await idle;
    expect(log).toEqual(["first start", "first end", "second", "third"]);
  });
});
