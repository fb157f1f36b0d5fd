import type { MachineInfo } from "./machine.js";
import type { WriterCpu } from "./writer.js";

/** The machine's ceilings, measured in the same run. */
export interface Ceilings {
  bus_publish_per_s: number | null;
  bus_consume_per_s: number | null;
  bus_message_bytes: number | null;
  parquet_events_per_s: number | null;
  /**
   * The same conversion of the rows the writer figure writes (enriched, with the envelope columns):
   * context for the writer figure, not the ceiling of its target.
   */
  parquet_curated_events_per_s: number | null;
  /** PostgreSQL's replication slot read by `pg-logical-replication` alone: the CDC figure's backlog, changes/s. */
  cdc_read_per_s: number | null;
}

/** Inlet's figures. */
export interface InletFigures {
  e2e_events_per_s: number | null;
  e2e_window_s: number | null;
  writer_events_per_s: number | null;
  /** The writer figure's drain at full speed: no startup, no wait for the last flush interval. */
  writer_steady_events_per_s: number | null;
  /** Where the writer figure's CPU went at full speed, per committed event (µs), by part. */
  writer_cpu_us_per_event: WriterCpuFigure | null;
  flush_interval_ms: number;
  freshness_p50_ms: number | null;
  freshness_p99_ms: number | null;
  freshness_rate_events_per_s: number | null;
  /** Peak RSS (VmHWM) of each service during e2e, MB. */
  peak_rss_mb: Record<string, number> | null;
  query_api_ms: number | null;
  query_duckdb_ms: number | null;
  json_rows_per_s: number | null;
  /** A slot's backlog of updates from the CDC source's start to the last one queryable in the lake, changes/s. */
  cdc_changes_per_s: number | null;
}

/**
 * Where the writer figure's CPU went at full speed: core time per committed event (µs) of the
 * lake-writer's JS thread, its libuv threads (DuckDB's `COPY`s, file-system calls), V8's helper
 * threads and its other threads, nats-server's, their total; the share of all the machine's cores
 * busy in the window (every process counted); the window (s).
 */
export interface WriterCpuFigure {
  js_thread: number;
  libuv_threads: number;
  v8_helpers: number;
  other_threads: number;
  nats_server: number;
  total: number;
  machine_busy: number;
  window_s: number;
}

/** The writer figure's {@link WriterCpu} under the names of `latest.json`'s figures. */
export function writerCpuFigure(cpu: WriterCpu | null): WriterCpuFigure | null {
  if (cpu === null) return null;
  return {
    js_thread: cpu.jsThreadUs,
    libuv_threads: cpu.libuvThreadsUs,
    v8_helpers: cpu.v8HelpersUs,
    other_threads: cpu.otherThreadsUs,
    nats_server: cpu.natsServerUs,
    total: cpu.totalUs,
    machine_busy: cpu.machineBusy,
    window_s: cpu.windowS,
  };
}

/** How a target compares a figure with its threshold. */
export const Comparison = { AtLeast: ">=", AtMost: "<=" } as const;

/** One of {@link Comparison}. */
export type Comparison = (typeof Comparison)[keyof typeof Comparison];

/** One target of the issue: a value (often a ratio), its threshold and whether it passed. */
export interface Target {
  name: string;
  /** What is compared, in words. */
  what: string;
  value: number | null;
  comparison: Comparison;
  threshold: number | null;
  unit: string;
  /** null when a figure it needs was not measured. */
  pass: boolean | null;
}

/** Everything one run wrote to `latest.json`. */
export interface BenchResults {
  date: string;
  /** `full`, `quick`, `partial` (a subset of figures) or `experiment` (`--profile` or `--env`). */
  kind: "full" | "quick" | "partial" | "experiment";
  durationS: number;
  machine: MachineInfo;
  ceilings: Ceilings;
  inlet: InletFigures;
  targets: Target[];
  /** The detail behind each figure (counts, sizes, per-stream backlogs, CPU per service…). */
  details: Record<string, unknown>;
  /** What went wrong, per figure, when a figure failed. */
  errors: Record<string, string>;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100;
}

