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

/**
 * How long the table keeps tombstones (removed files) in its checkpoints, ms: its
 * `delta.deletedFileRetentionDuration` (`interval 7 days`, `interval 1 week`, `interval 168
 * hours`…), or 7 days when absent or unreadable.
 */
export function deletedFileRetentionMs(metadata: DeltaMetadata): number {
  const text = metadata.configuration["delta.deletedFileRetentionDuration"] ?? "";
  const match = /^\s*interval\s+(\d+)\s+(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(text);
  if (match === null) return DEFAULT_DELETED_FILE_RETENTION_MS;
  return Number(match[1]) * UNIT_MS[match[2]!.toLowerCase()]!;
}
