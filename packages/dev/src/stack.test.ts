import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { findRepoRoot } from "@inlet/testing";
import { describe, expect, it } from "vitest";
import { ALL_SERVICES, natsLaunchEnv, serviceLaunchEnv, serviceNodeFlags } from "./stack.js";

const root = findRepoRoot() ?? "";

// The dev stack and the bench start each service as its own `start` script and image do; these
// read the three and compare, so a heap or allocator setting cannot change in one place only.
describe("service launch settings", () => {
  it.each(ALL_SERVICES)("%s: the start script runs the same flags and environment", (name) => {
    const pkg = JSON.parse(readFileSync(join(root, "apps", name, "package.json"), "utf8")) as {
      scripts: { start: string };
    };
    const env = Object.entries(serviceLaunchEnv(name)).map(([k, v]) => `${k}=${v}`);
    const expected = [...env, "node", ...serviceNodeFlags(name), "dist/main.js"];
    expect(pkg.scripts.start.split(/\s+/).sort()).toEqual(expected.sort());
  });

  it.each(ALL_SERVICES)("%s: the image runs the same flags and environment", (name) => {
    const dockerfile = readFileSync(join(root, "apps", name, "Dockerfile"), "utf8");
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd ?? "[]")).toEqual(["node", ...serviceNodeFlags(name), "dist/main.js"]);
    // The runtime stage's ENV (continued lines) sets each allocator variable to the same value.
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    for (const [key, value] of Object.entries(serviceLaunchEnv(name))) {
      expect(runtime).toMatch(
        new RegExp(`^\\s*(?:ENV )?${key}=${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?: \\\\)?$`, "m"),
      );
    }
  });
});

describe("natsLaunchEnv", () => {
  it("sizes Go's scheduler to half the cores, at least one", () => {
    const procs = Number(natsLaunchEnv({}).GOMAXPROCS);
    expect(procs).toBe(Math.max(1, Math.floor(availableParallelism() / 2)));
  });

  it("leaves a GOMAXPROCS the environment sets", () => {
    expect(natsLaunchEnv({ GOMAXPROCS: "3" })).toEqual({});
  });
});
