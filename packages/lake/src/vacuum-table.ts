import type { Dirent } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { readDeltaSnapshot } from "./delta-log.js";
import { DeltaLogError, LakeError, LakeErrorCode } from "./errors.js";
import { deltaFilePath } from "./paths.js";

/** Options of {@link vacuumTable}. */
export interface VacuumTableOptions {
  readonly tableDir: string;
  /**
   * Unreferenced files modified (or removed from the table) less than this long ago are kept, ms;
   * default 7 days. Keep it well above the longest time from writing a file to committing it.
   */
  readonly retentionMs?: number;
  /** List what would be deleted without deleting; default false. */
  readonly dryRun?: boolean;
  /** "Now", ms since the epoch; default `Date.now()`. */
  readonly now?: number;
}

/** What {@link vacuumTable} deleted and kept. */
export interface VacuumResult {
  /** Files deleted (in a dry run: that would be), relative to the table directory, sorted. */
  readonly deleted: string[];
  /** Bytes of the deleted files. */
  readonly bytesDeleted: number;
  /** Files kept: referenced by the current snapshot, or younger than the retention. */
  readonly kept: number;
}

/** Default of {@link VacuumTableOptions.retentionMs}: 7 days. */
export const DEFAULT_VACUUM_RETENTION_MS = 7 * 86_400_000;

// Our writers' temp files (`.part-….parquet.<uuid>.tmp`): what a writer that crashed mid-write left.
const TEMP_FILE = /^\..+\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

/**
 * Deletes the table's data files that its current snapshot does not reference and that are older
 * than the retention: files compaction removed (once their `remove` is older than the retention)
 * and orphans of writers that crashed between writing a file and committing it (by modification
 * time), temp files of interrupted writes included. Never touches `_delta_log`, other directories
 * or files whose names start with `_` or `.` (hidden, as Delta's vacuum leaves them), a file the
 * snapshot references, or a file younger than the retention, which may belong to a writer about
 * to commit. Files are listed before the snapshot is read, so a file committed meanwhile is young.
 * Empty directories stay (a writer may be about to write into one).
 */
export async function vacuumTable(options: VacuumTableOptions): Promise<VacuumResult> {
  const { tableDir } = options;
  const retentionMs = options.retentionMs ?? DEFAULT_VACUUM_RETENTION_MS;
  if (!Number.isFinite(retentionMs) || retentionMs < 0) {
    throw new LakeError(
      `retentionMs must be zero or more, got ${retentionMs}`,
      LakeErrorCode.InvalidArgument,
    );
  }
  const cutoff = (options.now ?? Date.now()) - retentionMs;
  const files = await listDataFiles(resolve(tableDir));
  const snapshot = await readDeltaSnapshot(tableDir);
  if (snapshot === undefined) {
    throw new LakeError(`${tableDir} is not a delta table (no _delta_log)`, LakeErrorCode.InvalidArgument);
  }
  if (snapshot.protocol.minReaderVersion > 2) {
    // Deletion vector files and other reader-3 features live beside the data files.
    throw new DeltaLogError(
      `delta table ${tableDir} needs reader ${snapshot.protocol.minReaderVersion}; vacuum handles reader 1-2 tables only`,
      LakeErrorCode.UnsupportedProtocol,
    );
  }
  const keep = new Set(snapshot.files.map((f) => resolve(deltaFilePath(tableDir, f.path))));
  for (const tombstone of snapshot.tombstones) {
    if ((tombstone.deletionTimestamp ?? 0) > cutoff)
      keep.add(resolve(deltaFilePath(tableDir, tombstone.path)));
  }
  const deleted: string[] = [];
  let bytesDeleted = 0;
  let kept = 0;
  for (const file of files) {
    if (keep.has(file.path) || file.mtimeMs > cutoff) {
      kept++;
      continue;
    }
    if (options.dryRun !== true) await rm(file.path, { force: true });
    deleted.push(relative(resolve(tableDir), file.path).split("\\").join("/"));
    bytesDeleted += file.size;
  }
  return { deleted: deleted.sort(), bytesDeleted, kept };
}

// Every regular file under the table directory, except hidden files and directories.
async function listDataFiles(dir: string): Promise<{ path: string; mtimeMs: number; size: number }[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const out: { path: string; mtimeMs: number; size: number }[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const hidden = entry.name.startsWith("_") || entry.name.startsWith(".");
    if (entry.isDirectory()) {
      if (!hidden) out.push(...(await listDataFiles(path)));
    } else if (entry.isFile() && (!hidden || TEMP_FILE.test(entry.name))) {
      const info = await stat(path).catch(() => undefined); // gone meanwhile: a writer's temp file renamed
      if (info !== undefined) out.push({ path, mtimeMs: info.mtimeMs, size: info.size });
    }
  }
  return out;
}
