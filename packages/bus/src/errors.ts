/** Codes of the errors the bus raises; the code of an error is one of these. */
export const BusErrorCode = {
  /** A name (dataset, rule, stage, prefix) is not a valid subject token. */
  InvalidName: "INVALID_NAME",
  /** The stream refused the message because it is full (`discard: new`): back off, answer 503. */
  StreamFull: "STREAM_FULL",
  /** The message is larger than the server's max payload. */
  MessageTooLarge: "MESSAGE_TOO_LARGE",
  /** The stream refused the message for another reason. */
  PublishRejected: "PUBLISH_REJECTED",
  /** No PubAck came before the deadline (server down, restarting, or no stream for the subject). */
  PublishTimeout: "PUBLISH_TIMEOUT",
  /** The connection is closed or draining; nothing more can be published on it. */
  ConnectionClosed: "CONNECTION_CLOSED",
  /** A stream the operation reads does not exist (the services create them at start). */
  StreamNotFound: "STREAM_NOT_FOUND",
  /** An existing stream or consumer differs in a way that cannot be updated in place. */
  ConfigConflict: "CONFIG_CONFLICT",
  /** A frame could not be read: bad headers, bad Avro, wrong count. A poison message. */
  BadFrame: "BAD_FRAME",
  /** One event alone is larger than a frame may be. */
  EventTooLarge: "EVENT_TOO_LARGE",
  /** A handler failed in a way that may pass on retry. */
  Transient: "TRANSIENT",
  /** A handler failed in a way no retry can fix. */
  Poison: "POISON",
  /** A message failed on every one of its allowed deliveries. */
  MaxDeliveries: "MAX_DELIVERIES",
} as const;

/** One of {@link BusErrorCode}. */
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

/** A bus operation failed: publishing, stream setup, naming. */
export class BusError extends Error {
  override readonly name: string = "BusError";
  readonly code: BusErrorCode;

  constructor(message: string, code: BusErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A frame could not be built or read (code BAD_FRAME or EVENT_TOO_LARGE); a bad frame is poison. */
export class FrameError extends BusError {
  override readonly name: string = "FrameError";
}

/** Options of {@link TransientError} and {@link PoisonError}. */
export interface HandlerErrorOptions extends ErrorOptions {
  /** The code written to the dead letter's `Inlet-Error-Code`, e.g. `SCHEMA_NOT_FOUND` (default: the class's code). */
  code?: string;
}

/** Thrown by a consumer handler: retry later (the message is nak'ed with backoff). */
export class TransientError extends Error {
  override readonly name: string = "TransientError";
  readonly code: string;

  constructor(message: string, options: HandlerErrorOptions = {}) {
    super(message, options);
    this.code = options.code ?? BusErrorCode.Transient;
  }
}

/** Thrown by a consumer handler: no retry can help, dead-letter the message now. */
export class PoisonError extends Error {
  override readonly name: string = "PoisonError";
  readonly code: string;

  constructor(message: string, options: HandlerErrorOptions = {}) {
    super(message, options);
    this.code = options.code ?? BusErrorCode.Poison;
  }
}

/**
 * An event of a frame whose payload is not Avro of the frame's schema: the whole frame is poison
 * (code `PAYLOAD_DECODE_FAILED`), dead-lettered as it is.
 */
export class PayloadDecodeError extends PoisonError {
  override readonly name: string = "PayloadDecodeError";
  readonly eventId: string;

  constructor(schemaId: string, eventId: string, options: { cause?: unknown } = {}) {
    const reason = options.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`event "${eventId}" cannot be decoded as ${schemaId}${reason}`, {
      code: "PAYLOAD_DECODE_FAILED",
      ...options,
    });
    this.eventId = eventId;
  }
}
