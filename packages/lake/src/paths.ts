import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LakeError, LakeErrorCode } from "./errors.js";

// The lake's layout (docs/contracts.md, "The lake"):
//   <lake>/raw/<ds>/ingest_date=YYYY-MM-DD/hour=HH/part-<uuid>.avro
//   <lake>/curated/<ds>/event_date=YYYY-MM-DD/part-<uuid>.zstd.parquet
//   <lake>/curated/<ds>/_delta_log/%020d.json

/** Milliseconds in a UTC day. */
export const MS_PER_DAY = 86_400_000;

/** The directory name Hive and Spark use for a null partition value. */
export const HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__";

const DATASET_NAME = /^[a-z][a-z0-9_]*$/;

/** Throws unless `dataset` is a valid dataset name (`[a-z][a-z0-9_]*`), which also keeps it a single path segment. */
export function assertDatasetName(dataset: string): void {
  if (!DATASET_NAME.test(dataset)) {
    throw new LakeError(
      `dataset name ${JSON.stringify(dataset)} is invalid: expected [a-z][a-z0-9_]*`,
      LakeErrorCode.InvalidArgument,
    );
  }
}

/** `<lake>/curated/<ds>`: the dataset's Delta table directory. */
export function curatedTableDir(lakeDir: string, dataset: string): string {
  assertDatasetName(dataset);
  return join(lakeDir, "curated", dataset);
}

/** `<lake>/raw/<ds>`: the dataset's raw zone directory. */
export function rawDatasetDir(lakeDir: string, dataset: string): string {
  assertDatasetName(dataset);
  return join(lakeDir, "raw", dataset);
}

/** `<lake>/raw/<ds>/ingest_date=YYYY-MM-DD/hour=HH` for an ingest time in ms (UTC). */
export function rawPartitionDir(lakeDir: string, dataset: string, ingestedAtMs: number): string {
  const iso = new Date(ingestedAtMs).toISOString();
  return join(
    rawDatasetDir(lakeDir, dataset),
    `ingest_date=${iso.slice(0, 10)}`,
    `hour=${iso.slice(11, 13)}`,
  );
}

/** The UTC day number (days since 1970-01-01) of a time in ms. */
export function utcDayOf(ms: number): number {
  return Math.floor(ms / MS_PER_DAY);
}

/** `YYYY-MM-DD` of a UTC day number. */
export function utcDateOfDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

// Characters Hive/Spark escape in partition directory names (ExternalCatalogUtils.escapePathName),
// besides control characters.
const HIVE_SPECIAL = new Set(`"#%'*/:=?\\{[]^`);

function escapePathName(text: string): string {
  let escaped = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    const special = code < 0x20 || code === 0x7f || HIVE_SPECIAL.has(c);
    escaped += special ? `%${code.toString(16).toUpperCase().padStart(2, "0")}` : c;
  }
  return escaped;
}

/** A Hive-style partition directory name, `column=value` with unsafe characters %-escaped; null → `__HIVE_DEFAULT_PARTITION__`. */
export function hivePartitionSegment(column: string, value: string | null): string {
  return `${escapePathName(column)}=${value === null || value === "" ? HIVE_NULL_PARTITION : escapePathName(value)}`;
}

/** A table-relative file path as Delta's `add.path` wants it: an RFC 2396 URI reference (`%` → `%25`, space → `%20`, …). */
export function encodeDeltaPath(relativePath: string): string {
  return encodeURI(relativePath.split("\\").join("/"));
}

/** The filesystem path of a Delta `add`/`remove` path: URI-decoded, resolved against the table directory. */
export function deltaFilePath(tableDir: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
    if (path.toLowerCase().startsWith("file:")) return fileURLToPath(path);
    throw new LakeError(
      `delta path ${path} uses an unsupported URI scheme`,
      LakeErrorCode.UnsupportedProtocol,
    );
  }
  const decoded = decodeURIComponent(path);
  return isAbsolute(decoded) ? decoded : join(tableDir, decoded);
}

/** `<table>/_delta_log`. */
export function deltaLogDir(tableDir: string): string {
  return join(tableDir, "_delta_log");
}

/** A commit's file name: the version zero-padded to 20 digits, `00000000000000000007.json`. */
export function deltaCommitFileName(version: number): string {
  return `${String(version).padStart(20, "0")}.json`;
}

/** A classic checkpoint's file name: `00000000000000000010.checkpoint.parquet`. */
export function deltaCheckpointFileName(version: number): string {
  return `${String(version).padStart(20, "0")}.checkpoint.parquet`;
}
