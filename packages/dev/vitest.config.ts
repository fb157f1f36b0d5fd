import { defineProject } from "vitest/config";

// Unit tests only; the end-to-end suite (*.e2e.test.ts) runs on its own: vitest.e2e.config.ts.
export default defineProject({
  test: {
    name: "dev",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/**/*.e2e.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
