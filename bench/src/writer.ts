import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectBus,
  createSubjects,
  DurableName,
  ensureConsumer,
  ensureStreams,
  type FrameEvent,
  publishFrame,
  Semaphore,
  Stage,
  StreamName,
  stageFrameId,
  streamSpecs,
} from "@inlet/bus";
import { ServiceName, serviceLaunchEnv, serviceNodeFlags } from "@inlet/dev";
import {
  type CuratedRow,
  CuratedTable,
  curatedTableDir,
  type DeltaSnapshot,
  ParquetWriter,
  readDeltaSnapshot,
} from "@inlet/lake";
import { registerDatasets, SchemaRegistry } from "@inlet/schema";
import { freePort, startNatsServer, startProcess } from "@inlet/testing";
import { curatedEvent, loadCuratedShape } from "./curated-events.js";
import { BENCH_DATASETS, generateEvents } from "./events.js";
import { sampleMachine, sampleProcess, sampleThreads, type ThreadCpu } from "./proc-stats.js";
import { count, type Phase } from "./progress.js";

/** The lake-writer alone, from a pre-filled CURATED stream to committed Parquet. */
export interface WriterResult {
  events: number;
  frames: number;
  /** From the first frame delivered to the lake-writer to the last row committed, s. */
  seconds: number;
  eventsPerS: number;
  /** From spawning the process to its first frame (or /readyz, if sooner), ms. */
  startupMs: number;
  /** Events/s counted from the spawn instead (startup included). */
  eventsPerSFromSpawn: number;
  commits: number;
  /**
   * Events/s while the drain runs at full speed: rows committed from the first poll that saw a
   * commit to the last poll before the final rows, over the time between (no startup, no wait for
   * the last partial batches' flush interval). Null when the drain was too short to tell.
   */
  steadyEventsPerS: number | null;
  /** Bytes of Avro payload per event in the frames. */
  payloadBytes: number;
  /**
   * Where the CPU went at full speed (over the polls `steadyEventsPerS` spans), per committed
   * event; null when the drain was too short to tell, or off Linux.
   */
  cpu: WriterCpu | null;
}

/** Core time per committed event (µs) of each part of the drain, and how busy the machine was. */
export interface WriterCpu {
  /** The lake-writer's JS thread: the NATS client, frame checks, decoding, filling DuckDB's chunks, commits. */
  jsThreadUs: number;
  /** libuv's pool in the lake-writer: DuckDB's `COPY`s (encoding, compressing, writing) and file-system calls. */
  libuvThreadsUs: number;
  /** V8's helper threads in the lake-writer: garbage collection and compilation. */
  v8HelpersUs: number;
  /** The lake-writer's other threads. */
  otherThreadsUs: number;
  /** nats-server, delivering the frames and taking the acks. */
  natsServerUs: number;
  /** All of the above. */
  totalUs: number;
  /** Share of all the machine's cores busy in the window, with every process counted (1 = all busy). */
  machineBusy: number;
  /** The window, seconds. */
  windowS: number;
}

// CPU time read at one poll, seconds.
interface CpuReading {
  writer: ThreadCpu;
  nats: number;
  machine: { busy: number; total: number };
}

const EVENTS_PER_FRAME = 1_000;
const PUBLISHES_IN_FLIGHT = 32;
const POLL_MS = 100;

/**
 * Pre-fills CURATED with `events` enriched demo events (the three datasets in equal parts, in frames
 * of 1,000 published with @inlet/bus as the enricher would), then starts only the lake-writer and
 * times it until every row is committed to the lake's Delta tables (read from the logs).
 */
