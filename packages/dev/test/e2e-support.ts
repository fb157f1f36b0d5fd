// What the end-to-end suites that drive the stack hard share: a stack on free ports in a temporary
// directory, the query API, the pipeline rules restated as an oracle, pre-built request bodies and
// producers that send each body until the collector stored it.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createGenerator, type DemoDataset, TimestampFormat } from "@inlet/demo";
import { findRepoRoot, freePort, waitFor } from "@inlet/testing";
import type { ServiceName, Stack } from "../src/stack.js";
import { startStack } from "../src/stack.js";

/** The demo datasets the pipeline carries. */
export const DATASETS = [
  "clicks",
  "transactions",
  "sensor_readings",
] as const satisfies readonly DemoDataset[];

type Event = Record<string, unknown>;

/** The pipeline rules (config/pipeline.json) restated independently: the events that must land. */
export const kept: Record<DemoDataset, (e: Event) => boolean> = {
  clicks: (e) => !String(e.user_agent).includes("bot"),
  transactions: (e) => e.is_test !== true,
  sensor_readings: (e) => Number(e.temperature_c) >= -60 && Number(e.temperature_c) <= 100,
};

/** A stack of its own (free ports, temporary store and lake), removed by `close()`. */
export interface TestStack {
  readonly stack: Stack;
  readonly workDir: string;
  close(): Promise<void>;
}

