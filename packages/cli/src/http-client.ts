import { CliError, CliErrorCode } from "./cli-error.js";

const CONNECT_HINT = "is the query service running? (set --url or INLET_QUERY_URL)";

/** The `Authorization` header for `token`, or none. */
export function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/**
 * Sends a request to the query service; a non-2xx answer becomes a {@link CliError} carrying the
 * service's own message (`{ "error": { "code", "message" } }`).
 */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    const reason =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new CliError(CliErrorCode.Failed, `cannot reach ${url}: ${reason}; ${CONNECT_HINT}`, {
      cause: error,
    });
  }
  if (response.ok) return response;
  if (response.status === 401) {
    await response.body?.cancel();
    throw new CliError(
      CliErrorCode.Failed,
      `${url} needs an access token: set INLET_QUERY_TOKEN or pass --token (HTTP 401)`,
    );
  }
  const text = await response.text();
  let message = text;
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    message = body.error?.message ?? text;
  } catch {
    // Not JSON: show the text as it came.
  }
  throw new CliError(CliErrorCode.Failed, `${message} (HTTP ${response.status})`);
}

// JSON.rawJSON (Node 21+) is not in TypeScript's ES2024 library yet.
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * Parses JSON keeping every number's exact text (as a `JSON.rawJSON` value), so a BIGINT past 2^53
 * prints as the service sent it, at any depth.
 */
export function parseJsonExact(text: string): unknown {
  const reviver = (_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && context?.source !== undefined ? rawJson(context.source) : value;
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** A value from {@link parseJsonExact} as table cell text: strings as they are, anything else as JSON. */
export function cellOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
