import { IngestError, IngestErrorCode } from "./ingest-error.js";
import { describeJsonProblem, locateJsonError, problemAt } from "./json-error.js";

/** How a body was read. */
export const BodyFormat = {
  /** One JSON object, or a JSON array of them. */
  Json: "json",
  /** One JSON value per line (NDJSON / JSON Lines). */
  Ndjson: "ndjson",
} as const;

/** A {@link BodyFormat} value. */
export type BodyFormat = (typeof BodyFormat)[keyof typeof BodyFormat];

/** An NDJSON line that is not JSON: it becomes a rejected event, the other lines go on. */
export interface MalformedLine {
  /** 1-based line number in the body. */
  line: number;
  /** Where and why, e.g. `line 3, column 9: unexpected character "x", expected ',' or '}'`. */
  message: string;
  /** The line as sent. */
  raw: string;
}

/** The events of one body, in order. */
export interface ParsedBody {
  format: BodyFormat;
  /** The parsed values, one per event (undefined where the NDJSON line was malformed). */
  events: unknown[];
  /** Malformed NDJSON lines by event index. */
  malformed: Map<number, MalformedLine>;
}

/** Limits applied while reading a body. */
export interface BodyLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Most events one body may carry. */
  maxEvents: number;
}

const NDJSON_TYPES = /ndjson|jsonl|json-seq/i;

/**
 * Splits a request body into events. The body is a JSON object, a JSON array, or NDJSON: declared by
 * `contentType` (`application/x-ndjson`), or detected when the body is not one JSON value but its
 * first line is. Throws {@link IngestError} for a body too large, with too many events, empty, or
 * malformed as a whole; a malformed NDJSON line is only that event's problem.
 */
export function parseBody(
  bytes: Uint8Array,
  contentType: string | undefined,
  limits: BodyLimits,
): ParsedBody {
  if (bytes.byteLength > limits.maxBytes) {
    throw new IngestError(
      IngestErrorCode.BodyTooLarge,
      `body is ${bytes.byteLength} bytes, over the limit of ${limits.maxBytes} bytes: send fewer events per request`,
    );
  }
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (contentType !== undefined && NDJSON_TYPES.test(contentType)) return parseNdjson(text, limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (looksLikeNdjson(text)) return parseNdjson(text, limits);
    throw malformed(text, error);
  }
  const events = Array.isArray(value) ? value : [value];
  if (events.length === 0) throw new IngestError(IngestErrorCode.EmptyBody, "the body holds no events");
  tooMany(events.length, limits);
  return { format: BodyFormat.Json, events, malformed: new Map() };
}

function tooMany(count: number, limits: BodyLimits): void {
  if (count > limits.maxEvents) {
    throw new IngestError(
      IngestErrorCode.TooManyEvents,
      `body holds ${count} events, over the limit of ${limits.maxEvents} per request: split it`,
    );
  }
}

/** A body that is not one JSON value is NDJSON when it has several lines and its first line parses. */
function looksLikeNdjson(text: string): boolean {
  const start = firstNonBlank(text);
  const end = text.indexOf("\n", start);
  if (end === -1) return false;
  try {
    JSON.parse(text.slice(start, end));
    return true;
  } catch {
    return false;
  }
}

function firstNonBlank(text: string): number {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

function parseNdjson(text: string, limits: BodyLimits): ParsedBody {
  const lines = text.split("\n");
  let count = 0;
  for (const line of lines) if (!isBlank(line)) count++;
  if (count === 0) throw new IngestError(IngestErrorCode.EmptyBody, "the body holds no events");
  tooMany(count, limits);
  const events: unknown[] = new Array(count);
  const malformedLines = new Map<number, MalformedLine>();
  let index = 0;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (isBlank(line)) continue;
    try {
      events[index] = JSON.parse(line);
    } catch {
      const problem = locateJsonError(line) ?? problemAt(line, 0, "not valid JSON");
      const message = describeJsonProblem({ ...problem, line: n + 1 });
      malformedLines.set(index, { line: n + 1, message, raw: line });
    }
    index++;
  }
  return { format: BodyFormat.Ndjson, events, malformed: malformedLines };
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

function malformed(text: string, cause: unknown): IngestError {
  if (isBlank(text.replaceAll("\n", ""))) {
    return new IngestError(
      IngestErrorCode.EmptyBody,
      "the body is empty: send a JSON object, array or NDJSON",
    );
  }
  const problem = locateJsonError(text);
  const where = problem ? describeJsonProblem(problem) : String(cause);
  return new IngestError(IngestErrorCode.MalformedBody, `malformed JSON at ${where}`, { cause });
}
