import { describe, expect, it } from "vitest";
import { WaitTimeoutError, waitFor } from "./wait-for.js";

describe("waitFor", () => {
  it("resolves with the first truthy value", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `done after ${calls}` : undefined), { intervalMs: 1 });
    expect(value).toBe("done after 3");
  });

  it("treats a throwing predicate as not yet, and reports its error on timeout", async () => {
    const error = await waitFor(
      () => {
        throw new Error("not connected");
      },
      { timeoutMs: 50, intervalMs: 5, message: "the connection" },
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toContain("the connection");
    expect(((error as Error).cause as Error).message).toBe("not connected");
  });
});
