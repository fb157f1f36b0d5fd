import { test } from "vitest";
import { type NatsServer, startNatsServer } from "./nats-server.js";
import { type PostgresServer, startPostgres } from "./postgres.js";
import { type PubSubEmulator, startPubSubEmulator } from "./pubsub-emulator.js";

/**
 * Vitest `test` (import from `@inlet/testing/vitest`, since vitest can only be loaded inside a run)
 * with a `nats` fixture: one real nats-server (JetStream on) per worker, shared by the worker's
 * tests and stopped when the worker ends. Give each test its own stream names.
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

/**
 * {@link natsTest} with a `pubsub` fixture too: one real Pub/Sub emulator per worker, started by the
 * first test that asks for it. Give each test its own topics and subscriptions.
 */
export const pubsubTest = natsTest.extend<{ pubsub: PubSubEmulator }>({
  pubsub: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const emulator = await startPubSubEmulator();
      try {
        await use(emulator);
      } finally {
        await emulator.stop();
      }
    },
    { scope: "worker" },
  ],
});

/**
 * {@link natsTest} with a `postgres` fixture too: one throwaway PostgreSQL cluster per worker
 * (`wal_level=logical`), started by the first test that asks for it. Give each test its own tables,
 * publications and replication slots.
 */
export const postgresTest = natsTest.extend<{ postgres: PostgresServer }>({
  postgres: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const server = await startPostgres();
      try {
        await use(server);
      } finally {
        await server.stop();
      }
    },
    { scope: "worker" },
  ],
});
