/** Codes carried by {@link PipelineError}. */
export const PipelineErrorCode = {
  /** `pipeline.json` is missing, not JSON, or does not match its format. */
  InvalidConfig: "INVALID_PIPELINE_CONFIG",
  /** A rule names a field the dataset's schema does not have. */
  UnknownField: "UNKNOWN_FIELD",
  /** A rule's value or result does not fit the field's type. */
  TypeMismatch: "TYPE_MISMATCH",
} as const;

/** A {@link PipelineErrorCode} value. */
export type PipelineErrorCode = (typeof PipelineErrorCode)[keyof typeof PipelineErrorCode];

/** The pipeline rules cannot be used: a bad file, or rules that do not fit a dataset's schema. */
export class PipelineError extends Error {
  override readonly name = "PipelineError";
  readonly code: PipelineErrorCode;

  constructor(message: string, code: PipelineErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
