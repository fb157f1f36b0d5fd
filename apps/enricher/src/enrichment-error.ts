/** Codes carried by {@link EnrichmentError}. */
export const EnrichmentErrorCode = {
  /** `enrichment.json` is missing, not JSON, or does not match its format. */
  InvalidConfig: "INVALID_ENRICHMENT_CONFIG",
  /** A join names a field the dataset's schema lacks, or one that cannot hold null. */
  SchemaMismatch: "SCHEMA_MISMATCH",
  /** A reference file cannot be read or is not an object of objects keyed by id. */
  InvalidReference: "INVALID_REFERENCE",
  /** A reference table holds more entries than `INLET_ENRICHER_MAX_REFERENCE_ENTRIES`. */
  TooManyEntries: "TOO_MANY_REFERENCE_ENTRIES",
} as const;

/** An {@link EnrichmentErrorCode} value. */
export type EnrichmentErrorCode = (typeof EnrichmentErrorCode)[keyof typeof EnrichmentErrorCode];

/** Enrichment cannot run as configured: a bad file, a join that does not fit a schema, an oversized table. */
export class EnrichmentError extends Error {
  override readonly name = "EnrichmentError";
  readonly code: EnrichmentErrorCode;

  constructor(message: string, code: EnrichmentErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
