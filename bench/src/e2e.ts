import { setTimeout as sleep } from "node:timers/promises";
import { SERVICE_ORDER } from "@inlet/dev";
import type { BenchStack } from "./bench-stack.js";
import { BENCH_DATASETS, makeBodies, meanEventBytes } from "./events.js";
import { CollectorClient, emptyStats, type LoadStats, runClosedLoop } from "./load.js";
import type { BenchOptions } from "./options.js";
import { ProcSampler, type ProcSummary, sampleProcess } from "./proc-stats.js";
import { count, type Phase } from "./progress.js";
import { QueryClient } from "./query-client.js";
import { type Backlog, emptyBacklog, readBacklog } from "./streams-monitor.js";

/** The end-to-end figure and what was seen while measuring it. */
export interface E2eResult {
  eventsPerS: number;
  /** From the first commit after warm-up to the last commit of the window, s. */
  windowS: number;
  rowsInWindow: number;
  commitsInWindow: number;
  /** Mean event size as JSON, bytes. */
  eventBytes: number;
  load: LoadStats;
  /** Per service (and nats-server): peak RSS and CPU use (cores) in the window. */
  processes: Record<string, ProcSummary>;
  /** Frames held per stream and queued per consumer when the window closed. */
  backlogAtEnd: Backlog;
  /** The most frames seen queued (not yet delivered) in front of the stages. */
  maxQueuedFrames: number;
  /** Share of the window's samples in which producers held off because the queue was at its bound. */
  heldOffShare: number;
  /** Per service: its warnings and errors (`level: msg` → count) among the last log lines kept. */
  serviceLogs: Record<string, Record<string, number>>;
}

const POLL_MS = 500;

/**
 * Pushes pre-generated NDJSON bodies of the three demo datasets at the collector with
 * `concurrency` requests in flight, backing off on 503 and holding off while the stages' queues
 * are at `maxQueuedFrames` (every stage always has work, yet the backlog drains in seconds); after
 * the warm-up, counts the rows committed to the lake (through the query API) over at least
 * `e2eWindowS` seconds, commit to commit.
 */
export async function measureE2e(bench: BenchStack, options: BenchOptions, phase: Phase): Promise<E2eResult> {
  const { stack } = bench;
  phase.update("generating bodies");
  const bodies = makeBodies(60, options.batchEvents, 7);
  const query = new QueryClient(stack.queryUrl);
  const client = await CollectorClient.create(options.transport, stack.collectorUrl, stack.natsUrl);
  // The bench process too: the producers and pollers share the machine with the pipeline.
  const sampler = new ProcSampler({ ...bench.pids(), "bench (producers)": process.pid });
  const stats = emptyStats();
  const abort = new AbortController();

  let backlog: Backlog = emptyBacklog();
  let maxQueuedFrames = 0;
  let samples = 0;
  let heldOff = 0;
  const monitor = (async () => {
    while (!abort.signal.aborted) {
      backlog = await readBacklog(bench.monitorUrl).catch(() => backlog);
      maxQueuedFrames = Math.max(maxQueuedFrames, backlog.queued);
      samples++;
      if (backlog.queued >= options.maxQueuedFrames) heldOff++;
      await sleep(POLL_MS, undefined, { signal: abort.signal }).catch(() => {});
    }
  })();

  let i = 0;
  const producers = runClosedLoop({
    client,
    next: () => bodies[i++ % bodies.length]!,
    concurrency: options.concurrency,
    stats,
    signal: abort.signal,
    paused: () => backlog.queued >= options.maxQueuedFrames,
  });

  try {
    const started = performance.now();
    const history: { t: number; rows: number }[] = [];
    let start: { t: number; rows: number } | undefined;
    let last: { t: number; rows: number } | undefined;
    let commits = 0;
    let previousRows = await query.rows(BENCH_DATASETS);
    const deadlineS = options.warmupS + options.e2eWindowS + (2 * options.flushMs) / 1000 + 30;
    for (;;) {
      await sleep(POLL_MS);
      const t = performance.now();
      const rows = await query.rows(BENCH_DATASETS);
      const elapsedS = (t - started) / 1000;
      history.push({ t, rows });
      while (history.length > 0 && t - history[0]!.t > 10_000) history.shift();
      const recent =
        history[0] === undefined ? 0 : (rows - history[0].rows) / Math.max(0.001, (t - history[0].t) / 1000);
      const committed = rows !== previousRows;
      previousRows = rows;
      if (committed && elapsedS >= options.warmupS) {
        if (start === undefined) {
          start = { t, rows };
          sampler.mark();
          samples = 0;
          heldOff = 0;
        } else {
          last = { t, rows };
          commits++;
        }
      }
      const windowS = start === undefined ? 0 : (t - start.t) / 1000;
      phase.update(
        `${start === undefined ? "warm-up" : `window ${windowS.toFixed(0)}/${options.e2eWindowS}s`} · ` +
          `${count(rows)} rows · ${count(recent)} rows/s (10 s) · accepted ${count(stats.accepted)} · ` +
          `503s ${count(stats.busy)} · queued ${backlog.queued} frames`,
      );
      if (start !== undefined && last !== undefined && (last.t - start.t) / 1000 >= options.e2eWindowS) break;
      if (elapsedS > deadlineS) {
        const what =
          start === undefined
            ? "no commit after the warm-up"
            : `commits stopped ${Math.round(((last ?? start).t - start.t) / 1000)} s into the ${options.e2eWindowS} s window`;
        throw new Error(
          `${what} (${Math.round(elapsedS)} s in; accepted ${stats.accepted}, ` +
            `queued ${JSON.stringify(backlog.pending)}, last error: ${stats.lastError ?? "none"}, ` +
            `processes gone: ${goneProcesses(bench).join(", ") || "none"}, ` +
            `service warnings: ${JSON.stringify(summarizeLogs(bench))})`,
        );
      }
    }
    if (start === undefined || last === undefined) throw new Error("unreachable: the window has no commits");
    const gone = goneProcesses(bench);
    if (gone.length > 0) throw new Error(`${gone.join(", ")} exited during the e2e window`);
    const processes = sampler.stop();
    const windowS = (last.t - start.t) / 1000;
    const rowsInWindow = last.rows - start.rows;
    return {
      eventsPerS: Math.round(rowsInWindow / windowS),
      windowS: Math.round(windowS * 10) / 10,
      rowsInWindow,
      commitsInWindow: commits,
      eventBytes: Math.round(meanEventBytes(bodies)),
      load: { ...stats },
      processes,
      backlogAtEnd: backlog,
      maxQueuedFrames,
      heldOffShare: samples === 0 ? 0 : Math.round((heldOff / samples) * 100) / 100,
      serviceLogs: summarizeLogs(bench),
    };
  } finally {
    abort.abort();
    await producers;
    await monitor;
    await client.close();
    query.close();
  }
}

