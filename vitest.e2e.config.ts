import { defineConfig } from "vitest/config";

// The end-to-end suite: a real nats-server and the five services as separate processes. It runs
// after the other tests, alone, so the services have the machine's two cores to themselves.
export default defineConfig({
  test: {
    name: "e2e",
    root: "packages/dev",
    include: ["test/**/*.e2e.test.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
