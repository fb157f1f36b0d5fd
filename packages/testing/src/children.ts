import type { ChildProcess } from "node:child_process";

/** How a child process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Children still running. If the test process exits without stopping them (a crash, a missed
// teardown), they are killed on the way out instead of lingering and holding ports.
const running = new Map<ChildProcess, boolean>();
let hooked = false;

function killAll(): void {
  for (const [child, group] of running) {
    try {
      if (group && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Registers a spawned child to be killed if this process exits first (`group`: kill its whole
 * process group, for children spawned `detached`). Resolves with its exit status.
 */
export function trackChild(child: ChildProcess, group: boolean): Promise<ExitStatus> {
  if (!hooked) {
    process.once("exit", killAll);
    hooked = true;
  }
  running.set(child, group);
  return new Promise((resolve) => {
    // "close" rather than "exit": by then its output is fully read, so logs shown after it are complete.
    child.once("close", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
    child.once("error", () => {
      if (child.pid !== undefined) return;
      // It never started.
      running.delete(child);
      resolve({ code: null, signal: null });
    });
  });
}
