import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type ExitStatus, trackChild } from "./children.js";
import { LogTail } from "./log-tail.js";

/** Options of {@link startProcess}. */
export interface ProcessOptions {
  command: string;
  args?: string[];
  /** Added to (and overriding) this process's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** An HTTP URL that answers 200 once the process is ready, polled by `waitReady()`. */
  readyUrl?: string;
  /** How long `waitReady()` waits, in ms (default 30 s). */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL, in ms (default 10 s). */
  stopTimeoutMs?: number;
  /** Also append everything it prints to this file (the run command keeps service logs in .inlet/logs). */
  logFile?: string;
}

/** A child process started by {@link startProcess} (in its own process group, so signals reach its children). */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** The origin of `readyUrl`, e.g. `http://127.0.0.1:8080`, when one was given. */
  readonly url: string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** The last 200 lines of its stdout and stderr. */
  logs(): string;
  /** Polls `readyUrl` until it answers 200; rejects (with the logs) on timeout or exit. Resolves at once without a URL. */
  waitReady(): Promise<void>;
  /** Sends `signal` to the process group. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves with how it exited. */
  stop(): Promise<ExitStatus>;
}

/** Thrown when a managed process cannot start or does not become ready. */
export class ProcessError extends Error {
  override readonly name = "ProcessError";
  readonly code: "START_FAILED" | "NOT_READY";

  constructor(message: string, code: "START_FAILED" | "NOT_READY", options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Spawns `command` (for end-to-end tests that run services as processes); resolves once it has started. */
export async function startProcess(name: string, options: ProcessOptions): Promise<ManagedProcess> {
  const child = spawn(options.command, options.args ?? [], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const log = new LogTail();
  const file = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: "a" });
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    file?.write(chunk);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = trackChild(child, true);
  if (file) void exited.finally(() => file.end());
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) =>
      reject(
        new ProcessError(`${name}: cannot run ${options.command}: ${err.message}`, "START_FAILED", {
          cause: err,
        }),
      ),
    );
  });
  return new ChildHandle(name, child, exited, log, options);
}

class ChildHandle implements ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly url: string | undefined;
  readonly exited: Promise<ExitStatus>;
  readonly #log: LogTail;
  readonly #options: ProcessOptions;
  #done = false;

  constructor(
    name: string,
    child: ChildProcess,
    exited: Promise<ExitStatus>,
    log: LogTail,
    options: ProcessOptions,
  ) {
    this.name = name;
    this.pid = child.pid!;
    this.url = options.readyUrl === undefined ? undefined : new URL(options.readyUrl).origin;
    this.exited = exited.then((status) => {
      this.#done = true;
      return status;
    });
    this.#log = log;
    this.#options = options;
  }

  logs(): string {
    return this.#log.text();
  }

  async waitReady(): Promise<void> {
    const { readyUrl, readyTimeoutMs = 30_000 } = this.#options;
    if (readyUrl === undefined) return;
    const deadline = Date.now() + readyTimeoutMs;
    let last = "no answer";
    for (;;) {
      if (this.#done) {
        const s = await this.exited;
        throw new ProcessError(
          `${this.name} exited before it was ready (code ${s.code}, signal ${s.signal}):\n${this.logs()}`,
          "NOT_READY",
        );
      }
      try {
        const res = await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) {
        throw new ProcessError(
          `${this.name} not ready after ${readyTimeoutMs} ms (${readyUrl}: ${last}):\n${this.logs()}`,
          "NOT_READY",
        );
      }
      await sleep(100);
    }
  }

  signal(signal: NodeJS.Signals): void {
    // To the group even when the leader is gone: a child it started may still run.
    try {
      process.kill(-this.pid, signal);
    } catch {
      // the group is gone already
    }
  }

  async stop(): Promise<ExitStatus> {
    this.signal("SIGTERM");
    const timeoutMs = this.#options.stopTimeoutMs ?? 10_000;
    const cancel = new AbortController();
    const timer = sleep(timeoutMs, "timeout" as const, { signal: cancel.signal }).catch(
      () => "cancelled" as const,
    );
    try {
      if ((await Promise.race([this.exited, timer])) === "timeout") this.signal("SIGKILL");
      return await this.exited;
    } finally {
      cancel.abort();
    }
  }
}
