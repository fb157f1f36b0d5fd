// End to end: the lake-writer is killed with SIGKILL again and again while events flow, and the
// lake still holds every accepted event exactly once; a reader querying all along never sees a
// commit half applied.
import { watch } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "@inlet/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Body,
  DATASETS,
  expectExactlyOnce,
  expectedIds,
  makeBodies,
  type ProducerStats,
  produce,
  queryApi,
  startTestStack,
  type TestStack,
  tableVersions,
  unreferencedFiles,
  waitForDrained,
} from "./e2e-support.js";

// At least 70 bodies per dataset (× 3 datasets × 1,000 events = 210,000 events) are sent, and
// more until the lake-writer was killed MIN_KILLS times, so events flow through every kill.
const MIN_BODIES = 210;
const MAX_BODIES_PER_DATASET = 100;
const EVENTS_PER_BODY = 1_000;
const EVENTS_PER_S = 6_000; // about 35 s of flow, long enough for several kills
const MIN_KILLS = 5;

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack(
    { INLET_WRITER_FLUSH_MS: "500" },
    {
      "lake-writer": {
        // A short ack wait: after a kill, the dead writer's deliveries come back (and the next
        // writer's gate opens) within seconds rather than the default 30 s.
        INLET_WRITER_ACK_WAIT_MS: "3s",
        // Compaction every 2 s: kills land in compactions too, and readers see their commits.
        INLET_WRITER_COMPACT_INTERVAL_MS: "2s",
        INLET_WRITER_COMPACT_MIN_FILES: "4",
      },
    },
  );
}, 120_000);

afterAll(async () => {
  await t?.close();
}, 60_000);

/** Commits in each dataset's Delta log so far. */
async function commitsPerDataset(): Promise<number[]> {
  return Promise.all(
    DATASETS.map(async (ds) => {
      const log = await readdir(join(t.stack.lakeDir, "curated", ds, "_delta_log")).catch(() => []);
      return log.filter((f) => f.endsWith(".json")).length;
    }),
  );
}

/** When a kill lands. */
const KillMoment = {
  /** Anywhere in the next 2 s: in a flush, between flushes, at the acks. */
  Random: "random",
  /** As soon as a commit of `clicks` appears in its log: committed, its frames not acked yet. */
  AfterCommit: "after-commit",
  /** As soon as a data file of `clicks` starts being written: its commit not made yet. */
  MidWrite: "mid-write",
} as const;
type KillMoment = (typeof KillMoment)[keyof typeof KillMoment];
const KILL_MOMENTS: readonly KillMoment[] = Object.values(KillMoment);

/** Waits for the moment; false when an awaited file event did not come within 5 s. */
async function momentOf(moment: KillMoment): Promise<boolean> {
  const tableDir = join(t.stack.lakeDir, "curated", "clicks");
  switch (moment) {
    case KillMoment.Random:
      await sleep(Math.random() * 2_000);
      return true;
    case KillMoment.AfterCommit:
      return nextEntry(join(tableDir, "_delta_log"), /^\d{20}\.json$/, false);
    case KillMoment.MidWrite:
      // The Parquet writer writes `.part-….tmp`, then renames it into place.
      return nextEntry(tableDir, /^\.part-.*\.tmp$/, true);
  }
}

/** Resolves true as soon as an entry named like `pattern` appears under `dir`, false after 5 s. */
function nextEntry(dir: string, pattern: RegExp, recursive: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (seen: boolean) => {
      clearTimeout(timer);
      watcher.close();
      resolve(seen);
    };
    const watcher = watch(dir, { recursive }, (_event, name) => {
      if (name !== null && pattern.test(basename(name))) done(true);
    });
    const timer = setTimeout(() => done(false), 5_000);
  });
}

/** One answer of the reader: rows and distinct ids of `clicks` at some moment. */
interface Observation {
  readonly n: number;
  readonly ids: number;
}