function target(
  name: string,
  what: string,
  value: number | null,
  comparison: Comparison,
  threshold: number | null,
  unit: string,
): Target {
  const pass =
    value === null || threshold === null
      ? null
      : comparison === Comparison.AtLeast
        ? value >= threshold
        : value <= threshold;
  return { name, what, value, comparison, threshold, unit, pass };
}

/** The targets of issue 3, computed from one run's figures. */
export function computeTargets(c: Ceilings, f: InletFigures): Target[] {
  const rss = f.peak_rss_mb === null ? null : Math.max(...Object.values(f.peak_rss_mb));
  return [
    target(
      "e2e_vs_bus_publish",
      "e2e events/s ÷ bus publish msg/s",
      ratio(f.e2e_events_per_s, c.bus_publish_per_s),
      Comparison.AtLeast,
      3,
      "×",
    ),
    target(
      "writer_vs_parquet",
      "writer events/s ÷ parquet events/s",
      ratio(f.writer_events_per_s, c.parquet_events_per_s),
      Comparison.AtLeast,
      0.6,
      "×",
    ),
    target(
      "freshness_p99",
      "freshness p99 ≤ flush interval + 2 s",
      f.freshness_p99_ms,
      Comparison.AtMost,
      f.flush_interval_ms + 2_000,
      "ms",
    ),
    target("peak_rss", "highest service peak RSS during e2e", rss, Comparison.AtMost, 300, "MB"),
    target(
      "query_api_vs_duckdb",
      "group-by through the API ÷ DuckDB in-process",
      ratio(f.query_api_ms, f.query_duckdb_ms),
      Comparison.AtMost,
      1.3,
      "×",
    ),
    target(
      "json_rows_per_s",
      "100k-row JSON result through the API",
      f.json_rows_per_s,
      Comparison.AtLeast,
      300_000,
      "rows/s",
    ),
  ];
}

// Where the writer figure's CPU went, beside what its target would leave for all of it.
function writerCpuSection(r: BenchResults): string[] {
  const cpu = r.inlet.writer_cpu_us_per_event;
  if (!cpu) return []; // not measured, or a report from before it was
  const share = r.targets.find((t) => t.name === "writer_vs_parquet")?.threshold ?? null;
  const ceiling = r.ceilings.parquet_events_per_s;
  const budget = share === null || ceiling === null ? null : (r.machine.cores * 1e6) / (share * ceiling);
  return [
    "## Where the writer figure's CPU goes",
    "",
    `Core time per committed event at full speed (${fmt(cpu.window_s, 1)} s window), from \`/proc\`:`,
    "",
    "| part | µs per event |",
    "|---|---:|",
    `| lake-writer's JS thread: NATS client, frame checks, decoding, filling DuckDB's chunks, commits | ${fmt(cpu.js_thread, 2)} |`,
    `| lake-writer's libuv threads: DuckDB's \`COPY\`s (encoding, compression), file-system calls | ${fmt(cpu.libuv_threads, 2)} |`,
    `| lake-writer's V8 helper threads: garbage collection, compilation | ${fmt(cpu.v8_helpers, 2)} |`,
    `| lake-writer's other threads | ${fmt(cpu.other_threads, 2)} |`,
    `| nats-server | ${fmt(cpu.nats_server, 2)} |`,
    `| all of it | ${fmt(cpu.total, 2)} |`,
    "",
    `The machine was ${fmt(Math.round(cpu.machine_busy * 100))}% busy in the window, every process counted.` +
      (budget === null
        ? ""
        : ` The writer target (${fmt(share, 2)} × the parquet ceiling) on ${r.machine.cores} cores leaves ${fmt(budget, 2)} µs per event for all of it.`),
    "",
  ];
}

