import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

// The child imports the built package: dist/ must be current (`pnpm --filter @inlet/runtime build`).
const CHILD = fileURLToPath(new URL("../test/fixtures/run-service-child.mjs", import.meta.url));

type Line = Record<string, unknown> & { msg?: string };

interface Child {
  process: ChildProcess;
  lines: Line[];
  /** Resolves with the first log line whose message is `msg` (rejects after 10 s). */
  waitFor(msg: string): Promise<Line>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function runChild(mode: string): Child {
  const child = spawn(process.execPath, [CHILD, mode], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const lines: Line[] = [];
  const waiters: { msg: string; resolve: (line: Line) => void }[] = [];
  let buffered = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as Line;
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
      newline = buffered.indexOf("\n");
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    process: child,
    lines,
    exited,
    waitFor(msg) {
      const seen = lines.find((l) => l.msg === msg);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no "${msg}" line within 10 s; stdout: ${JSON.stringify(lines)} stderr: ${stderr}`),
            ),
          10_000,
        );
        waiters.push({
          msg,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() =>
          setImmediate(() =>
            reject(new Error(`exited before "${msg}"; stdout: ${JSON.stringify(lines)} stderr: ${stderr}`)),
          ),
        );
      });
    },
  };
}

const messages = (child: Child) => child.lines.map((l) => l.msg);

describe("runService", () => {
  it("on SIGTERM calls stop once, logs service stopped and exits 0", async () => {
    const child = runChild("clean");
    const started = await child.waitFor("service started");
    expect(started).toMatchObject({ level: "info", service: "child", name: "child" });
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(messages(child)).toEqual([
      "child starting",
      "service started",
      "service stopping",
      "child stop called",
      "service stopped",
    ]);
    expect(child.lines.find((l) => l.msg === "service stopping")?.signal).toBe("SIGTERM");
  });

  it("stops the same way on SIGINT", async () => {
    const child = runChild("clean");
    await child.waitFor("service started");
    child.process.kill("SIGINT");
    expect(await child.exited).toBe(0);
    expect(messages(child)).toContain("service stopped");
  });

  it("exits 1 when start fails, logging the error with its cause chain", async () => {
    const child = runChild("start-fails");
    expect(await child.exited).toBe(1);
    const failed = child.lines.find((l) => l.msg === "service failed to start");
    expect(failed).toMatchObject({
      level: "error",
      err: {
        message: "cannot connect to nats",
        cause: { message: "connect ECONNREFUSED 127.0.0.1:4222", code: "ECONNREFUSED" },
      },
    });
    expect(messages(child)).not.toContain("service started");
  });

  it("stops after start completes when the signal arrives during start", async () => {
    const child = runChild("signal-during-start");
    await child.waitFor("child starting");
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(messages(child)).toEqual([
      "child starting",
      "service stopping",
      "service started",
      "child stop called",
      "service stopped",
    ]);
  });

  it("exits 1 when stop outlives stopTimeoutMs", async () => {
    const child = runChild("stop-hangs");
    await child.waitFor("service started");
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(1);
    expect(messages(child)).toContain("service stop timed out");
    expect(messages(child)).not.toContain("service stopped");
  });

  it("exits 1 when stop fails", async () => {
    const child = runChild("stop-fails");
    await child.waitFor("service started");
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(1);
    expect(child.lines.find((l) => l.msg === "service stop failed")).toMatchObject({
      err: { message: "flush failed" },
    });
  });

  it("forces exit 1 on a second signal while stopping", async () => {
    const child = runChild("slow-stop");
    await child.waitFor("service started");
    child.process.kill("SIGTERM");
    await child.waitFor("child stop called");
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(1);
    expect(messages(child)).toContain("second signal, exiting without a clean stop");
    expect(messages(child)).not.toContain("service stopped");
  });

  it("exits 1 on an unhandled rejection", async () => {
    const child = runChild("rejection");
    expect(await child.exited).toBe(1);
    expect(child.lines.find((l) => l.msg === "unhandled rejection")).toMatchObject({
      level: "fatal",
      err: { message: "lost promise" },
    });
  });
});