/** Starts nats-server and the five services on free ports, with the NATS store and lake in a temp dir. */
export async function startTestStack(
  env: Record<string, string>,
  serviceEnv: Partial<Record<ServiceName, Record<string, string>>> = {},
  cdc?: { databaseUrl: string; tables: string },
): Promise<TestStack> {
  const rootDir = findRepoRoot() ?? process.cwd();
  const workDir = await mkdtemp(join(tmpdir(), "inlet-e2e-"));
  const stack = await startStack({
    rootDir,
    natsStoreDir: join(workDir, "nats"),
    lakeDir: join(workDir, "lake"),
    logDir: join(workDir, "logs"),
    ports: {
      nats: await freePort(),
      natsMonitor: await freePort(),
      collector: await freePort(),
      processor: await freePort(),
      enricher: await freePort(),
      lakeWriter: await freePort(),
      query: await freePort(),
      cdc: await freePort(),
    },
    env: { INLET_LOG_LEVEL: "warn", ...env },
    serviceEnv,
    ...(cdc === undefined ? {} : { cdc }),
  });
  return {
    stack,
    workDir,
    async close() {
      await stack.stop();
      // INLET_E2E_KEEP=1 keeps the NATS store, the lake and the services' logs for a look after a failure.
      if (process.env.INLET_E2E_KEEP) console.info(`kept ${workDir}`);
      else await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** Runs a statement through the query API (`POST /v1/query`) and returns its rows. */
export async function queryApi<T = Record<string, unknown>>(stack: Stack, sql: string): Promise<T[]> {
  const res = await fetch(`${stack.queryUrl}/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sql }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { rows: T[]; error?: unknown };
  if (res.status !== 200) throw new Error(`query failed (${res.status}): ${JSON.stringify(body)}`);
  return body.rows;
}

/**
 * Checks that a dataset holds exactly the `expected` ids, each once; on a mismatch the error shows
 * a few duplicated rows (ingest time and trace tell a second publish from a redelivery) and
 * missing ids.
 */
export async function expectExactlyOnce(stack: Stack, dataset: string, expected: Set<string>): Promise<void> {
  const [counts] = await queryApi<{ n: number; ids: number }>(
    stack,
    `SELECT count(*)::INTEGER AS n, count(DISTINCT _event_id)::INTEGER AS ids FROM ${dataset}`,
  );
  const rows = await queryApi<{ _event_id: string }>(stack, `SELECT _event_id FROM ${dataset}`);
  const ids = new Set(rows.map((r) => r._event_id));
  const missing = [...expected].filter((id) => !ids.has(id));
  const unexpected = [...ids].filter((id) => !expected.has(id));
  if (counts?.n === expected.size && counts.ids === expected.size && missing.length + unexpected.length === 0)
    return;
  const duplicates = await queryApi(
    stack,
    `SELECT _event_id, _ingested_at, _trace_id FROM ${dataset} WHERE _event_id IN
       (SELECT _event_id FROM ${dataset} GROUP BY _event_id HAVING count(*) > 1 LIMIT 3) ORDER BY ALL`,
  );
  throw new Error(
    `${dataset}: ${counts?.n} rows, ${counts?.ids} distinct ids, ${expected.size} expected; ` +
      `${missing.length} missing (${missing.slice(0, 5).join(", ")}), ${unexpected.length} unexpected; ` +
      `duplicated rows: ${JSON.stringify(duplicates)}`,
  );
}

const PIPELINE_STREAMS = ["INGEST", "PROCESSED", "CURATED"];

/**
 * Messages still in the pipeline streams (interest retention: a frame leaves once every consumer
 * acked it), from nats-server's monitoring endpoint; 0 once every stage has settled everything.
 */
export async function messagesInFlight(stack: Stack): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${stack.ports.natsMonitor}/jsz?streams=true`, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await res.json()) as {
    account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[];
  };
  const streams = (body.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
  const pipeline = streams.filter((s) => PIPELINE_STREAMS.includes(s.name));
  if (pipeline.length !== PIPELINE_STREAMS.length) throw new Error("the pipeline streams are not there yet");
  return pipeline.reduce((n, s) => n + s.state.messages, 0);
}

/**
 * Waits until the pipeline is drained (nothing left in its streams) and each dataset holds at
 * least the rows expected: past that point the row counts can no longer change.
 */
export async function waitForDrained(
  stack: Stack,
  expected: Record<DemoDataset, Set<string>>,
  timeoutMs = 120_000,
): Promise<void> {
  let state = "";
  await waitFor(
    async () => {
      const inFlight = await messagesInFlight(stack);
      const rows: number[] = [];
      for (const ds of DATASETS) {
        const [row] = await queryApi<{ n: number }>(stack, `SELECT count(*)::INTEGER AS n FROM ${ds}`);
        rows.push(row?.n ?? 0);
      }
      state = `${inFlight} messages in the pipeline streams; rows ${rows.join(", ")} of ${DATASETS.map((ds) => expected[ds].size).join(", ")}`;
      return inFlight === 0 && DATASETS.every((ds, i) => rows[i]! >= expected[ds].size);
    },
    { timeoutMs, intervalMs: 500, message: "the pipeline to drain into the lake" },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${state}\n${serviceLogs(stack)}`, { cause: err });
  });
}

/** The last lines each process of the stack printed. */
export function serviceLogs(stack: Stack): string {
  const names: (ServiceName | "nats")[] = ["nats", ...stack.services];
  return names.map((name) => `--- ${name}\n${stack.process(name).logs()}`).join("\n");
}

/** One NDJSON request body of one dataset, sent again unchanged (same event ids) until stored. */
export interface Body {
  readonly dataset: DemoDataset;
  readonly data: Buffer;
  readonly events: number;
  /** Ids of the events the pipeline rules keep: the rows this body must become. */
  readonly keptIds: readonly string[];
}

/**
 * `count` bodies of `perBody` demo events of each dataset, interleaved, every event with an
 * `_event_id` (`<prefix>-<dataset>-<n>`), seeded so every run sends the same events.
 */
export function makeBodies(count: number, perBody: number, prefix: string, seed: number): Body[] {
  const byDataset = DATASETS.map((dataset, d) => {
    const generator = createGenerator(dataset, { seed: seed + d, timestamps: TimestampFormat.Millis });
    return Array.from({ length: count }, (_, b): Body => {
      const lines: string[] = [];
      const keptIds: string[] = [];
      for (let i = 0; i < perBody; i++) {
        const event = generator.next();
        const id = `${prefix}-${dataset}-${b * perBody + i}`;
        if (kept[dataset](event)) keptIds.push(id);
        lines.push(JSON.stringify({ ...event, _event_id: id }));
      }
      return { dataset, data: Buffer.from(lines.join("\n")), events: perBody, keptIds };
    });
  });
  const bodies: Body[] = [];
  for (let b = 0; b < count; b++) for (const list of byDataset) bodies.push(list[b]!);
  return bodies;
}

/** The ids each dataset must hold once every body is stored. */
export function expectedIds(bodies: readonly Body[]): Record<DemoDataset, Set<string>> {
  const ids = {
    clicks: new Set<string>(),
    transactions: new Set<string>(),
    sensor_readings: new Set<string>(),
  };
  for (const body of bodies) for (const id of body.keptIds) ids[body.dataset].add(id);
  return ids;
}

/** What the producers saw. */
export interface ProducerStats {
  /** Bodies sent and stored: the first this many of the list. */
  bodies: number;
  requests: number;
  /** Events the collector answered 200 for. */
  accepted: number;
  /** 503 answers (the bus refused or was away), each followed by a retry of the same body. */
  busy: number;
  /** Connection errors and timeouts, each followed by a retry of the same body. */
  errors: number;
  lastError?: string;
}

/** Options of {@link produce}. */
export interface ProduceOptions {
  /** Requests in flight. */
  readonly concurrency: number;
  /** Pace: body `i` is not sent before `i × events / eventsPerS` seconds after the start. */
  readonly eventsPerS: number;
  /** Asked before each body is taken, with the number taken so far: true stops the sending. */
  readonly until?: (taken: number) => boolean;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

/**
 * Sends the bodies in order (all of them, or until `until` says stop) to the collector over HTTP,
 * paced, with `concurrency` senders; a body answered
 * 503 or lost to a connection error is sent again, unchanged, until it is stored (the collector
 * derives frame ids from event ids, so JetStream drops what the first attempt stored). Any other
 * answer (a 400: an event refused) fails.
 */
export async function produce(
  collectorUrl: string,
  bodies: readonly Body[],
  options: ProduceOptions,
): Promise<ProducerStats> {
  const stats: ProducerStats = { bodies: 0, requests: 0, accepted: 0, busy: 0, errors: 0 };
  const started = performance.now();
  let next = 0;
  let eventsBefore = 0;
  const sender = async () => {
    for (;;) {
      if (options.until?.(next) === true) return;
      const body = bodies[next++];
      if (body === undefined) return;
      const due = started + (eventsBefore / options.eventsPerS) * 1000;
      eventsBefore += body.events;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      await deliver(collectorUrl, body, stats);
      stats.bodies++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, sender));
  return stats;
}

async function deliver(collectorUrl: string, body: Body, stats: ProducerStats): Promise<void> {
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    stats.requests++;
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${collectorUrl}/v1/events/${body.dataset}?results=errors`, {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: body.data,
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      stats.errors++;
      stats.lastError = err instanceof Error ? err.message : String(err);
      status = 0;
      text = "";
    }
    if (status === 200) {
      const answer = JSON.parse(text) as { accepted: number };
      if (answer.accepted !== body.events) {
        throw new Error(`collector accepted ${answer.accepted} of ${body.events} events: ${text}`);
      }
      stats.accepted += answer.accepted;
      return;
    }
    if (status === 503) stats.busy++;
    else if (status !== 0) throw new Error(`collector answered ${status}: ${text.slice(0, 500)}`);
    await sleep(backoff * (0.5 + Math.random() / 2));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

/** One version of a Delta table as its log tells it. */
export interface TableVersion {
  readonly version: number;
  /** Rows in the table at this version: records added minus records removed with `dataChange`. */
  readonly rows: number;
  /** commitInfo.operation: WRITE for an append, OPTIMIZE for a compaction. */
  readonly operation: string | undefined;
}

interface LogLine {
  commitInfo?: { operation?: string };
  add?: { path: string; dataChange?: boolean; stats?: string };
  remove?: { path: string; dataChange?: boolean; stats?: string };
}

/**
 * Every version of a curated table with its row count, read straight from the JSON commits in
 * `_delta_log/` (an oracle independent of the lake package): a reader that sees a whole commit
 * sees one of these counts.
 */
export async function tableVersions(lakeDir: string, dataset: string): Promise<TableVersion[]> {
  return (await readTableLog(lakeDir, dataset)).versions;
}

/**
 * Parquet files (and temporary files of Parquet writes) under a curated table that its latest
 * version does not reference: left by a writer that died before committing them, or removed by
 * compaction. No reader sees them.
 */
export async function unreferencedFiles(lakeDir: string, dataset: string): Promise<string[]> {
  const { live } = await readTableLog(lakeDir, dataset);
  const tableDir = join(lakeDir, "curated", dataset);
  const onDisk = (await readdir(tableDir, { recursive: true })).filter((f) => f.includes(".parquet"));
  return onDisk.filter((f) => !live.has(decodeURIComponent(f)) && !f.startsWith("_delta_log"));
}

async function readTableLog(
  lakeDir: string,
  dataset: string,
): Promise<{ versions: TableVersion[]; live: Set<string> }> {
  const logDir = join(lakeDir, "curated", dataset, "_delta_log");
  const live = new Set<string>();
  const commits = (await readdir(logDir)).filter((f) => /^\d{20}\.json$/.test(f)).sort();
  const versions: TableVersion[] = [];
  let rows = 0;
  for (const file of commits) {
    const version = Number(file.slice(0, 20));
    if (version !== versions.length) throw new Error(`${logDir}: commit ${version} out of sequence`);
    let operation: string | undefined;
    for (const line of (await readFile(join(logDir, file), "utf8")).split("\n")) {
      if (line.trim() === "") continue;
      const action = JSON.parse(line) as LogLine;
      const records = (a: { dataChange?: boolean; stats?: string } | undefined) => {
        if (a === undefined || a.dataChange === false) return 0;
        if (a.stats === undefined) throw new Error(`${file}: a data change without stats`);
        return (JSON.parse(a.stats) as { numRecords: number }).numRecords;
      };
      rows += records(action.add) - records(action.remove);
      operation ??= action.commitInfo?.operation;
      if (action.add !== undefined) live.add(decodeURIComponent(action.add.path));
      if (action.remove !== undefined) live.delete(decodeURIComponent(action.remove.path));
    }
    versions.push({ version, rows, operation });
  }
  return { versions, live };
}
