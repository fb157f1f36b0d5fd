/** Codes carried by the lake's errors. */
export const LakeErrorCode = {
  /** A Delta commit of that version already exists: another writer won the race. */
  VersionExists: "VERSION_EXISTS",
  /** The Delta log cannot be replayed: a missing version, a malformed line, no metadata. */
  CorruptLog: "CORRUPT_LOG",
  /** The requested table version is not in the log. */
  VersionNotFound: "VERSION_NOT_FOUND",
  /** The table needs a Delta reader or writer feature this package does not implement. */
  UnsupportedProtocol: "UNSUPPORTED_PROTOCOL",
  /** A schema type with no mapping (Avro to Delta, Delta to DuckDB). */
  UnsupportedType: "UNSUPPORTED_TYPE",
  /** A new schema cannot be merged into the table's (a changed type, a clashing name). */
  IncompatibleSchema: "INCOMPATIBLE_SCHEMA",
  /** The table already holds a txn version at or past the one being committed. */
  TxnAlreadyCommitted: "TXN_ALREADY_COMMITTED",
  /** A caller passed something unusable (a bad version number, mismatched column lengths). */
  InvalidArgument: "INVALID_ARGUMENT",
  /** An Avro container file is damaged beyond its last complete block. */
  CorruptFile: "CORRUPT_FILE",
} as const;

/** A {@link LakeErrorCode} value. */
export type LakeErrorCode = (typeof LakeErrorCode)[keyof typeof LakeErrorCode];

/** Any failure of the lake package; `code` says which kind. */
export class LakeError extends Error {
  override name = "LakeError";
  readonly code: LakeErrorCode;

  constructor(message: string, code: LakeErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Put-if-absent failed: `_delta_log/<version>.json` exists; re-read the snapshot and retry at the next version. */
export class DeltaConflictError extends LakeError {
  override name = "DeltaConflictError";
  /** The table directory of the commit. */
  readonly tableDir: string;
  /** The version that was already taken. */
  readonly version: number;

  constructor(tableDir: string, version: number, options?: { cause?: unknown }) {
    super(
      `delta table ${tableDir}: version ${version} was committed by another writer`,
      LakeErrorCode.VersionExists,
      options,
    );
    this.tableDir = tableDir;
    this.version = version;
  }
}

/** The Delta log cannot be read as asked: corrupt, missing the version, or needing unsupported features. */
export class DeltaLogError extends LakeError {
  override name = "DeltaLogError";
}

/** A schema cannot be mapped or evolved into the table's schema. */
export class LakeSchemaError extends LakeError {
  override name = "LakeSchemaError";
}
