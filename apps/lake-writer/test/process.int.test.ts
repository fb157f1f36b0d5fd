import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeadLetters, DurableName, Stage, StreamName } from "@inlet/bus";
import { DEAD_LETTERS_DATASET, SCHEMA_BUCKET } from "@inlet/schema";
import { freePort, startNatsServer, startProcess, waitFor } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { Harness, testDatasets } from "./harness.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** A config directory holding the test datasets, as `loadDatasets` reads it. */
async function writeConfigDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-config-"));
  for (const dataset of testDatasets()) {
    const at = join(dir, "datasets", dataset.name);
    await mkdir(at, { recursive: true });
    await writeFile(join(at, "dataset.json"), JSON.stringify(dataset.settings));
    for (const { version, schema } of dataset.versions) {
      await writeFile(join(at, `${version}.avsc`), JSON.stringify(schema));
    }
  }
  return dir;
}

/** Starts the built lake-writer on `nats` over `harness`'s lake, and waits until it is ready. */
async function startWriterProcess(natsUrl: string, harness: Harness, configDir: string) {
  const port = await freePort();
  const child = await startProcess("lake-writer", {
    command: process.execPath,
    args: [MAIN],
    env: {
      INLET_NATS_URL: natsUrl,
      INLET_CONFIG_DIR: configDir,
      INLET_LAKE_DIR: harness.lakeDir,
      INLET_LAKE_WRITER_PORT: String(port),
      INLET_WRITER_FLUSH_MS: "200",
      INLET_LOG_LEVEL: "warn",
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  });
  await child.waitReady();
  return child;
}

describe("the lake-writer process", () => {
  natsTest("a SIGTERM mid-stream loses nothing and duplicates nothing", async () => {
    expect(existsSync(MAIN), "build the app first: pnpm --filter @inlet/lake-writer build").toBe(true);
    // Its own server: the process uses the production stream names and schema bucket.
    const nats = await startNatsServer();
    const harness = await Harness.create(nats.url, { prefix: "", bucket: SCHEMA_BUCKET });
    const configDir = await writeConfigDir();
    try {
      const start = () => startWriterProcess(nats.url, harness, configDir);

      const first = await start();
      let lastSeq = 0;
      const publishing = (async () => {
        for (let i = 0; i < 150; i++) {
          lastSeq = await harness.publishOrders(harness.orders(20));
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
      })();
      await waitFor(async () => (await harness.rows()).length >= 400, {
        message: "rows from the first process",
      });
      const status = await first.stop();
      expect(status.code, first.logs()).toBe(0);

      const second = await start();
      await publishing;
      const durable = DurableName.lakeWriter("orders");
      await waitFor(async () => (await harness.pending(durable, harness.stream(StreamName.Curated))) === 0, {
        timeoutMs: 20_000,
        message: "every frame acked",
      });
      expect((await second.stop()).code, second.logs()).toBe(0);

      const rows = await harness.rows();
      expect(rows).toHaveLength(3_000);
      expect(new Set(rows.map((r) => r._event_id)).size).toBe(3_000);
      expect(lastSeq).toBe(150);
    } finally {
      await harness.close();
      await rm(configDir, { recursive: true, force: true });
      await nats.stop();
    }
  });

  natsTest("a SIGKILL while dead letters come in loses and duplicates none of them", async () => {
    expect(existsSync(MAIN), "build the app first: pnpm --filter @inlet/lake-writer build").toBe(true);
    const nats = await startNatsServer();
    const harness = await Harness.create(nats.url, { prefix: "", bucket: SCHEMA_BUCKET });
    const configDir = await writeConfigDir();
    const dlq = new DeadLetters(harness.bus.js, { subjects: harness.subjects });
    const file = (i: number) =>
      dlq.event({
        stage: Stage.Collector,
        dataset: "orders",
        code: "SCHEMA_MISMATCH",
        reason: `letter ${i}`,
        eventId: `ev-${i}`,
        event: { qty: "many" },
      });
    try {
      const first = await startWriterProcess(nats.url, harness, configDir);
      let last = 0;
      const filing = (async () => {
        for (let i = 0; i < 400; i++) last = (await file(i)).seq;
      })();
      await waitFor(async () => (await harness.rows(DEAD_LETTERS_DATASET, "dlq_seq")).length >= 50, {
        message: "dead letters in the table",
      });
      first.signal("SIGKILL");
      expect((await first.exited).signal).toBe("SIGKILL");
      await filing;

      const second = await startWriterProcess(nats.url, harness, configDir);
      await waitFor(async () => (await harness.rows(DEAD_LETTERS_DATASET, "dlq_seq")).length >= 400, {
        timeoutMs: 20_000,
        message: "every dead letter in the table",
      });
      expect((await second.stop()).code, second.logs()).toBe(0);
      const rows = await harness.rows(DEAD_LETTERS_DATASET, "dlq_seq");
      expect(rows).toHaveLength(400);
      expect(new Set(rows.map((r) => r._event_id)).size).toBe(400);
      expect(rows.at(-1)?.dlq_seq).toBe(BigInt(last));
    } finally {
      await harness.close();
      await rm(configDir, { recursive: true, force: true });
      await nats.stop();
    }
  });
});
