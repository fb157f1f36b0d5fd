import type { IncomingMessage } from "node:http";
import { HttpError, HttpErrorCode } from "./http-error.js";

/** The default request body limit: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Options of {@link readBody} and {@link readJson}. */
export interface ReadBodyOptions {
  /** Largest body accepted, in bytes; default {@link DEFAULT_MAX_BODY_BYTES}. */
  limitBytes?: number;
}

/** The 413 answered when a body is over the limit; the connection closes after the answer. */
export function payloadTooLarge(limitBytes: number): HttpError {
  return new HttpError(
    413,
    HttpErrorCode.PayloadTooLarge,
    `request body is larger than ${limitBytes} bytes; send smaller batches`,
    // The rest of the body is not read, so the connection cannot be reused.
    { headers: { connection: "close" } },
  );
}

/**
 * Reads a request body into one buffer, holding at most `limitBytes`: rejects with an
 * {@link HttpError} 413 as soon as the declared Content-Length or the bytes received exceed it, and
 * with a 400 when the client aborts the upload.
 */
export function readBody(req: IncomingMessage, options: ReadBodyOptions = {}): Promise<Buffer> {
  const limitBytes = options.limitBytes ?? DEFAULT_MAX_BODY_BYTES;
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(payloadTooLarge(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) {
        cleanup();
        chunks.length = 0;
        // Discard the rest rather than hold it; the 413 closes the connection.
        req.resume();
        reject(payloadTooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(
        new HttpError(400, HttpErrorCode.BadRequest, "request body could not be read", { cause: error }),
      );
    };
    const onClose = () => {
      cleanup();
      reject(new HttpError(400, HttpErrorCode.BadRequest, "request was aborted before its body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** Reads a request body (see {@link readBody}) and parses it as JSON; a 400 `INVALID_JSON` when it is not. */
export async function readJson(req: IncomingMessage, options: ReadBodyOptions = {}): Promise<unknown> {
  const body = await readBody(req, options);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError(
      400,
      HttpErrorCode.InvalidJson,
      `request body is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