export async function measureWriter(
  rootDir: string,
  events: number,
  options: { flushMs: number; maxRows: number; profileDir?: string; env?: Record<string, string> },
  phase: Phase,
): Promise<WriterResult> {
  const configDir = join(rootDir, "config");
  const { definitions, types, enrich } = await loadCuratedShape(configDir);
  const perDataset = Math.floor(events / BENCH_DATASETS.length);
  const dir = await mkdtemp(join(tmpdir(), "inlet-bench-writer-"));
  const lakeDir = join(dir, "lake");
  const server = await startNatsServer();
  try {
    const bus = await connectBus({ servers: server.url, name: "inlet-bench-writer" });
    let frames = 0;
    let payloadBytes = 0;
    try {
      const subjects = createSubjects();
      await ensureStreams(bus.jsm, streamSpecs());
      // The collector registers the schemas in a full stack; here nothing else runs.
      const registry = await SchemaRegistry.create(bus.nc);
      await registerDatasets(registry, definitions);
      await registry.close();
      // Interest retention keeps a message only for consumers that exist: create the lake-writer's first.
      for (const ds of BENCH_DATASETS) {
        await ensureConsumer(bus.jsm, StreamName.Curated, {
          durable: DurableName.lakeWriter(ds),
          filterSubjects: [subjects.curated(ds)],
          maxAckPending: 2_000,
          ackWaitMs: Math.max(30_000, 4 * options.flushMs),
        });
      }
      const slots = new Semaphore(PUBLISHES_IN_FLIGHT);
      let failure: unknown;
      for (const ds of BENCH_DATASETS) {
        const { type, version } = types.get(ds)!;
        for (let done = 0; done < perDataset; done += EVENTS_PER_FRAME) {
          phase.update(`pre-filling CURATED: ${ds} ${count(done)} / ${count(perDataset)}`);
          const n = Math.min(EVENTS_PER_FRAME, perDataset - done);
          const ingestedAt = Date.now();
          const frameEvents: FrameEvent[] = generateEvents(ds, n, 500 + done, version).map((e, i) => {
            const payload = type.toBuffer(enrich(ds, e));
            payloadBytes += payload.byteLength;
            return { id: `w-${ds}-${done + i}`, ingestedAt, payload };
          });
          const seq = ++frames;
          if (failure !== undefined) throw failure;
          await slots.acquire();
          publishFrame(bus.js, subjects.curated(ds), {
            events: frameEvents,
            schemaId: `${ds}@${version}`,
            msgId: stageFrameId(Stage.Enricher, ds, seq),
          })
            .catch((err: unknown) => {
              failure ??= err;
            })
            .finally(() => slots.release());
        }
      }
      await slots.idle();
      if (failure !== undefined) throw failure;
      const info = await bus.jsm.streams.info(StreamName.Curated);
      if (info.state.messages !== frames) {
        throw new Error(`CURATED holds ${info.state.messages} frames, ${frames} were published`);
      }
    } finally {
      await bus.close();
    }

    phase.update("starting the lake-writer");
    const port = await freePort();
    if (options.profileDir !== undefined) await mkdir(options.profileDir, { recursive: true });
    const spawnedAt = performance.now();
    const writer = await startProcess("lake-writer", {
      command: process.execPath,
      // Started as the stack starts it: the same heap caps and allocator settings.
      args: [
        ...serviceNodeFlags(ServiceName.LakeWriter),
        join(rootDir, "apps", "lake-writer", "dist", "main.js"),
      ],
      cwd: rootDir,
      env: {
        ...serviceLaunchEnv(ServiceName.LakeWriter),
        INLET_NATS_URL: server.url,
        INLET_CONFIG_DIR: configDir,
        INLET_LAKE_DIR: lakeDir,
        INLET_LAKE_WRITER_PORT: String(port),
        INLET_WRITER_FLUSH_MS: String(options.flushMs),
        INLET_WRITER_MAX_ROWS: String(options.maxRows),
        INLET_LOG_LEVEL: "warn",
        ...(options.profileDir === undefined
          ? {}
          : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${options.profileDir}` }),
        ...options.env,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
    });
    try {
      // The clock starts when the first frame is delivered: a dataset's writer may start pulling
      // before the whole service reports ready.
      const firstDelivery = firstDeliveryAt(server.url);
      await writer.waitReady();
      const readyAt = performance.now();
      const startedAt = Math.min(readyAt, await firstDelivery);
      const total = perDataset * BENCH_DATASETS.length;
      const snapshots = new Map<string, DeltaSnapshot>();
      // (time, rows committed) at each poll that saw rows committed but not all of them.
      const partial: { at: number; rows: number; cpu: CpuReading | undefined }[] = [];
      let rows = 0;
      const deadline = startedAt + 600_000;
      while (rows < total) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        rows = 0;
        for (const ds of BENCH_DATASETS) {
          const tableDir = curatedTableDir(lakeDir, ds);
          const since = snapshots.get(ds);
          const snapshot = await readDeltaSnapshot(tableDir, since === undefined ? {} : { since });
          if (snapshot !== undefined) snapshots.set(ds, snapshot);
          rows += committedRows(snapshots.get(ds));
        }
        if (rows > 0 && rows < total) {
          partial.push({ at: performance.now(), rows, cpu: readCpu(writer.pid, server.pid) });
        }
        const s = (performance.now() - startedAt) / 1000;
        phase.update(
          `${count(rows)} / ${count(total)} rows committed · ${count(rows / Math.max(s, 0.001))} rows/s`,
        );
        if (performance.now() > deadline)
          throw new Error(`only ${rows} of ${total} rows committed in 10 minutes`);
        if (rows > total) throw new Error(`${rows} rows committed, more than the ${total} published`);
      }
      const doneAt = performance.now();
      const seconds = (doneAt - startedAt) / 1000;
      return {
        events: total,
        frames,
        seconds: Math.round(seconds * 100) / 100,
        eventsPerS: Math.round(total / seconds),
        startupMs: Math.round(startedAt - spawnedAt),
        eventsPerSFromSpawn: Math.round(total / ((doneAt - spawnedAt) / 1000)),
        commits: [...snapshots.values()].reduce((n, s) => n + s.version + 1, 0),
        steadyEventsPerS: steadyRate(partial),
        payloadBytes: Math.round(payloadBytes / total),
        cpu: steadyCpu(partial),
      };
    } finally {
      await writer.stop();
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// When a lake-writer consumer first had a frame delivered (polled every 20 ms; gives up after 60 s).
async function firstDeliveryAt(natsUrl: string): Promise<number> {
  const bus = await connectBus({ servers: natsUrl, name: "inlet-bench-writer-watch" });
  try {
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      for (const ds of BENCH_DATASETS) {
        const info = await bus.jsm.consumers.info(StreamName.Curated, DurableName.lakeWriter(ds));
        if (info.delivered.stream_seq > 0) return performance.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return Number.POSITIVE_INFINITY;
  } finally {
    await bus.close();
  }
}

// Rows per second between the first and last of the polls that saw a partial count (at least
// three polls apart).
function steadyRate(partial: readonly { at: number; rows: number }[]): number | null {
  const first = partial[0];
  const last = partial.at(-1);
  if (first === undefined || last === undefined || partial.length < 4) return null;
  return Math.round((last.rows - first.rows) / ((last.at - first.at) / 1000));
}

function readCpu(writerPid: number, natsPid: number | undefined): CpuReading | undefined {
  const writer = sampleThreads(writerPid);
  const nats = natsPid === undefined ? undefined : sampleProcess(natsPid);
  const machine = sampleMachine();
  if (writer === undefined || nats === undefined || machine === undefined) return undefined;
  return { writer, nats: nats.cpuS, machine };
}

// The CPU per committed event between the same polls as steadyRate.
function steadyCpu(
  partial: readonly { at: number; rows: number; cpu: CpuReading | undefined }[],
): WriterCpu | null {
  const first = partial[0];
  const last = partial.at(-1);
  if (first?.cpu === undefined || last?.cpu === undefined || partial.length < 4) return null;
  const a = first.cpu;
  const b = last.cpu;
  const round2 = (n: number) => Math.round(n * 100) / 100;
  const perEvent = (seconds: number) => round2((seconds * 1e6) / (last.rows - first.rows));
  const parts = {
    jsThreadUs: perEvent(b.writer.js - a.writer.js),
    libuvThreadsUs: perEvent(b.writer.libuv - a.writer.libuv),
    v8HelpersUs: perEvent(b.writer.v8 - a.writer.v8),
    otherThreadsUs: perEvent(b.writer.other - a.writer.other),
    natsServerUs: perEvent(b.nats - a.nats),
  };
  return {
    ...parts,
    totalUs: round2(Object.values(parts).reduce((x, y) => x + y, 0)),
    machineBusy: round2((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)),
    windowS: round2((last.at - first.at) / 1000),
  };
}

function committedRows(snapshot: DeltaSnapshot | undefined): number {
  return snapshot === undefined ? 0 : snapshot.files.reduce((n, f) => n + (f.stats?.numRecords ?? 0), 0);
}

/**
 * The lake package alone, as a reference for the writer figure: `CuratedTable.append` of the same
 * enriched events, already decoded, in batches of `maxRows` (one ParquetWriter, in this process).
 * What the lake-writer spends beyond it goes to NATS, frame decoding and its own bookkeeping.
 */
export async function measureTableAppend(
  rootDir: string,
  events: number,
  maxRows: number,
  phase: Phase,
): Promise<{ events: number; seconds: number; eventsPerS: number }> {
  const configDir = join(rootDir, "config");
  const shape = await loadCuratedShape(configDir);
  const { definitions, types } = shape;
  const dir = await mkdtemp(join(tmpdir(), "inlet-bench-append-"));
  const writer = await ParquetWriter.create();
  const perDataset = Math.floor(events / BENCH_DATASETS.length);
  let seconds = 0;
  try {
    for (const ds of BENCH_DATASETS) {
      const { version } = types.get(ds)!;
      const def = definitions.find((d) => d.name === ds)!;
      const table = await CuratedTable.open({
        lakeDir: dir,
        dataset: ds,
        avroSchema: def.versions.at(-1)!.schema,
        schemaVersion: version,
        eventTimeField: def.settings.eventTimeField,
        appId: "bench",
        writer,
      });
      for (let done = 0; done < perDataset; done += maxRows) {
        phase.update(`lake alone: appending ${ds} ${count(done)} / ${count(perDataset)}`);
        const n = Math.min(maxRows, perDataset - done);
        const ingestedAt = Date.now();
        const rows: CuratedRow[] = generateEvents(ds, n, 700 + done, version).map((e, i) => ({
          event: curatedEvent(shape, ds, e),
          eventId: `a-${ds}-${done + i}`,
          ingestedAt,
          traceId: "0af7651916cd43dd8448eb211c80319c",
          schemaVersion: version,
        }));
        const started = performance.now();
        await table.append(rows, done + n);
        seconds += (performance.now() - started) / 1000;
      }
    }
  } finally {
    await writer.close();
    await rm(dir, { recursive: true, force: true });
  }
  const total = perDataset * BENCH_DATASETS.length;
  return { events: total, seconds: Math.round(seconds * 100) / 100, eventsPerS: Math.round(total / seconds) };
}
