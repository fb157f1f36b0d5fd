import type { DeltaMetadata } from "./delta-log.js";

// Table properties (`metaData.configuration`) that change how the log is kept.

/** Default of `delta.deletedFileRetentionDuration`: 7 days, in ms. */
export const DEFAULT_DELETED_FILE_RETENTION_MS = 7 * 86_400_000;

const UNIT_MS: Readonly<Record<string, number>> = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
};

/** Default of `delta.logRetentionDuration`: 30 days, in ms. */
export const DEFAULT_LOG_RETENTION_MS = 30 * 86_400_000;

/**
 * How long the table keeps tombstones (removed files) in its checkpoints, ms: its
 * `delta.deletedFileRetentionDuration` (`interval 7 days`, `interval 1 week`, `interval 168
 * hours`…), or 7 days when absent or unreadable.
 */
export function deletedFileRetentionMs(metadata: DeltaMetadata): number {
  return intervalMs(metadata, "delta.deletedFileRetentionDuration") ?? DEFAULT_DELETED_FILE_RETENTION_MS;
}

/**
 * How far back the table keeps its log, ms: its `delta.logRetentionDuration` (an interval as
 * above), or 30 days when absent or unreadable.
 */
export function logRetentionMs(metadata: DeltaMetadata): number {
  return intervalMs(metadata, "delta.logRetentionDuration") ?? DEFAULT_LOG_RETENTION_MS;
}

/** False when the table's `delta.enableExpiredLogCleanup` is `false`: its log is kept whole. */
export function expiredLogCleanupEnabled(metadata: DeltaMetadata): boolean {
  return (metadata.configuration["delta.enableExpiredLogCleanup"] ?? "").trim().toLowerCase() !== "false";
}

// A property holding a Delta interval (`interval 30 days`), in ms; undefined when absent or unreadable.
function intervalMs(metadata: DeltaMetadata, property: string): number | undefined {
  const text = metadata.configuration[property] ?? "";
  const match = /^\s*interval\s+(\d+)\s+(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!.toLowerCase()]!;
}
