import { mkdir } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { type ExitStatus, type ManagedProcess, startProcess } from "@inlet/testing";

/**
 * The services: the five of the event pipeline, in flow order, and the CDC source, which runs when a
 * PostgreSQL database is given to capture.
 */
export const ServiceName = {
  Collector: "collector",
  Processor: "processor",
  Enricher: "enricher",
  LakeWriter: "lake-writer",
  Query: "query",
  Cdc: "cdc",
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

/**
 * Each service's V8 heap settings, as in its package.json `start` script and Dockerfile `CMD`
 * (stack.test.ts compares them): a heap cap, young-generation semi-spaces large enough that a
 * frame's decoded events die young, and Buffer memory counted within the heap limits, so a stream
 * of frames does not start a full collection every 64 MB of them. Each also starts with a larger
 * old generation (96 MB; 64 for the enricher, which needs no more, and the lake-writer, whose
 * DuckDB needs the rest of 300 MB): V8 then waits for the heap, Buffers counted, to reach it
 * before a full collection, instead of a limit sized from a 25 MB heap at rest, which a stream
 * of frames reached 2–4 times a second.
 */
const HEAP_FLAGS: Partial<Record<ServiceName, readonly string[]>> = {
  collector: [
    "--max-old-space-size=160",
    "--max-semi-space-size=32",
    "--initial-old-space-size=96",
    "--external-memory-accounted-in-global-limit",
  ],
  processor: [
    "--max-old-space-size=128",
    "--max-semi-space-size=32",
    "--initial-old-space-size=96",
    "--external-memory-accounted-in-global-limit",
  ],
  enricher: [
    "--max-old-space-size=160",
    "--max-semi-space-size=32",
    "--initial-old-space-size=64",
    "--external-memory-accounted-in-global-limit",
  ],
  "lake-writer": [
    "--max-old-space-size=96",
    "--max-semi-space-size=16",
    "--initial-old-space-size=64",
    "--external-memory-accounted-in-global-limit",
  ],
  query: ["--external-memory-accounted-in-global-limit"],
  cdc: [
    "--max-old-space-size=160",
    "--max-semi-space-size=32",
    "--initial-old-space-size=64",
    "--external-memory-accounted-in-global-limit",
  ],
};

/**
 * Each service's allocator settings, as in its package.json `start` script and Dockerfile `ENV`:
 * the lake-writer's DuckDB (jemalloc) keeps one arena and hands freed pages back within a second,
 * and glibc keeps two arenas, so its resident memory follows what it uses.
 */
const ALLOCATOR_ENV: Partial<Record<ServiceName, Record<string, string>>> = {
  "lake-writer": {
    DUCKDB_JE_MALLOC_CONF: "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0",
    MALLOC_ARENA_MAX: "2",
  },
};

/** The Node flags a service is started with (heap caps, source maps), as its `start` script has them. */
export function serviceNodeFlags(name: ServiceName): string[] {
  return [...(HEAP_FLAGS[name] ?? []), "--enable-source-maps"];
}

/** The environment a service is started with besides its configuration (allocator settings). */
export function serviceLaunchEnv(name: ServiceName): Record<string, string> {
  return { ...ALLOCATOR_ENV[name] };
}

/**
 * The environment nats-server is started with on one machine (`./inlet up`, the bench): Go's
 * scheduler sized to half the cores (at least one) unless `GOMAXPROCS` is set already. The server
 * shares the machine with five services; sized to every core, Go's idle workers spin looking for
 * work on cores the services need (measured on 2 cores: 6% more e2e events/s with one). A
 * deployment that gives nats-server its own machine or pod leaves Go's default.
 */
export function natsLaunchEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.GOMAXPROCS !== undefined && env.GOMAXPROCS !== "") return {};
  return { GOMAXPROCS: String(Math.max(1, Math.floor(availableParallelism() / 2))) };
}

/** The event pipeline's five services in flow order, upstream first: every stack runs them. */
export const SERVICE_ORDER: readonly ServiceName[] = [
  ServiceName.Collector,
  ServiceName.Processor,
  ServiceName.Enricher,
  ServiceName.LakeWriter,
  ServiceName.Query,
];

