import { defineConfig } from "vitest/config";

// Unit tests (src/**/*.test.ts) and integration tests against real servers (test/**/*.int.test.ts)
// of every package and app. The end-to-end suite runs separately: vitest.e2e.config.ts.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*"],
  },
});
