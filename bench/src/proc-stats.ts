import { readFileSync } from "node:fs";

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