/** Every service, the CDC source last (it runs beside the pipeline, not in its flow). */
export const ALL_SERVICES: readonly ServiceName[] = [...SERVICE_ORDER, ServiceName.Cdc];

/** Ports of one stack; the defaults are what `./inlet up` uses. */
export interface StackPorts {
  nats: number;
  natsMonitor: number;
  collector: number;
  processor: number;
  enricher: number;
  lakeWriter: number;
  query: number;
  cdc: number;
}

/** Default ports: NATS 4222 (monitor 8222), collector 8080, query 8082, the rest 809x. */
export const DEFAULT_PORTS: StackPorts = {
  nats: 4222,
  natsMonitor: 8222,
  collector: 8080,
  processor: 8091,
  enricher: 8092,
  lakeWriter: 8093,
  query: 8082,
  cdc: 8094,
};

/** How to start a stack. */
export interface StackOptions {
  /** The repository root (holds apps/, config/, infra/). */
  rootDir: string;
  /** Where nats-server keeps JetStream data (default `<rootDir>/.inlet/nats`). */
  natsStoreDir?: string;
  /** The lake directory (default `<rootDir>/lake`). */
  lakeDir?: string;
  /** Config directory with datasets, pipeline and enrichment (default `<rootDir>/config`). */
  configDir?: string;
  ports?: Partial<StackPorts>;
  /** Extra environment for every service (e.g. flush interval). */
  env?: Record<string, string>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** When set, each process's output is appended to `<logDir>/<name>.log`. */
  logDir?: string;
  /** nats-server binary (default `$INLET_NATS_SERVER` or `<rootDir>/.tools/nats/nats-server`). */
  natsServer?: string;
  /**
   * Run the CDC source too, on this database and these tables (`INLET_CDC_DATABASE_URL`,
   * `INLET_CDC_TABLES`); started after the pipeline, stopped first.
   */
  cdc?: { databaseUrl: string; tables: string };
}

/** A running stack: nats-server and the five services (and the CDC source) as separate processes. */
export interface Stack {
  readonly natsUrl: string;
  /** The services it runs: {@link SERVICE_ORDER}, then `cdc` when it was asked for. */
  readonly services: readonly ServiceName[];
  readonly collectorUrl: string;
  readonly queryUrl: string;
  readonly ports: StackPorts;
  readonly lakeDir: string;
  /** The process of a service (or "nats"). */
  process(name: ServiceName | "nats"): ManagedProcess;
  /** The HTTP base URL of a service (health, metrics). */
  url(name: ServiceName): string;
  /** Starts a stopped (or killed) service again and waits until it is ready. */
  start(name: ServiceName | "nats"): Promise<void>;
  /** Stops one service with SIGTERM (SIGKILL after the timeout); resolves with how it exited. */
  stopService(name: ServiceName | "nats"): Promise<ExitStatus | undefined>;
  /** Stops the CDC source, every service in flow order, then nats-server. */
  stop(): Promise<void>;
}

