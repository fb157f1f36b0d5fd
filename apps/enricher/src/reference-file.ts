import { readJsonFile } from "./enrichment-config.js";
import { EnrichmentError, EnrichmentErrorCode } from "./enrichment-error.js";
import type { ReferenceRow } from "./join.js";

// NATS KV keys: letters, digits and -/_=. , not starting or ending with a dot.
const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;

/** True when `key` can be a NATS KV key. */
export function isKvKey(key: string): boolean {
  return KV_KEY.test(key) && !key.startsWith(".") && !key.endsWith(".");
}

/**
 * Reads a reference file: a JSON object keyed by id whose values are objects (the row's columns),
 * e.g. `{ "m-0001": { "name": "Corner Shop", … } }`. Throws {@link EnrichmentError}
 * (INVALID_REFERENCE) naming the file and the first bad entry.
 */
export async function readReferenceFile(path: string): Promise<Array<[string, ReferenceRow]>> {
  const json = await readJsonFile(path, EnrichmentErrorCode.InvalidReference);
  if (!isRow(json)) {
    throw new EnrichmentError(
      `${path}: expected an object keyed by id`,
      EnrichmentErrorCode.InvalidReference,
    );
  }
  const entries = Object.entries(json);
  for (const [key, row] of entries) {
    if (!isKvKey(key)) {
      throw new EnrichmentError(
        `${path}: id ${JSON.stringify(key)} cannot be a KV key (letters, digits and -/_=. only)`,
        EnrichmentErrorCode.InvalidReference,
      );
    }
    if (!isRow(row)) {
      throw new EnrichmentError(
        `${path}: entry "${key}" must be an object of columns`,
        EnrichmentErrorCode.InvalidReference,
      );
    }
  }
  return entries as Array<[string, ReferenceRow]>;
}

/** True for a plain JSON object (not null, not an array). */
export function isRow(value: unknown): value is ReferenceRow {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
