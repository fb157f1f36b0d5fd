import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ExitStatus, trackChild } from "./children.js";
import { LogTail } from "./log-tail.js";
import { findRepoRoot } from "./repo-root.js";

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Enable JetStream with a temporary store directory (default true). */
  jetstream?: boolean;
  /** Extra nats-server command-line arguments, e.g. `["--max_payload", "2MB"]`. */
  args?: string[];
  /** How long to wait for the server to be ready, in ms (default 15 s). */
  startTimeoutMs?: number;
  /** Environment added to this process's for the server, e.g. `GOMAXPROCS`. */
  env?: Record<string, string>;
}

/** A nats-server child process on 127.0.0.1 with its own ports and store directory. */
export interface NatsServer {
  /** Client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** Client port; the same after {@link NatsServer.restart}. */
  readonly port: number;
  /** Monitoring URL, `http://127.0.0.1:<port>` (`/varz`, `/jsz`, `/healthz`). */
  readonly monitorUrl: string;
  /** JetStream store directory, kept across restarts, removed by {@link NatsServer.stop}. */
  readonly storeDir: string;
  /** The process id of the running server (changes on restart). */
  readonly pid: number | undefined;
  /** The last lines the server logged. */
  logs(): string;
  /** Sends SIGTERM, waits for the exit and removes the temporary directories. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the exit; the store is kept, so `restart()` works. */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Stops the server (if running) and starts it again on the same ports and store (JetStream data kept). */
  restart(): Promise<void>;
}

/** Thrown when nats-server cannot be found or does not come up. */
export class NatsServerError extends Error {
  override readonly name = "NatsServerError";
  readonly code: "NOT_FOUND" | "START_FAILED";

