import { setTimeout as sleep } from "node:timers/promises";
import type { BenchStack } from "./bench-stack.js";
import { generateEvents, makeBodies } from "./events.js";
import { CollectorClient, emptyStats, type LoadStats, type Outgoing, runAtRate } from "./load.js";
import type { BenchOptions } from "./options.js";
import { count, type Phase } from "./progress.js";
import { QueryClient } from "./query-client.js";
import { sqlString } from "./sql.js";

/** Freshness: from a producer's acknowledged send to the row being visible through the query API. */
export interface FreshnessResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Probe events sent and acknowledged. */
  probes: number;
  /** Probes never seen in the lake before the bench gave up waiting. */
  unseen: number;
  /** The rate asked for, events/s. */
  eventsPerS: number;
  /** Events the collector stored per second of load. */
  achievedEventsPerS: number;
  /** How often the bench looked for the probes, ms (the resolution of the figure). */
  pollMs: number;
  load: LoadStats;
  lagging: number;
}

interface Probe {
  id: string;
  line: string;
  ackAt?: number;
  seenAt?: number;
}

const POLL_MS = 200;
const MAX_IDS_PER_QUERY = 400;

/**
 * Sends the demo datasets at `eventsPerS` (open loop) for `freshnessS` seconds; every clicks body
 * carries one probe event with a known `_event_id`. While it runs, polls the query API for probes
 * acknowledged but not yet seen; a probe's freshness is the poll that first found it minus its ack.
 */
export async function measureFreshness(
  bench: BenchStack,
  options: BenchOptions,
  eventsPerS: number,
  phase: Phase,
): Promise<FreshnessResult> {
  const { stack } = bench;
  // At least ten bodies a second, so probes come often and the rate is smooth.
  const eventsPerBody = Math.max(50, Math.min(options.batchEvents, Math.floor(eventsPerS / 10)));
  const bodies = makeBodies(30, eventsPerBody, 31);
  const run = Date.now().toString(36);
  const probes = probeEvents(run, Math.ceil(options.freshnessS * (eventsPerS / eventsPerBody)) + 10);
  const query = new QueryClient(stack.queryUrl);
  const client = await CollectorClient.create(options.transport, stack.collectorUrl, stack.natsUrl);
  const stats = emptyStats();
  const abort = new AbortController();
  const sinceMs = Date.now() - 60_000;

  let b = 0;
  let p = 0;
  const next = (): Outgoing => {
    const body = bodies[b++ % bodies.length]!;
    const probe = body.dataset === "clicks" ? probes[p++] : undefined;
    if (probe === undefined) return body;
    return {
      dataset: body.dataset,
      data: Buffer.concat([body.data, Buffer.from(`\n${probe.line}`)]),
      events: body.events + 1,
      onAck: (at) => {
        probe.ackAt ??= at;
      },
    };
  };

  const started = performance.now();
  const timer = setTimeout(() => abort.abort(), options.freshnessS * 1000);
  const load = runAtRate({ client, next, eventsPerS, eventsPerBody, stats, signal: abort.signal });
  let loadDone = false;
  const loaded = load.finally(() => {
    loadDone = true;
  });
  try {
    const giveUpAfterMs = options.flushMs + 20_000;
    let loadEndedAt: number | undefined;
    for (;;) {
      const pollAt = performance.now();
      const pending = probes.filter((x) => x.ackAt !== undefined && x.seenAt === undefined);
      for (let k = 0; k < pending.length; k += MAX_IDS_PER_QUERY) {
        const batch = pending.slice(k, k + MAX_IDS_PER_QUERY);
        const found = await query.rowsOf<{ _event_id: string }>(
          `SELECT _event_id FROM clicks WHERE _ingested_at >= make_timestamptz(${sinceMs * 1000}) ` +
            `AND _event_id IN (${batch.map((x) => sqlString(x.id)).join(", ")})`,
        );
        const ids = new Set(found.map((r) => r._event_id));
        for (const x of batch) if (ids.has(x.id)) x.seenAt = pollAt;
      }
      const acked = probes.filter((x) => x.ackAt !== undefined);
      const seen = acked.filter((x) => x.seenAt !== undefined);
      phase.update(
        `${loadDone ? "waiting for the last probes" : `load ${((performance.now() - started) / 1000).toFixed(0)}/${options.freshnessS}s`} · ` +
          `accepted ${count(stats.accepted)} · probes seen ${seen.length}/${acked.length}`,
      );
      if (loadDone) {
        loadEndedAt ??= performance.now();
        if (seen.length === acked.length || performance.now() - loadEndedAt > giveUpAfterMs) break;
      }
      await sleep(Math.max(0, POLL_MS - (performance.now() - pollAt)));
    }
    const { lagging } = await loaded;
    const loadS = options.freshnessS;
    const acked = probes.filter((x) => x.ackAt !== undefined);
    const delays = acked
      .filter((x) => x.seenAt !== undefined)
      .map((x) => x.seenAt! - x.ackAt!)
      .sort((a, c) => a - c);
    if (delays.length === 0) throw new Error(`none of ${acked.length} probes became visible`);
    return {
      p50Ms: Math.round(percentile(delays, 0.5)),
      p99Ms: Math.round(percentile(delays, 0.99)),
      maxMs: Math.round(delays[delays.length - 1]!),
      probes: acked.length,
      unseen: acked.length - delays.length,
      eventsPerS: Math.round(eventsPerS),
      achievedEventsPerS: Math.round(stats.accepted / loadS),
      pollMs: POLL_MS,
      load: { ...stats },
      lagging,
    };
  } finally {
    clearTimeout(timer);
    abort.abort();
    await loaded.catch(() => {});
    await client.close();
    query.close();
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

// Clicks the processor keeps (its filter drops crawlers), each with its own `_event_id`.
function probeEvents(run: string, n: number): Probe[] {
  const out: Probe[] = [];
  let seed = 900;
  while (out.length < n) {
    for (const event of generateEvents("clicks", n, seed++)) {
      if (out.length >= n) break;
      if (String(event.user_agent).toLowerCase().includes("bot")) continue;
      const id = `probe-${run}-${out.length}`;
      out.push({ id, line: JSON.stringify({ ...event, _event_id: id }) });
    }
  }
  return out;
}
