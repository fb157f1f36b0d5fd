/** One running phase of the bench: a line with its name, elapsed time and a live counter. */
export interface Phase {
  /** Replaces the live counter text, e.g. `120,000 / 240,000 published`. */
  update(text: string): void;
  /** Ends the phase with a one-line summary. */
  done(summary: string): void;
  /** Ends the phase as failed. */
  fail(reason: string): void;
}

const REDRAW_MS = 250;
// Without a terminal (CI logs), one line per phase every this often.
const LOG_EVERY_MS = 10_000;

/**
 * The progress display: on a terminal, one line per phase redrawn in place four times a second;
 * otherwise a line every 10 s. Writes to stderr, so stdout stays clean.
 */
export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #started = Date.now();

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  /** Prints a plain line (above any live line). */
  note(line: string): void {
    this.#write(`${line}\n`);
  }

  /** Starts a phase named `name` (`bus`, `e2e`…). */
  phase(name: string): Phase {
    const started = Date.now();
    let text = "starting";
    let lastLogged = started;
    let finished = false;
    const label = name.padEnd(10);
    const line = () => `  ${label} ${seconds(Date.now() - started).padStart(6)}  ${text}`;
    const timer = setInterval(() => {
      if (this.#tty) this.#write(`\r\x1b[K${line()}`);
      else if (Date.now() - lastLogged >= LOG_EVERY_MS) {
        lastLogged = Date.now();
        this.#write(`${line()}\n`);
      }
    }, REDRAW_MS);
    timer.unref();
    const end = (mark: string, summary: string) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      const total = seconds(Date.now() - this.#started);
      this.#write(
        `${this.#tty ? "\r\x1b[K" : ""}${mark} ${label} ${seconds(Date.now() - started).padStart(6)}  ${summary}  [${total} total]\n`,
      );
    };
    if (!this.#tty) this.#write(`  ${label}  started\n`);
    return {
      update: (t) => {
        text = t;
      },
      done: (summary) => end("✓", summary),
      fail: (reason) => end("✗", reason),
    };
  }

  #write(s: string): void {
    this.#out.write(s);
  }
}

/** `12.3s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** `123,456` (en-US grouping, no fraction). */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
