// A small reader of the Prometheus text exposition format, hand-written (no dependency) because the
// run command's status line and the tests only need "sample name + labels → value".

/** Codes carried by {@link PrometheusTextError}. */
export const PrometheusTextErrorCode = {
  /** A sample line does not follow the text exposition format. */
  InvalidLine: "PROMETHEUS_INVALID_LINE",
} as const;

/** A {@link PrometheusTextErrorCode} value. */
export type PrometheusTextErrorCode = (typeof PrometheusTextErrorCode)[keyof typeof PrometheusTextErrorCode];

/** A line of Prometheus text that could not be read; `line` is 1-based. */
export class PrometheusTextError extends Error {
  override readonly name = "PrometheusTextError";
  readonly code: PrometheusTextErrorCode = PrometheusTextErrorCode.InvalidLine;
  /** The 1-based line number of the bad line. */
  readonly line: number;

  constructor(message: string, line: number, options?: { cause?: unknown }) {
    super(`prometheus text line ${line}: ${message}`, options);
    this.line = line;
  }
}

function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/**
 * The key {@link parsePrometheusText} files a sample under: `name` alone, or
 * `name{a="1",b="2"}` with labels sorted by name and values escaped as in the text format.
 */
export function prometheusKey(name: string, labels?: Readonly<Record<string, string>>): string {
  if (labels === undefined) return name;
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  return `${name}{${names.map((n) => `${n}="${escapeLabelValue(labels[n] ?? "")}"`).join(",")}}`;
}

function parseValue(token: string): number {
  switch (token) {
    case "+Inf":
    case "Inf":
      return Number.POSITIVE_INFINITY;
    case "-Inf":
      return Number.NEGATIVE_INFINITY;
    case "NaN":
      return Number.NaN;
    default:
      return token === "" ? Number.NaN : Number(token);
  }
}

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

/**
 * Reads Prometheus text format into a map from {@link prometheusKey} (`name{label="v",…}`, labels
 * sorted) to the sample's value; comments, `# HELP`/`# TYPE` lines and timestamps are skipped.
 * Throws {@link PrometheusTextError} on a malformed sample line.
 */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const lineNo = n + 1;
    let i = 0;
    while (i < line.length && line[i] !== "{" && !isBlank(line[i])) i++;
    const name = line.slice(0, i);
    if (name === "") throw new PrometheusTextError("missing metric name", lineNo);
    const labels: Record<string, string> = {};
    if (line[i] === "{") {
      i++;
      for (;;) {
        while (isBlank(line[i]) || line[i] === ",") i++;
        if (i >= line.length) throw new PrometheusTextError("unterminated label set", lineNo);
        if (line[i] === "}") {
          i++;
          break;
        }
        const eq = line.indexOf("=", i);
        if (eq < 0 || line[eq + 1] !== '"') throw new PrometheusTextError('expected label="value"', lineNo);
        const label = line.slice(i, eq).trim();
        let value = "";
        i = eq + 2;
        for (;;) {
          const c = line[i];
          if (c === undefined) throw new PrometheusTextError("unterminated label value", lineNo);
          i++;
          if (c === '"') break;
          if (c === "\\") {
            const next = line[i++];
            value += next === "n" ? "\n" : (next ?? "");
          } else {
            value += c;
          }
        }
        labels[label] = value;
      }
    }
    while (isBlank(line[i])) i++;
    let end = i;
    while (end < line.length && !isBlank(line[end])) end++;
    const value = parseValue(line.slice(i, end));
    if (Number.isNaN(value) && line.slice(i, end) !== "NaN") {
      throw new PrometheusTextError(`expected a number, got "${line.slice(i, end)}"`, lineNo);
    }
    samples.set(prometheusKey(name, labels), value);
  }
  return samples;
}