/** Starts nats-server and then each service in flow order, each waited on until /readyz says so. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const rootDir = resolve(options.rootDir);
  const ports: StackPorts = { ...DEFAULT_PORTS, ...options.ports };
  const lakeDir = resolve(options.lakeDir ?? join(rootDir, "lake"));
  const configDir = resolve(options.configDir ?? join(rootDir, "config"));
  const natsStoreDir = resolve(options.natsStoreDir ?? join(rootDir, ".inlet", "nats"));
  const natsServer =
    options.natsServer ?? process.env.INLET_NATS_SERVER ?? join(rootDir, ".tools", "nats", "nats-server");
  await mkdir(natsStoreDir, { recursive: true });
  await mkdir(lakeDir, { recursive: true });
  if (options.logDir !== undefined) await mkdir(options.logDir, { recursive: true });

  const natsUrl = `nats://127.0.0.1:${ports.nats}`;
  const servicePort: Record<ServiceName, number> = {
    collector: ports.collector,
    processor: ports.processor,
    enricher: ports.enricher,
    "lake-writer": ports.lakeWriter,
    query: ports.query,
    cdc: ports.cdc,
  };
  const services: readonly ServiceName[] = options.cdc === undefined ? SERVICE_ORDER : ALL_SERVICES;
  const url = (name: ServiceName) => `http://127.0.0.1:${servicePort[name]}`;

  const common: Record<string, string> = {
    INLET_NATS_URL: natsUrl,
    INLET_CONFIG_DIR: configDir,
    INLET_LAKE_DIR: lakeDir,
    INLET_COLLECTOR_PORT: String(ports.collector),
    INLET_PROCESSOR_PORT: String(ports.processor),
    INLET_ENRICHER_PORT: String(ports.enricher),
    INLET_LAKE_WRITER_PORT: String(ports.lakeWriter),
    INLET_QUERY_PORT: String(ports.query),
    INLET_CDC_PORT: String(ports.cdc),
    ...(options.cdc === undefined
      ? {}
      : { INLET_CDC_DATABASE_URL: options.cdc.databaseUrl, INLET_CDC_TABLES: options.cdc.tables }),
    ...options.env,
  };

  const spawners: Record<ServiceName | "nats", () => Promise<ManagedProcess>> = {
    nats: () =>
      launch(
        "nats",
        natsServer,
        [
          "-c",
          join(rootDir, "infra", "nats", "single.conf"),
          "-a",
          "127.0.0.1",
          "-p",
          String(ports.nats),
          "-m",
          String(ports.natsMonitor),
          "-sd",
          natsStoreDir,
        ],
        natsLaunchEnv(),
        `http://127.0.0.1:${ports.natsMonitor}/healthz?js-enabled-only=true`,
      ),
    collector: () => launchService("collector"),
    processor: () => launchService("processor"),
    enricher: () => launchService("enricher"),
    "lake-writer": () => launchService("lake-writer"),
    query: () => launchService("query"),
    cdc: () => launchService("cdc"),
  };

  async function launch(
    name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    readyUrl: string,
  ): Promise<ManagedProcess> {
    const proc = await startProcess(name, {
      command,
      args,
      cwd: rootDir,
      env,
      readyUrl,
      readyTimeoutMs: 60_000,
      ...(options.logDir === undefined ? {} : { logFile: join(options.logDir, `${name}.log`) }),
    });
    await proc.waitReady();
    return proc;
  }

  function launchService(name: ServiceName): Promise<ManagedProcess> {
    return launch(
      name,
      process.execPath,
      [...serviceNodeFlags(name), join(rootDir, "apps", name, "dist", "main.js")],
      { ...common, ...serviceLaunchEnv(name), ...options.serviceEnv?.[name] },
      `${url(name)}/readyz`,
    );
  }

  const running = new Map<ServiceName | "nats", ManagedProcess>();
  const start = async (name: ServiceName | "nats") => {
    const proc = await spawners[name]();
    running.set(name, proc);
  };
  const stopService = async (name: ServiceName | "nats") => running.get(name)?.stop();

  // The source first, then the pipeline in flow order: each stage finishes what its upstream sent.
  const stopOrder: readonly ServiceName[] =
    options.cdc === undefined ? SERVICE_ORDER : [ServiceName.Cdc, ...SERVICE_ORDER];
  try {
    await start("nats");
    for (const name of services) await start(name);
  } catch (err) {
    for (const name of [...services].reverse()) await stopService(name).catch(() => {});
    await stopService("nats").catch(() => {});
    throw err;
  }

  return {
    natsUrl,
    services,
    collectorUrl: url("collector"),
    queryUrl: url("query"),
    ports,
    lakeDir,
    url,
    process(name) {
      const proc = running.get(name);
      if (!proc) throw new Error(`${name} was never started`);
      return proc;
    },
    start,
    stopService,
    async stop() {
      for (const name of stopOrder) await stopService(name).catch(() => {});
      await stopService("nats");
    },
  };
}
