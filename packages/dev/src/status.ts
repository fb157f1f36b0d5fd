import { DEAD_LETTERS_DATASET } from "@inlet/schema";
import { parsePrometheusText } from "@inlet/telemetry";
import type { JetStreamManager } from "@nats-io/jetstream";

/** One reading of the stack's state, as the status line shows it. */
export interface StatusSnapshot {
  /** When it was read (ms since the epoch). */
  at: number;
  /** Events accepted by the collector since it started (all datasets). */
  eventsAccepted: number;
  /** Events rejected at the door since the collector started. */
  eventsRejected: number;
  /** Rows committed in the curated zone, per dataset. */
  rows: Record<string, number>;
  /** Now minus the newest committed row's ingest time, per dataset (ms); undefined while empty. */
  freshnessMs: Record<string, number | undefined>;
  /** Frames waiting or in flight per durable consumer. */
  lag: Record<string, number>;
  /** Messages in the dead-letter stream. */
  deadLetters: number;
}

/** Where {@link readStatus} looks. */
export interface StatusSources {
  collectorUrl: string;
  queryUrl: string;
  jsm: JetStreamManager;
  /** The accepted/rejected counters' names on the collector's /metrics. */
  acceptedMetric?: string;
  rejectedMetric?: string;
}

interface DatasetSummary {
  name: string;
  rows?: number;
  freshnessMs?: number | null;
}

/** Reads the collector's counters, the query service's dataset summary and JetStream's consumer lag. */
export async function readStatus(sources: StatusSources): Promise<StatusSnapshot> {
  const snapshot: StatusSnapshot = {
    at: Date.now(),
    eventsAccepted: 0,
    eventsRejected: 0,
    rows: {},
    freshnessMs: {},
    lag: {},
    deadLetters: 0,
  };
  const [metrics, datasets] = await Promise.all([
    fetchText(`${sources.collectorUrl}/metrics`),
    fetchJson<DatasetSummary[] | { datasets: DatasetSummary[] }>(`${sources.queryUrl}/v1/datasets`),
  ]);
  if (metrics !== undefined) {
    const samples = parsePrometheusText(metrics);
    const accepted = sources.acceptedMetric ?? "inlet_collector_events_accepted_total";
    const rejected = sources.rejectedMetric ?? "inlet_collector_events_rejected_total";
    for (const [key, value] of samples) {
      const name = key.split("{", 1)[0];
      if (name === accepted) snapshot.eventsAccepted += value;
      else if (name === rejected) snapshot.eventsRejected += value;
    }
  }
  const list = Array.isArray(datasets) ? datasets : (datasets?.datasets ?? []);
  for (const ds of list) {
    snapshot.rows[ds.name] = ds.rows ?? 0;
    snapshot.freshnessMs[ds.name] = ds.freshnessMs ?? undefined;
  }
  try {
    for await (const stream of sources.jsm.streams.list()) {
      const name = stream.config.name;
      if (name.endsWith("DLQ")) snapshot.deadLetters += stream.state.messages;
      for await (const consumer of sources.jsm.consumers.list(name)) {
        snapshot.lag[consumer.name] = consumer.num_pending + consumer.num_ack_pending;
      }
    }
  } catch {
    // NATS is restarting: show what we have.
  }
  return snapshot;
}

/** One line: events/s in (between two snapshots), rows in the lake, the worst freshness, lag, dead letters. */
export function formatStatusLine(previous: StatusSnapshot | undefined, current: StatusSnapshot): string {
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  const rate = previous && seconds > 0 ? (current.eventsAccepted - previous.eventsAccepted) / seconds : 0;
  // Dead letters are counted from the DLQ; their table's age says nothing of the lake's freshness.
  const datasets = <T>(values: Record<string, T>): T[] =>
    Object.entries(values)
      .filter(([name]) => name !== DEAD_LETTERS_DATASET)
      .map(([, value]) => value);
  const rows = datasets(current.rows).reduce((a, b) => a + b, 0);
  const fresh = datasets(current.freshnessMs).filter((v): v is number => v !== undefined);
  const worst = fresh.length > 0 ? Math.max(...fresh) : undefined;
  const lag = Object.values(current.lag).reduce((a, b) => a + b, 0);
  return [
    `in ${formatCount(rate)}/s`,
    `accepted ${formatCount(current.eventsAccepted)}`,
    `rejected ${formatCount(current.eventsRejected)}`,
    `lake ${formatCount(rows)} rows`,
    `freshness ${worst === undefined ? "–" : `${(worst / 1000).toFixed(1)}s`}`,
    `lag ${formatCount(lag)} frames`,
    `dlq ${formatCount(current.deadLetters)}`,
  ].join(" │ ");
}

/** 1234 → "1,234"; 1234567 → "1.23M". */
export function formatCount(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  return Math.round(n).toLocaleString("en-US");
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

async function fetchJson<T>(url: string): Promise<T | undefined> {
  const text = await fetchText(url);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}
