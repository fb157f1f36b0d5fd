import { test } from "vitest";
import { type NatsServer, startNatsServer } from "./nats-server.js";

/**
 * Vitest `test` (import from `@inlet/testing/vitest`, since vitest can only be loaded inside a run) with a `nats` fixture: one real nats-server (JetStream on) per worker, shared by
 * the worker's tests and stopped when the worker ends. Give each test its own stream names.
 */
export const natsTest = test.extend<{ nats: NatsServer }>({
  nats: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const server = await startNatsServer();
      try {
        await use(server);
      } finally {
        await server.stop();
      }
    },
    { scope: "worker" },
  ],
});
