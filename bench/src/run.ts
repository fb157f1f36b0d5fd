#!/usr/bin/env node
// `pnpm bench` / `./inlet bench`: measures Inlet's figures and the machine's ceilings in one run and
// writes bench/results/latest.{json,md} (see bench/README.md for how to read them).
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SERVICE_ORDER } from "@inlet/dev";
import { findRepoRoot } from "@inlet/testing";
import { type BenchStack, startBenchStack } from "./bench-stack.js";
import { measureBusCeiling } from "./bus-ceiling.js";
import { measureCdc } from "./cdc.js";
import { summarizeProfiles, writeProfileSummary } from "./cpu-profile.js";
import { curatedLines, loadCuratedShape } from "./curated-events.js";
import { measureE2e, waitForDrain } from "./e2e.js";
import { measureFreshness } from "./freshness.js";
import { describeMachine } from "./machine.js";
import { ALL_FIGURES, type BenchOptions, Figure, parseOptions, USAGE, UsageError } from "./options.js";
import { measureParquetCeiling } from "./parquet-ceiling.js";
import { count, Progress } from "./progress.js";
import { measureQuery } from "./query.js";
import {
  type BenchResults,
  type Ceilings,
  computeTargets,
  type InletFigures,
  renderMarkdown,
  writerCpuFigure,
} from "./results.js";
import { measureTableAppend, measureWriter } from "./writer.js";

// Flush interval of the lake-writer for the writer figure (a drain of a pre-filled stream), ms:
// batches fill by their bounds during the drain, only the last partial ones wait for it.
const WRITER_FLUSH_MS = 250;

// Without an e2e figure in this run, freshness runs at this rate (events/s).
const DEFAULT_FRESHNESS_RATE = 5_000;

