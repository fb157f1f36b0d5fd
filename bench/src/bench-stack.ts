import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICE_ORDER, type ServiceName, type Stack, type StackPorts, startStack } from "@inlet/dev";
import { freePort } from "@inlet/testing";

/** A stack on free ports with its JetStream store and lake in a temporary directory. */
export interface BenchStack {
  stack: Stack;
  /** `http://127.0.0.1:<port>` of nats-server's monitoring endpoint. */
  monitorUrl: string;
  /** The pid of each service and of nats-server. */
  pids(): Record<string, number>;
  /** Stops everything and removes the temporary directory. */
  close(): Promise<void>;
}

/** Options of {@link startBenchStack}. */
export interface BenchStackOptions {
  rootDir: string;
  flushMs: number;
  writerMaxRows: number;
  /** When set, each service writes a CPU profile into `<profileDir>/<service>/` as it exits. */
  profileDir?: string;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Run the CDC source too, on this database and these tables. */
  cdc?: { databaseUrl: string; tables: string };
}

/** Starts nats-server and the five services with the bench's settings, never on the default ports. */
export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-bench-stack-"));
  const ports: StackPorts = {
    nats: await freePort(),
    natsMonitor: await freePort(),
    collector: await freePort(),
    processor: await freePort(),
    enricher: await freePort(),
    lakeWriter: await freePort(),
    query: await freePort(),
    cdc: await freePort(),
  };
  const serviceEnv: Partial<Record<ServiceName, Record<string, string>>> = {};
  if (options.profileDir !== undefined) {
    for (const name of SERVICE_ORDER) {
      const profileDir = join(options.profileDir, name);
      await mkdir(profileDir, { recursive: true });
      serviceEnv[name] = { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` };
    }
  }
  let stack: Stack;
  try {
    stack = await startStack({
      rootDir: options.rootDir,
      natsStoreDir: join(dir, "nats"),
      lakeDir: join(dir, "lake"),
      ports,
      env: {
        INLET_LOG_LEVEL: "warn",
        INLET_WRITER_FLUSH_MS: String(options.flushMs),
        INLET_WRITER_MAX_ROWS: String(options.writerMaxRows),
        ...options.env,
      },
      serviceEnv,
      ...(options.cdc === undefined ? {} : { cdc: options.cdc }),
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    stack,
    monitorUrl: `http://127.0.0.1:${ports.natsMonitor}`,
    pids() {
      const out: Record<string, number> = {};
      for (const name of stack.services) out[name] = stack.process(name).pid;
      out["nats-server"] = stack.process("nats").pid;
      return out;
    },
    async close() {
      try {
        await stack.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
