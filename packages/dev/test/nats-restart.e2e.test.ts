// End to end: nats-server goes away mid-stream, once stopped cleanly and once killed with
// SIGKILL, and comes back on the same store; every service recovers on its own, and the lake holds
// every accepted event exactly once.
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "@inlet/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceName } from "../src/stack.js";
import {
  DATASETS,
  expectExactlyOnce,
  expectedIds,
  makeBodies,
  produce,
  queryApi,
  serviceLogs,
  startTestStack,
  type TestStack,
  waitForDrained,
} from "./e2e-support.js";

const BODIES_PER_DATASET = 30; // × 3 datasets × 1,000 events = 90,000 events
const EVENTS_PER_BODY = 1_000;
const EVENTS_PER_S = 5_000; // about 18 s of flow, around both restarts

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack(
    { INLET_WRITER_FLUSH_MS: "500" },
    // After a reconnect the lake-writer holds its commits until the deliveries lost in transit come
    // back, one ack wait later: 3 s rather than the default 30 s.
    { "lake-writer": { INLET_WRITER_ACK_WAIT_MS: "3s" } },
  );
}, 120_000);

afterAll(async () => {
  await t?.close();
}, 60_000);

/** Resolves once the lake holds more rows than `rows` in total: the pipeline is flowing. */
async function flowingPast(rows: number): Promise<number> {
  return waitFor(
    async () => {
      let n = 0;
      for (const ds of DATASETS) {
        const [row] = await queryApi<{ n: number }>(t.stack, `SELECT count(*)::INTEGER AS n FROM ${ds}`);
        n += row?.n ?? 0;
      }
      return n > rows ? n : 0;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: "rows to reach the lake" },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${serviceLogs(t.stack)}`, { cause: err });
  });
}

describe("nats-server restarted mid-stream", () => {
  it("loses nothing and duplicates nothing through a clean restart and a SIGKILL", async () => {
    const bodies = makeBodies(BODIES_PER_DATASET, EVENTS_PER_BODY, "natsrestart", 9);
    const expected = expectedIds(bodies);
    const producing = produce(t.stack.collectorUrl, bodies, { concurrency: 4, eventsPerS: EVENTS_PER_S });

    // A clean stop (SIGTERM: the server flushes its store), down for a moment, back on the same store.
    const rowsBeforeStop = await flowingPast(5_000);
    // (nats-server exits with code 1 after a clean shutdown on SIGTERM; a signal here would mean
    // it had to be killed.)
    expect((await t.stack.stopService("nats"))?.signal).toBeNull();
    await sleep(1_000);
    await t.stack.start("nats");

    // Then a kill: whatever the server had not written to its files is gone with it.
    const rowsBeforeKill = await flowingPast(rowsBeforeStop + 10_000);
    const nats = t.stack.process("nats");
    nats.signal("SIGKILL");
    expect(await nats.exited).toEqual({ code: null, signal: "SIGKILL" });
    await sleep(1_000);
    await t.stack.start("nats");
    await flowingPast(rowsBeforeKill + 5_000);

    const stats = await producing;
    expect(stats.accepted).toBe(bodies.length * EVENTS_PER_BODY);
    await waitForDrained(t.stack, expected);

    for (const ds of DATASETS) await expectExactlyOnce(t.stack, ds, expected[ds]);
    // Every service came back by itself.
    for (const name of t.stack.services) {
      const res = await fetch(`${t.stack.url(name)}/readyz`);
      expect(res.status, `${name} /readyz`).toBe(200);
    }
    // Frames a stage published twice across the kill (its ack lost, the stream's duplicate window
    // gone with the consumed copy) that the lake-writer recognised and dropped.
    const metrics = await (await fetch(`${t.stack.url(ServiceName.LakeWriter)}/metrics`)).text();
    const dropped = metrics
      .split("\n")
      .filter((line) => line.startsWith("inlet_lake_writer_frames_duplicate"))
      .reduce((n, line) => n + Number(line.split(" ").at(-1)), 0);
    console.info(
      `nats restart test: producer ${JSON.stringify(stats)}; duplicate frames dropped: ${dropped}`,
    );
  }, 300_000);
});