/** Queries `clicks` in a loop until `signal` aborts; keeps every answer, in order. */
async function readAllAlong(signal: AbortSignal): Promise<Observation[]> {
  const seen: Observation[] = [];
  while (!signal.aborted) {
    try {
      const [row] = await queryApi<Observation>(
        t.stack,
        "SELECT count(*)::INTEGER AS n, count(DISTINCT _event_id)::INTEGER AS ids FROM clicks",
      );
      if (row !== undefined) seen.push(row);
    } catch (err) {
      // Before the first commit the table does not exist; anything else is a failure.
      if (!String(err).includes("clicks")) throw err;
    }
    await sleep(20);
  }
  return seen;
}

describe("the lake-writer killed with SIGKILL mid-stream", () => {
  it("commits every accepted event exactly once, and no reader ever sees a partial commit", async () => {
    const bodies: Body[] = makeBodies(MAX_BODIES_PER_DATASET, EVENTS_PER_BODY, "crash", 5);
    const started = performance.now();

    const stopReading = new AbortController();
    const reading = readAllAlong(stopReading.signal);
    const kills: { atMs: number; moment: KillMoment; caught: boolean }[] = [];
    let producerDone = false;
    const producing = produce(t.stack.collectorUrl, bodies, {
      concurrency: 4,
      eventsPerS: EVENTS_PER_S,
      until: (taken) => taken >= MIN_BODIES && kills.length >= MIN_KILLS,
    }).finally(() => {
      producerDone = true;
    });

    // Kill a working writer (once the restarted one has committed to every dataset, so its gates
    // are open) at a moment of each kind in turn: anywhere, just after a commit landed (before
    // its frames are acked), or while a data file is being written (before its commit).
    while (!producerDone) {
      const before = await commitsPerDataset();
      await waitFor(async () => producerDone || (await commitsPerDataset()).every((n, i) => n > before[i]!), {
        timeoutMs: 60_000,
        intervalMs: 50,
        message: "the restarted lake-writer did not commit",
      });
      if (producerDone) break;
      const moment = KILL_MOMENTS[kills.length % KILL_MOMENTS.length]!;
      const caught = await momentOf(moment);
      const writer = t.stack.process("lake-writer");
      writer.signal("SIGKILL");
      kills.push({ atMs: Math.round(performance.now() - started), moment, caught });
      expect(await writer.exited).toEqual({ code: null, signal: "SIGKILL" });
      await t.stack.start("lake-writer");
    }
    const stats: ProducerStats = await producing;
    expect(stats.bodies).toBeGreaterThanOrEqual(MIN_BODIES);
    expect(stats.accepted).toBe(stats.bodies * EVENTS_PER_BODY);
    const expected = expectedIds(bodies.slice(0, stats.bodies));
    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);

    await waitForDrained(t.stack, expected);
    stopReading.abort();
    const observations = await reading;

    // Exactly once: count = distinct ids = accepted events the rules keep, and the very same ids.
    for (const ds of DATASETS) await expectExactlyOnce(t.stack, ds, expected[ds]);

    // No partial commit: every answer is the row count of a committed version, never a duplicate,
    // never going back.
    const versions = await tableVersions(t.stack.lakeDir, "clicks");
    const committedCounts = new Set(versions.map((v) => v.rows));
    expect(versions.at(-1)?.rows).toBe(expected.clicks.size);
    expect(observations.length).toBeGreaterThan(50);
    let previous = 0;
    for (const seen of observations) {
      expect(seen.ids).toBe(seen.n);
      expect(committedCounts.has(seen.n), `${seen.n} rows is no committed version's count`).toBe(true);
      expect(seen.n).toBeGreaterThanOrEqual(previous);
      previous = seen.n;
    }
    // The reader watched the table grow through the kills, not only its final state.
    expect(new Set(observations.map((o) => o.n)).size).toBeGreaterThanOrEqual(MIN_KILLS);

    const compactions = versions.filter((v) => v.operation === "OPTIMIZE").length;
    console.info(
      `crash test: ${compactions} compactions of clicks; ${kills.length} kills (${kills.map((k) => `${k.atMs} ms ${k.moment}${k.caught ? "" : " (missed)"}`).join(", ")}); ` +
        `${observations.length} reads over ${versions.length} versions; ` +
        `${(await unreferencedFiles(t.stack.lakeDir, "clicks")).length} unreferenced files; producer ${JSON.stringify(stats)}; ` +
        `${Math.round(performance.now() - started)} ms`,
    );
  }, 300_000);
});