  constructor(message: string, code: "NOT_FOUND" | "START_FAILED", options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const BOOTSTRAP_HINT = "run scripts/bootstrap.sh (installs it into .tools/nats) or set INLET_NATS_SERVER";

/**
 * The nats-server binary to run: `INLET_NATS_SERVER`, else `<repo root>/.tools/nats/nats-server`,
 * else `nats-server` on PATH. Throws {@link NatsServerError} (NOT_FOUND) when there is none.
 */
export function resolveNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.INLET_NATS_SERVER;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    throw new NatsServerError(
      `INLET_NATS_SERVER=${fromEnv} is not an executable file; ${BOOTSTRAP_HINT}`,
      "NOT_FOUND",
    );
  }
  const root = findRepoRoot();
  const local = root === undefined ? undefined : join(root, ".tools", "nats", "nats-server");
  if (local !== undefined && isExecutable(local)) return local;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && isExecutable(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  throw new NatsServerError(`nats-server not found; ${BOOTSTRAP_HINT}`, "NOT_FOUND");
}

/**
 * Starts a real nats-server on a random port of 127.0.0.1 the way nats.js's test harness does
 * (`-p -1`, then read the ports file), with JetStream on a temporary store directory.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = resolveNatsServerBinary();
  const dir = await mkdtemp(join(tmpdir(), "inlet-nats-"));
  const server = new LocalNatsServer(binary, dir, options);
  try {
    await server.start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

interface Ports {
  nats: string[];
  monitoring?: string[];
}

class LocalNatsServer implements NatsServer {
  readonly storeDir: string;
  readonly #binary: string;
  readonly #dir: string;
  readonly #portsDir: string;
  readonly #options: NatsServerOptions;
  readonly #log = new LogTail();
  #child: ChildProcess | undefined;
  #exited: Promise<ExitStatus> | undefined;
  #port = -1;
  #monitorPort = -1;
  #stopped = false;

  constructor(binary: string, dir: string, options: NatsServerOptions) {
    this.#binary = binary;
    this.#dir = dir;
    this.#portsDir = join(dir, "ports");
    this.storeDir = join(dir, "store");
    this.#options = options;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get monitorUrl(): string {
    return `http://127.0.0.1:${this.#monitorPort}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  logs(): string {
    return this.#log.text();
  }

  /** Spawns the server (random ports the first time, the same ports after) and waits until it is ready. */
  async start(): Promise<void> {
    if (this.#stopped) throw new NatsServerError("server was stopped; start a new one", "START_FAILED");
    await mkdir(this.#portsDir, { recursive: true });
    const jetstream = this.#options.jetstream ?? true;
    const args = [
      "-a",
      "127.0.0.1",
      "-p",
      String(this.#port),
      "-m",
      String(this.#monitorPort),
      "--ports_file_dir",
      this.#portsDir,
      ...(jetstream ? ["-js", "-sd", this.storeDir] : []),
      ...(this.#options.args ?? []),
    ];
    const child = spawn(this.#binary, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...this.#options.env },
    });
    this.#child = child;
    child.stdout?.on("data", (chunk: Buffer) => this.#log.write(chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.#log.write(chunk));
    const exited = trackChild(child, false);
    this.#exited = exited;
    const spawnFailed = new Promise<NatsServerError>((resolve) =>
      child.once("error", (err) =>
        resolve(new NatsServerError(`cannot run ${this.#binary}: ${err.message}`, "START_FAILED")),
      ),
    );
    const exitedEarly = exited.then(
      (s) =>
        new NatsServerError(
          `nats-server exited during start (code ${s.code}, signal ${s.signal}):\n${this.logs()}`,
          "START_FAILED",
        ),
    );
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 15_000);
    const ready = this.#waitReady(child, deadline);
    const outcome = await Promise.race([ready, spawnFailed, exitedEarly]);
    if (outcome instanceof Error) throw outcome;
  }

  // Resolves when ready, or never when the child dies first: start() then reports the exit.
  async #waitReady(child: ChildProcess, deadline: number): Promise<void> {
    const ports = await this.#readPortsFile(child, deadline);
    this.#port = portOf(ports.nats[0]);
    this.#monitorPort = portOf(ports.monitoring?.[0]);
    // The ports file appears once the listeners are up; /healthz also waits for JetStream to
    // have recovered its streams, which matters after a restart.
    const health = `${this.monitorUrl}/healthz`;
    for (;;) {
      if (!isRunning(child)) return never();
      try {
        const res = await fetch(health, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw this.#timeout("/healthz");
      await sleep(25);
    }
  }

  async #readPortsFile(child: ChildProcess, deadline: number): Promise<Ports> {
    const suffix = `_${child.pid}.ports`;
    for (;;) {
      if (!isRunning(child)) return never();
      const name = (await readdir(this.#portsDir)).find((f) => f.endsWith(suffix));
      if (name !== undefined) {
        try {
          return JSON.parse(await readFile(join(this.#portsDir, name), "utf8")) as Ports;
        } catch {
          // caught mid-write; read again
        }
      }
      if (Date.now() > deadline) throw this.#timeout("its ports file");
      await sleep(25);
    }
  }

  #timeout(what: string): NatsServerError {
    return new NatsServerError(
      `nats-server did not come up (waiting for ${what}):\n${this.logs()}`,
      "START_FAILED",
    );
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<ExitStatus> {
    const child = this.#child;
    const exited = this.#exited;
    if (child === undefined || exited === undefined) return { code: null, signal: null };
    if (isRunning(child)) child.kill(signal);
    const status = await exited;
    this.#child = undefined;
    this.#exited = undefined;
    return status;
  }

  async restart(): Promise<void> {
    await this.kill("SIGTERM");
    await this.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.kill("SIGTERM");
    await rm(this.#dir, { recursive: true, force: true });
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

function portOf(url: string | undefined): number {
  const port = url === undefined ? Number.NaN : Number(new URL(url).port);
  if (!Number.isInteger(port) || port <= 0) {
    throw new NatsServerError(`unexpected ports file entry: ${url}`, "START_FAILED");
  }
  return port;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return existsSync(path);
  } catch {
    return false;
  }
}
