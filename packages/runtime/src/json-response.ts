import type { ServerResponse } from "node:http";
import { HttpError, HttpErrorCode } from "./http-error.js";

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Answers `status` with `body` as JSON (UTF-8, with Content-Length) and ends the response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Answers an error as `{ "error": { "code", "message" } }`: an {@link HttpError} with its status,
 * code, message and headers; anything else as 500 `INTERNAL` without its message (which may hold
 * internals; the caller logs it).
 */
export function sendError(res: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    sendJson(res, error.status, body, error.headers);
  } else {
    const body: ErrorBody = { error: { code: HttpErrorCode.Internal, message: "internal error" } };
    sendJson(res, 500, body);
  }
}
