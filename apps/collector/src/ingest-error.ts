/** Why a whole request was refused; each maps to one HTTP status. */
export const IngestErrorCode = {
  /** The body is over the byte limit (413). */
  BodyTooLarge: "BODY_TOO_LARGE",
  /** The body holds more events than one request may carry (413). */
  TooManyEvents: "TOO_MANY_EVENTS",
  /** The body is not JSON, a JSON array or NDJSON (400). */
  MalformedBody: "MALFORMED_BODY",
  /** The body holds no event (400). */
  EmptyBody: "EMPTY_BODY",
  /** No schema is registered for the dataset (404). */
  UnknownDataset: "UNKNOWN_DATASET",
  /** Too many events in flight across requests: retry later (503). */
  Overloaded: "OVERLOADED",
  /** The bus refused or could not be reached: retry later (503). */
  Unavailable: "UNAVAILABLE",
} as const;

/** An {@link IngestErrorCode} value. */
export type IngestErrorCode = (typeof IngestErrorCode)[keyof typeof IngestErrorCode];

const STATUS: Record<IngestErrorCode, number> = {
  BODY_TOO_LARGE: 413,
  TOO_MANY_EVENTS: 413,
  MALFORMED_BODY: 400,
  EMPTY_BODY: 400,
  UNKNOWN_DATASET: 404,
  OVERLOADED: 503,
  UNAVAILABLE: 503,
};

/** A request refused as a whole, before any event was stored; `status` is the HTTP status to answer. */
export class IngestError extends Error {
  override readonly name = "IngestError";
  readonly code: IngestErrorCode;
  /** HTTP status for this refusal. */
  readonly status: number;
  /** Seconds the client should wait before retrying (503 only). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: IngestErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.code = code;
    this.status = STATUS[code];
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}
