/** Error codes the runtime itself answers with; apps add their own codes (upper snake case). */
export const HttpErrorCode = {
  /** No route matches the path. */
  NotFound: "NOT_FOUND",
  /** A route matches the path but not the method. */
  MethodNotAllowed: "METHOD_NOT_ALLOWED",
  /** The request body is larger than the limit. */
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  /** The request body is not valid JSON. */
  InvalidJson: "INVALID_JSON",
  /** The request is malformed (bad path encoding, aborted upload). */
  BadRequest: "BAD_REQUEST",
  /** A handler failed unexpectedly; details are in the service's log, not the response. */
  Internal: "INTERNAL",
} as const;

/** A {@link HttpErrorCode} value. */
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/** Options of {@link HttpError}. */
export interface HttpErrorOptions {
  /** The underlying error, kept for the log. */
  cause?: unknown;
  /** Extra response headers, e.g. `Retry-After` on a 503 or `Allow` on a 405. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * A failure with an HTTP status, answered as `{ "error": { "code", "message" } }`. The message is
 * shown to the client, so it says what went wrong and what to do.
 */
export class HttpError extends Error {
  override readonly name = "HttpError";
  /** The HTTP status code, 4xx or 5xx. */
  readonly status: number;
  /** A stable machine-readable code: an {@link HttpErrorCode} or an app's own. */
  readonly code: string;
  /** Extra response headers. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: HttpErrorCode | (string & {}),
    message: string,
    options?: HttpErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    this.headers = options?.headers ?? {};
  }
}