function fmt(value: number | null, digits = 0): string {
  if (value === null) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function verdict(pass: boolean | null): string {
  return pass === null ? "not measured" : pass ? "**pass**" : "**FAIL**";
}

/**
 * The Markdown report (`latest.md`): machine, figures, targets. With `previous` (the last full run,
 * as `latest.json` held it before this run), each target's value then stands beside its value now.
 */
export function renderMarkdown(r: BenchResults, previous?: BenchResults): string {
  const m = r.machine;
  const c = r.ceilings;
  const f = r.inlet;
  const before = new Map((previous?.targets ?? []).map((t) => [t.name, t]));
  const lines: string[] = [
    `# Inlet benchmark (${r.kind} run)`,
    "",
    `${r.date} · ${m.cores} cores (${m.cpuModel}) · ${m.memoryGb} GB · Node ${m.node} · nats-server ${m.natsServer} · DuckDB ${m.duckdb} · ${Math.round(r.durationS)} s`,
    "",
    "## Targets",
    "",
    ...(previous === undefined
      ? ["| target | value | threshold | result |", "|---|---:|---:|---|"]
      : [
          `The last column is the full run before this one (${previous.date.slice(0, 16).replace("T", " ")} UTC).`,
          "",
          "| target | value | threshold | result | last full run |",
          "|---|---:|---:|---|---:|",
        ]),
    ...r.targets.map((t) => {
      const row = `| ${t.what} | ${fmt(t.value, 2)} ${t.unit} | ${t.comparison} ${fmt(t.threshold, 2)} ${t.unit} | ${verdict(t.pass)} |`;
      if (previous === undefined) return row;
      const then = before.get(t.name);
      return `${row} ${then === undefined || then.value === null ? "–" : `${fmt(then.value, 2)} ${then.unit}`} |`;
    }),
    "",
    "## Ceilings (this machine, this run)",
    "",
    "| figure | value |",
    "|---|---:|",
    `| bus: JetStream publish, one message per event (${fmt(c.bus_message_bytes)} B) | ${fmt(c.bus_publish_per_s)} msg/s |`,
    `| bus: consume, ack each | ${fmt(c.bus_consume_per_s)} msg/s |`,
    `| parquet: DuckDB NDJSON → ZSTD Parquet | ${fmt(c.parquet_events_per_s)} events/s |`,
    `| parquet, on the rows the writer figure writes (enriched, with ids; context, not a target's ceiling) | ${fmt(c.parquet_curated_events_per_s)} events/s |`,
    `| cdc: a PostgreSQL slot's backlog read by the replication library alone | ${fmt(c.cdc_read_per_s)} changes/s |`,
    "",
    "## Inlet",
    "",
    "| figure | value |",
    "|---|---:|",
    `| e2e: producers → rows queryable in the lake (${fmt(f.e2e_window_s)} s window) | ${fmt(f.e2e_events_per_s)} events/s |`,
    `| writer: lake-writer alone, CURATED → committed Parquet | ${fmt(f.writer_events_per_s)} events/s |`,
    `| writer at full speed (the drain without startup and the last flush's wait) | ${fmt(f.writer_steady_events_per_s)} events/s |`,
    `| writer ÷ parquet on the writer's own rows (context, not a target) | ${fmt(ratio(f.writer_events_per_s, c.parquet_curated_events_per_s), 2)} × |`,
    `| freshness p50 at ${fmt(f.freshness_rate_events_per_s)} events/s (flush ${fmt(f.flush_interval_ms)} ms) | ${fmt(f.freshness_p50_ms)} ms |`,
    `| freshness p99 | ${fmt(f.freshness_p99_ms)} ms |`,
    ...Object.entries(f.peak_rss_mb ?? {}).map(
      ([svc, mb]) => `| peak RSS during e2e: ${svc} | ${fmt(mb)} MB |`,
    ),
    `| query: group-by through the API | ${fmt(f.query_api_ms, 1)} ms |`,
    `| query: same group-by, DuckDB in-process | ${fmt(f.query_duckdb_ms, 1)} ms |`,
    `| query: 100k-row JSON result through the API | ${fmt(f.json_rows_per_s)} rows/s |`,
    `| cdc: the same backlog, CDC source start → last change queryable in the lake (merged by key) | ${fmt(f.cdc_changes_per_s)} changes/s |`,
    `| cdc ÷ the slot read alone (context, not a target) | ${fmt(ratio(f.cdc_changes_per_s, c.cdc_read_per_s), 2)} × |`,
    "",
    ...writerCpuSection(r),
  ];
  const errors = Object.entries(r.errors);
  if (errors.length > 0) {
    lines.push("## Errors", "", ...errors.map(([k, v]) => `- ${k}: ${v.split("\n")[0]}`), "");
  }
  lines.push("Details (counts, sizes, backlogs, CPU per service) are in `latest.json` under `details`.", "");
  return lines.join("\n");
}
