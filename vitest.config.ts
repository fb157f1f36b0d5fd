import { defineConfig } from "vitest/config";

// One run over every package and app. Unit tests live beside the code (src/**/*.test.ts);
// integration tests against real servers live in test/**/*.int.test.ts; the end-to-end suite
// (real nats-server + the five services as processes) is its own project so it runs alone.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "test/e2e"],
  },
});
