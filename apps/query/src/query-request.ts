import { SqlFormat } from "@inlet/lake";
import { HttpError } from "@inlet/runtime";
import { z } from "zod";

/** Longest SQL text accepted, in characters. */
export const MAX_SQL_LENGTH = 100_000;

/** A `POST /v1/query` request, validated. */
export interface QueryRequest {
  sql: string;
  format: SqlFormat;
  /** Datasets read at an older table version: `{ "clicks": 3 }`. */
  versions?: Record<string, number>;
}

const FORMATS = Object.values(SqlFormat) as [SqlFormat, ...SqlFormat[]];

const queryBody = z.strictObject({
  sql: z.string().min(1).max(MAX_SQL_LENGTH),
  format: z.enum(FORMATS).optional(),
  version: z.record(z.string(), z.number().int().nonnegative()).optional(),
});

/** Media types a client may ask for in `Accept`, and the format each selects. */
const ACCEPTED: readonly [string, SqlFormat][] = [
  ["application/x-ndjson", SqlFormat.Ndjson],
  ["application/ndjson", SqlFormat.Ndjson],
  ["application/jsonl", SqlFormat.Ndjson],
  ["text/csv", SqlFormat.Csv],
  ["application/json", SqlFormat.Json],
];

/** The `Content-Type` of each format's response. */
export const FORMAT_CONTENT_TYPE: Readonly<Record<SqlFormat, string>> = {
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
};

/** The format an `Accept` header asks for: the first listed type we serve, or undefined. */
export function formatFromAccept(accept: string | undefined): SqlFormat | undefined {
  if (accept === undefined) return undefined;
  for (const part of accept.split(",")) {
    const type = part.split(";")[0]?.trim().toLowerCase();
    const match = ACCEPTED.find(([media]) => media === type);
    if (match !== undefined) return match[1];
  }
  return undefined;
}

/**
 * Validates a query request: a JSON body `{ sql, format?, version? }`, or (Content-Type
 * `application/sql` or `text/plain`, body not opening with `{`) the SQL text itself. `format` in the body wins over `Accept`;
 * the default is JSON. Throws a 400 naming what is wrong.
 */
export function parseQueryRequest(
  body: Buffer,
  contentType: string | undefined,
  accept: string | undefined,
): QueryRequest {
  const media = contentType?.split(";")[0]?.trim().toLowerCase();
  const fromAccept = formatFromAccept(accept) ?? SqlFormat.Json;
  const text = body.toString("utf8");
  // fetch() labels a string body text/plain, so a body that opens with "{" is JSON whatever the label.
  if ((media === "application/sql" || media === "text/plain") && !text.trimStart().startsWith("{")) {
    if (text.trim() === "" || text.length > MAX_SQL_LENGTH) {
      throw invalid(`the body must hold one SELECT of 1 to ${MAX_SQL_LENGTH} characters`);
    }
    return { sql: text, format: fromAccept };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(`request body is not valid JSON: ${(error as Error).message}`, error);
  }
  const parsed = queryBody.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join(".") : "body";
      return `${path}: ${issue.message}`;
    });
    throw invalid(
      `expected { "sql": "SELECT …", "format"?: "json"|"ndjson"|"csv", "version"?: { "<dataset>": <n> } }; ${problems.join("; ")}`,
    );
  }
  const request: QueryRequest = { sql: parsed.data.sql, format: parsed.data.format ?? fromAccept };
  if (parsed.data.version !== undefined) request.versions = parsed.data.version;
  return request;
}

function invalid(message: string, cause?: unknown): HttpError {
  return new HttpError(400, "INVALID_REQUEST", message, cause === undefined ? undefined : { cause });
}
