import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("../../scripts/gen-types.mjs", import.meta.url));

describe("generated dataset types", () => {
  it("are up to date with config/datasets (run `pnpm --filter @inlet/schema gen` if not)", () => {
    const run = spawnSync(process.execPath, [script, "--check"], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});
