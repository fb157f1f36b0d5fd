/** Codes carried by {@link SchemaError}. */
export const SchemaErrorCode = {
  /** Not a valid Avro schema, or not a record. */
  InvalidSchema: "INVALID_SCHEMA",
  /** A schema id that is not `<dataset>@<version>`. */
  InvalidSchemaId: "INVALID_SCHEMA_ID",
  /** A dataset name that is not `[a-z][a-z0-9_]*`. */
  InvalidDatasetName: "INVALID_DATASET_NAME",
  /** A dataset directory under config/datasets that cannot be loaded. */
  InvalidDatasetConfig: "INVALID_DATASET_CONFIG",
  /** A new schema version that fails the dataset's compatibility mode. */
  Incompatible: "INCOMPATIBLE",
  /** The schema id or dataset is not in the registry. */
  NotFound: "NOT_FOUND",
  /** A registration kept losing races with concurrent registrations. */
  Conflict: "CONFLICT",
  /** A schema file was registered under a different version number than its file name. */
  VersionMismatch: "VERSION_MISMATCH",
  /** The registry was used after close(). */
  Closed: "REGISTRY_CLOSED",
} as const;

/** A {@link SchemaErrorCode} value. */
export type SchemaErrorCode = (typeof SchemaErrorCode)[keyof typeof SchemaErrorCode];

/** A schema, schema id or registry operation failed; `code` says which way. */
export class SchemaError extends Error {
  override readonly name = "SchemaError";
  readonly code: SchemaErrorCode;

  constructor(message: string, code: SchemaErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
