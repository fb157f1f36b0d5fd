import { AccessTokens, accessTokenHash } from "@inlet/runtime";
import { describe, expect, it } from "vitest";
import { inlet } from "./run-inlet.js";

describe("inlet token new", () => {
  it("prints a new token once, and the entry that grants it, holding only its hash", async () => {
    const run = await inlet([
      "token",
      "new",
      "--name",
      "pos-terminals",
      "--datasets",
      "transactions,refunds",
    ]);
    expect(run.code).toBe(0);
    const token = /^ {2}(inlet_\S+)$/m.exec(run.stdout)?.[1];
    const entry = JSON.parse(/^ {2}(\{.*\})$/m.exec(run.stdout)?.[1] ?? "null");
    expect(token).toMatch(/^inlet_[A-Za-z0-9_-]{43}$/);
    expect(entry).toEqual({
      name: "pos-terminals",
      sha256: accessTokenHash(token!),
      datasets: ["transactions", "refunds"],
    });
    // The entry, as the collector reads it, grants that token and no other.
    const tokens = AccessTokens.parse(JSON.stringify([entry]), "tokens.json");
    expect(tokens.authorize(`Bearer ${token}`, "refunds").name).toBe("pos-terminals");
    expect(() => tokens.authorize(`Bearer ${token}`, "clicks")).toThrow(/does not cover dataset "clicks"/);

    const again = await inlet(["token", "new", "--name", "all", "--datasets", "*", "--format", "json"]);
    const json = JSON.parse(again.stdout) as { token: string; entry: { datasets: unknown } };
    expect(json.token).not.toBe(token);
    expect(json.entry.datasets).toBe("*");
  });

  it("refuses a missing name or datasets, and names that are not dataset names", async () => {
    for (const [args, message] of [
      [["token", "new", "--datasets", "clicks"], "token new needs --name"],
      [["token", "new", "--name", "a"], "token new needs --datasets"],
      [["token", "new", "--name", "a", "--datasets", "clicks,Bad-Name"], '"Bad-Name" is not a dataset name'],
      [["token", "old"], "token takes new"],
    ] as const) {
      const run = await inlet([...args]);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toContain(message);
    }
  });
});