async function main(): Promise<number> {
  const rootDir = findRepoRoot();
  if (rootDir === undefined) throw new Error("cannot find the repository root (pnpm-workspace.yaml)");
  let options: BenchOptions | "help";
  try {
    options = parseOptions(process.argv.slice(2), rootDir);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
      process.stderr.write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = options;
  const startedAt = performance.now();
  const progress = new Progress();
  const machine = await describeMachine();
  const kind = runKind(o);
  progress.note(
    `Inlet bench (${kind}): ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, ` +
      `nats-server ${machine.natsServer}, DuckDB ${machine.duckdb}`,
  );

  const ceilings: Ceilings = {
    bus_publish_per_s: null,
    bus_consume_per_s: null,
    bus_message_bytes: null,
    parquet_events_per_s: null,
    parquet_curated_events_per_s: null,
    cdc_read_per_s: null,
  };
  const inlet: InletFigures = {
    e2e_events_per_s: null,
    e2e_window_s: null,
    writer_events_per_s: null,
    writer_steady_events_per_s: null,
    writer_cpu_us_per_event: null,
    flush_interval_ms: o.flushMs,
    freshness_p50_ms: null,
    freshness_p99_ms: null,
    freshness_rate_events_per_s: null,
    peak_rss_mb: null,
    query_api_ms: null,
    query_duckdb_ms: null,
    json_rows_per_s: null,
    cdc_changes_per_s: null,
  };
  // Without the output paths: committed results hold no machine paths.
  const { outDir: _out, profileDir: _profiles, ...settings } = o;
  const details: Record<string, unknown> = { options: { ...settings, figures: [...o.figures] } };
  const errors: Record<string, string> = {};
  const wants = (f: Figure) => o.figures.has(f);
  if (o.profile) await rm(o.profileDir, { recursive: true, force: true });

  // Each figure runs on its own; one failing is recorded and the rest still run.
  const attempt = async (name: string, fn: (phase: ReturnType<Progress["phase"]>) => Promise<string>) => {
    const phase = progress.phase(name);
    try {
      phase.done(await fn(phase));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      errors[name] = message;
      phase.fail(message.split("\n")[0] ?? message);
    }
  };

  if (wants(Figure.Bus)) {
    await attempt("bus", async (phase) => {
      const bus = await measureBusCeiling(o.busEvents, phase);
      ceilings.bus_publish_per_s = bus.publishPerS;
      ceilings.bus_consume_per_s = bus.consumePerS;
      ceilings.bus_message_bytes = bus.messageBytes;
      details.bus = bus;
      return `publish ${count(bus.publishPerS)} msg/s · consume ${count(bus.consumePerS)} msg/s (${count(bus.messages)} × ${bus.messageBytes} B)`;
    });
  }
  if (wants(Figure.Parquet)) {
    await attempt("parquet", async (phase) => {
      const parquet = await measureParquetCeiling(o.parquetEvents, phase);
      ceilings.parquet_events_per_s = parquet.eventsPerS;
      // The same conversion of the rows the writer figure writes: enriched, with the envelope.
      const shape = await loadCuratedShape(join(rootDir, "config"));
      const curated = await measureParquetCeiling(o.parquetEvents, phase, (ds, n, seed) =>
        curatedLines(shape, ds, n, seed),
      );
      ceilings.parquet_curated_events_per_s = curated.eventsPerS;
      details.parquet = { ...parquet, curatedRows: curated };
      return (
        `${count(parquet.eventsPerS)} events/s (${count(parquet.events)} events of ${parquet.eventBytes} B in ${parquet.seconds.toFixed(2)} s) · ` +
        `the writer's rows (${curated.eventBytes} B): ${count(curated.eventsPerS)} events/s`
      );
    });
  }
  if (wants(Figure.Writer)) {
    await attempt("writer", async (phase) => {
      const writer = await measureWriter(
        rootDir,
        o.writerEvents,
        {
          // The stream's last partial batch waits one flush interval: keep it short beside the drain.
          flushMs: Math.min(o.flushMs, WRITER_FLUSH_MS),
          maxRows: o.writerMaxRows,
          env: o.serviceEnv,
          ...(o.profile ? { profileDir: join(o.profileDir, "writer-alone", "lake-writer") } : {}),
        },
        phase,
      );
      inlet.writer_events_per_s = writer.eventsPerS;
      inlet.writer_steady_events_per_s = writer.steadyEventsPerS;
      inlet.writer_cpu_us_per_event = writerCpuFigure(writer.cpu);
      const lakeAlone = await measureTableAppend(rootDir, o.writerEvents / 4, o.writerMaxRows, phase);
      details.writer = { ...writer, lakeAppendAlone: lakeAlone };
      return (
        `${count(writer.eventsPerS)} events/s (${count(writer.events)} events in ${writer.seconds} s, ` +
        `${writer.commits} commits; startup ${writer.startupMs} ms; full speed ${writer.steadyEventsPerS === null ? "–" : count(writer.steadyEventsPerS)} events/s) · ` +
        `CPU ${writer.cpu === null ? "–" : writer.cpu.totalUs} µs per event · lake package alone ${count(lakeAlone.eventsPerS)} events/s`
      );
    });
  }

  const needsStack = wants(Figure.E2e) || wants(Figure.Memory) || wants(Figure.Freshness);
  if (needsStack) {
    let bench: BenchStack | undefined;
    await attempt("stack", async (phase) => {
      phase.update("starting nats-server and the five services");
      bench = await startBenchStack({
        rootDir,
        flushMs: o.flushMs,
        writerMaxRows: o.writerMaxRows,
        env: o.serviceEnv,
        ...(o.profile ? { profileDir: o.profileDir } : {}),
      });
      return `nats-server + 5 services up (collector ${bench.stack.collectorUrl}, query ${bench.stack.queryUrl})`;
    });
    if (bench !== undefined) {
      const stack = bench;
      try {
        if (wants(Figure.E2e) || wants(Figure.Memory)) {
          await attempt("e2e", async (phase) => {
            const e2e = await measureE2e(stack, o, phase);
            inlet.e2e_events_per_s = e2e.eventsPerS;
            inlet.e2e_window_s = e2e.windowS;
            const rss: Record<string, number> = {};
            for (const name of SERVICE_ORDER) {
              const p = e2e.processes[name];
              if (p !== undefined) rss[name] = p.hwmMb;
            }
            inlet.peak_rss_mb = rss;
            details.e2e = e2e;
            const cpu = Object.entries(e2e.processes)
              .map(([n, p]) => `${n} ${p.cores}`)
              .join(", ");
            return `${count(e2e.eventsPerS)} events/s over ${e2e.windowS} s · peak RSS ${Math.max(...Object.values(rss)).toFixed(0)} MB · cores: ${cpu}`;
          });
        }
        if (wants(Figure.Freshness)) {
          await attempt("freshness", async (phase) => {
            const drain = await waitForDrain(stack, o.flushMs, 90_000, phase);
            const rate =
              inlet.e2e_events_per_s === null ? DEFAULT_FRESHNESS_RATE : inlet.e2e_events_per_s / 2;
            const fresh = await measureFreshness(stack, o, rate, phase);
            inlet.freshness_p50_ms = fresh.p50Ms;
            inlet.freshness_p99_ms = fresh.p99Ms;
            inlet.freshness_rate_events_per_s = fresh.eventsPerS;
            details.freshness = { ...fresh, drainedBefore: drain.drained };
            return `p50 ${count(fresh.p50Ms)} ms · p99 ${count(fresh.p99Ms)} ms at ${count(fresh.eventsPerS)} events/s (${fresh.probes} probes, ${fresh.unseen} unseen)`;
          });
        }
      } finally {
        const phase = progress.phase("stop");
        await stack.close().catch((err: unknown) => phase.fail(String(err)));
        phase.done("stack stopped");
      }
    }
  }

  if (wants(Figure.Cdc)) {
    await attempt("cdc", async (phase) => {
      const cdc = await measureCdc(
        rootDir,
        { tableRows: o.cdcTableRows, changes: o.cdcChanges, env: o.serviceEnv },
        phase,
      );
      ceilings.cdc_read_per_s = cdc.readPerS;
      inlet.cdc_changes_per_s = cdc.changesPerS;
      details.cdc = cdc;
      if (!cdc.converged) throw new Error("the lake's table does not equal the source table after the drain");
      return (
        `${count(cdc.changesPerS)} changes/s into the lake (${count(cdc.changes)} in ${cdc.seconds} s, ${cdc.commits} commits) · ` +
        `the slot read alone ${count(cdc.readPerS)} changes/s · peak RSS cdc ${cdc.peakRssMb.cdc ?? "–"} MB, lake-writer ${cdc.peakRssMb.lakeWriter ?? "–"} MB`
      );
    });
  }

  if (wants(Figure.Query)) {
    await attempt("query", async (phase) => {
      const q = await measureQuery(rootDir, o.queryRows, phase, {
        env: o.serviceEnv,
        ...(o.profile ? { profileDir: join(o.profileDir, "query-alone", "query") } : {}),
      });
      inlet.query_api_ms = q.apiMs;
      inlet.query_duckdb_ms = q.duckdbMs;
      inlet.json_rows_per_s = q.jsonRowsPerS;
      details.query = q;
      return `group-by over ${count(q.rows)} rows: API ${q.apiMs} ms vs in-process ${q.duckdbMs} ms · JSON ${count(q.jsonRowsPerS)} rows/s`;
    });
  }

  if (o.profile) {
    await attempt("profiles", async () => {
      const summaries = [
        ...(await summarizeProfiles(o.profileDir)),
        ...(await summarizeProfiles(join(o.profileDir, "writer-alone")).catch(() => [])).map((s) => ({
          ...s,
          service: `${s.service} (writer figure)`,
        })),
        ...(await summarizeProfiles(join(o.profileDir, "query-alone")).catch(() => [])).map((s) => ({
          ...s,
          service: `${s.service} (query figure)`,
        })),
      ].filter((s) => !s.service.endsWith("-alone"));
      await writeProfileSummary(o.profileDir, summaries);
      details.profiles = summaries;
      return `${summaries.length} profiles summarised in ${join(o.profileDir, "summary.md")}`;
    });
  }

  const results: BenchResults = {
    date: new Date().toISOString(),
    kind,
    durationS: Math.round((performance.now() - startedAt) / 1000),
    machine,
    ceilings,
    inlet,
    targets: computeTargets(ceilings, inlet),
    details,
    errors,
  };
  // Only a full run with the default settings replaces the committed results; others go beside them.
  const base = kind === "full" ? "latest" : kind;
  await mkdir(o.outDir, { recursive: true });
  const markdown = renderMarkdown(results, await lastFullRun(join(o.outDir, "latest.json")));
  await writeFile(join(o.outDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(o.outDir, `${base}.md`), markdown);
  process.stdout.write(`\n${markdown}\nwrote ${join(o.outDir, `${base}.json`)} and ${base}.md\n`);
  return Object.keys(errors).length > 0 ? 1 : 0;
}

// The results of the last full run, as `latest.json` holds them; undefined when there is none yet.
async function lastFullRun(path: string): Promise<BenchResults | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const results = JSON.parse(text) as BenchResults;
  return results.kind === "full" && Array.isArray(results.targets) ? results : undefined;
}

/** `full` (all figures, default settings), `quick`, `partial` (a subset) or `experiment` (profiled or tuned). */
function runKind(o: BenchOptions): BenchResults["kind"] {
  if (o.profile || Object.keys(o.serviceEnv).length > 0) return "experiment";
  if (o.figures.size < ALL_FIGURES.length) return "partial";
  return o.quick ? "quick" : "full";
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
