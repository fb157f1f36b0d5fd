import { readdirSync, readFileSync } from "node:fs";

/** Memory and CPU of one process, from /proc (Linux). */
export interface ProcSample {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size since the process started (VmHWM), MB. */
  hwmMb: number;
  /** User + system CPU time since the process started, seconds. */
  cpuS: number;
}

const TICKS_PER_S = 100;

/** Reads `/proc/<pid>/status` and `/proc/<pid>/stat`; undefined when the process is gone (or not Linux). */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      rssMb: kbField(status, "VmRSS") / 1024,
      hwmMb: kbField(status, "VmHWM") / 1024,
      cpuS: ticks / TICKS_PER_S,
    };
  } catch {
    return undefined;
  }
}

function kbField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status);
  return match === null ? 0 : Number(match[1]);
}

/** Per process: the highest RSS sampled, VmHWM at the end, and CPU used between `mark()` and `stop()`. */
export interface ProcSummary {
  sampledPeakMb: number;
  hwmMb: number;
  /** CPU used in the marked window as a share of one core (1.0 = one core busy). */
  cores: number;
}

/** Samples the RSS of named processes every `intervalMs` while running. */
export class ProcSampler {
  readonly #pids: Record<string, number>;
  readonly #peak = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #marked: { at: number; cpu: Map<string, number> } | undefined;

  constructor(pids: Record<string, number>, intervalMs = 500) {
    this.#pids = pids;
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
    this.#sample();
  }

  /** Starts the CPU window: CPU use is measured from here to {@link ProcSampler.stop}. */
  mark(): void {
    const cpu = new Map<string, number>();
    for (const [name, pid] of Object.entries(this.#pids)) cpu.set(name, sampleProcess(pid)?.cpuS ?? 0);
    this.#marked = { at: performance.now(), cpu };
  }

  /** Stops sampling; one entry per process. */
  stop(): Record<string, ProcSummary> {
    clearInterval(this.#timer);
    this.#sample();
    const elapsedS = this.#marked === undefined ? 0 : (performance.now() - this.#marked.at) / 1000;
    const out: Record<string, ProcSummary> = {};
    for (const [name, pid] of Object.entries(this.#pids)) {
      const now = sampleProcess(pid);
      const cpu0 = this.#marked?.cpu.get(name);
      out[name] = {
        sampledPeakMb: round1(this.#peak.get(name) ?? 0),
        hwmMb: round1(now?.hwmMb ?? 0),
        cores:
          now === undefined || cpu0 === undefined || elapsedS === 0
            ? 0
            : round2((now.cpuS - cpu0) / elapsedS),
      };
    }
    return out;
  }

  #sample(): void {
    for (const [name, pid] of Object.entries(this.#pids)) {
      const s = sampleProcess(pid);
      if (s !== undefined) this.#peak.set(name, Math.max(this.#peak.get(name) ?? 0, s.rssMb));
    }
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * CPU time (user + system, seconds) of one Node process's threads, grouped by what runs on them:
 * its JS thread, libuv's pool (DuckDB's statements and file-system calls run there), V8's helper
 * threads (garbage collection, compilation) and any other.
 */
export interface ThreadCpu {
  js: number;
  libuv: number;
  v8: number;
  other: number;
}

/** Reads each thread's `stat` under `/proc/<pid>/task`; undefined when the process is gone (or not Linux). */
export function sampleThreads(pid: number): ThreadCpu | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const cpu: ThreadCpu = { js: 0, libuv: 0, v8: 0, other: 0 };
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
    if (tid === String(pid)) cpu.js += seconds;
    else if (name.startsWith("libuv-worker")) cpu.libuv += seconds;
    else if (name.startsWith("V8")) cpu.v8 += seconds;
    else cpu.other += seconds;
  }
  return cpu;
}

/** The whole machine's CPU time from `/proc/stat`, seconds summed over its cores: busy and in all. */
export function sampleMachine(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is within user)
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = ticks[3]! + ticks[4]!;
    return { busy: (total - idle) / TICKS_PER_S, total: total / TICKS_PER_S };
  } catch {
    return undefined;
  }
}
