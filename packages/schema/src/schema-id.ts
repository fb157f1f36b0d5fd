import { SchemaError, SchemaErrorCode } from "./schema-error.js";

/** A dataset name: `[a-z][a-z0-9_]*` (it is used in subjects, KV keys and lake paths). */
export const DATASET_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

const MAX_DATASET_NAME = 64;

/**
 * The curated table the lake-writer copies every dead letter into (`SELECT * FROM dead_letters`):
 * no dataset may take its name.
 */
export const DEAD_LETTERS_DATASET = "dead_letters";
const SCHEMA_ID = /^([a-z][a-z0-9_]*)@([1-9][0-9]{0,8})$/;

/** A schema id split into its parts. */
export interface SchemaRef {
  dataset: string;
  version: number;
}

/** Whether `name` is a valid dataset name (at most 64 characters). */
export function isDatasetName(name: string): boolean {
  return name.length <= MAX_DATASET_NAME && DATASET_NAME_PATTERN.test(name);
}

/** Throws {@link SchemaError} (INVALID_DATASET_NAME) unless `name` is a valid dataset name. */
export function assertDatasetName(name: string): void {
  if (!isDatasetName(name)) {
    throw new SchemaError(
      `invalid dataset name ${JSON.stringify(name)}: expected [a-z][a-z0-9_]*, at most ${MAX_DATASET_NAME} characters`,
      SchemaErrorCode.InvalidDatasetName,
    );
  }
}

/** The schema id `<dataset>@<version>`, e.g. `clicks@1`. */
export function formatSchemaId(dataset: string, version: number): string {
  assertDatasetName(dataset);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new SchemaError(
      `invalid schema version ${version}: expected an integer ≥ 1`,
      SchemaErrorCode.InvalidSchemaId,
    );
  }
  return `${dataset}@${version}`;
}

/** Splits `clicks@1` into `{ dataset: "clicks", version: 1 }`; throws {@link SchemaError} (INVALID_SCHEMA_ID). */
export function parseSchemaId(id: string): SchemaRef {
  const match = typeof id === "string" ? SCHEMA_ID.exec(id) : null;
  if (match === null || match[1]!.length > MAX_DATASET_NAME) {
    throw new SchemaError(
      `invalid schema id ${JSON.stringify(id)}: expected <dataset>@<version>, e.g. clicks@1`,
      SchemaErrorCode.InvalidSchemaId,
    );
  }
  return { dataset: match[1]!, version: Number(match[2]) };
}