/**
 * Waits until the pipeline streams are empty and the lake's row count has not moved for a flush
 * interval plus a second (or `timeoutMs` passed). Resolves with the rows in the lake.
 */
export async function waitForDrain(
  bench: BenchStack,
  flushMs: number,
  timeoutMs: number,
  phase: Phase,
): Promise<{ rows: number; drained: boolean }> {
  const query = new QueryClient(bench.stack.queryUrl);
  const deadline = performance.now() + timeoutMs;
  try {
    let rows = await query.rows(BENCH_DATASETS);
    let stableSince = performance.now();
    for (;;) {
      await sleep(POLL_MS);
      const backlog = await readBacklog(bench.monitorUrl);
      const now = await query.rows(BENCH_DATASETS);
      if (now !== rows || backlog.held > 0) stableSince = performance.now();
      rows = now;
      phase.update(`draining: ${backlog.held} frames in the streams · ${count(rows)} rows`);
      if (performance.now() - stableSince > flushMs + 1_000) return { rows, drained: true };
      if (performance.now() > deadline) return { rows, drained: false };
    }
  } finally {
    query.close();
  }
}

/** The services (and nats-server) whose process has exited. */
export function goneProcesses(bench: BenchStack): string[] {
  return Object.entries(bench.pids())
    .filter(([, pid]) => sampleProcess(pid) === undefined)
    .map(([name]) => name);
}

const LEVELS: Record<number, string> = { 40: "warn", 50: "error", 60: "fatal" };

/** Counts each service's warn/error log lines (pino JSON) by message, from the lines its process kept. */
export function summarizeLogs(bench: BenchStack): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const name of SERVICE_ORDER) {
    const counts: Record<string, number> = {};
    for (const line of bench.stack.process(name).logs().split("\n")) {
      let entry: { level?: number | string; msg?: string; err?: { message?: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      const level = typeof entry.level === "number" ? LEVELS[entry.level] : entry.level;
      if (level === undefined || level === "info" || level === "debug" || level === "trace") continue;
      const key = `${level}: ${entry.msg ?? ""}${entry.err?.message ? ` (${entry.err.message})` : ""}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    if (Object.keys(counts).length > 0) out[name] = counts;
  }
  return out;
}
