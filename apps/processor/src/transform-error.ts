/** Code carried by {@link TransformError}. */
export const TransformErrorCode = {
  /** A transform could not produce a value that fits the field (e.g. an int overflow). */
  BadValue: "TRANSFORM_FAILED",
} as const;

/** A {@link TransformErrorCode} value. */
export type TransformErrorCode = (typeof TransformErrorCode)[keyof typeof TransformErrorCode];

/** One event failed a transform; the event is dead-lettered and the rest of its frame continues. */
export class TransformError extends Error {
  override readonly name = "TransformError";
  readonly code: TransformErrorCode = TransformErrorCode.BadValue;
  /** The field the transform was applied to. */
  readonly field: string;
  /** What the field needs, e.g. `int`. */
  readonly expected: string;
  /** What the transform produced or found, rendered for people (`3000000000`, `"abc"`). */
  readonly got: string;

  constructor(dataset: string, field: string, expected: string, got: string, options?: { cause?: unknown }) {
    super(`dataset "${dataset}": field "${field}" expected ${expected}, got ${got}`, options);
    this.field = field;
    this.expected = expected;
    this.got = got;
  }
}
