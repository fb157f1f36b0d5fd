/** Default number of lines a {@link LogTail} keeps. */
export const DEFAULT_TAIL_LINES = 200;

// A line longer than this is cut, so one runaway line cannot grow the buffer without bound.
const MAX_LINE_CHARS = 4_096;

/** The last `maxLines` lines written to it (default 200), for showing a child process's output on failure. */
export class LogTail {
  readonly #maxLines: number;
  readonly #lines: string[] = [];
  #partial = "";

  constructor(maxLines = DEFAULT_TAIL_LINES) {
    this.#maxLines = maxLines;
  }

  /** Adds a chunk of output; a line split across chunks is joined. */
  write(chunk: string | Uint8Array): void {
    const text = this.#partial + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    const parts = text.split("\n");
    this.#partial = clip(parts.pop() ?? "");
    for (const line of parts) this.#push(line);
  }

  /** The kept lines (and an unfinished last line), joined by newlines. */
  text(): string {
    const lines = this.#partial === "" ? this.#lines : [...this.#lines, this.#partial];
    return lines.join("\n");
  }

  #push(line: string): void {
    this.#lines.push(clip(line));
    if (this.#lines.length > this.#maxLines) this.#lines.shift();
  }
}

function clip(line: string): string {
  return line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
}
