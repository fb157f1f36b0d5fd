import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { listLog, readDeltaSnapshot } from "./delta-log.js";
import { expiredLogCleanupEnabled, logRetentionMs } from "./delta-properties.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { deltaCommitFileName, deltaLogDir } from "./paths.js";

/** Options of {@link cleanupDeltaLog}. */
export interface CleanupDeltaLogOptions {
  readonly tableDir: string;
  /**
   * How far back the log is kept, ms; default the table's `delta.logRetentionDuration` (30 days
   * when it has none). Versions older than that may no longer be read (time travel).
   */
  readonly retentionMs?: number;
  /** List what would be deleted without deleting; default false. */
  readonly dryRun?: boolean;
  /** "Now", ms since the epoch; default `Date.now()`. */
  readonly now?: number;
}

/** What {@link cleanupDeltaLog} deleted. */
export interface CleanupDeltaLogResult {
  /**
   * The checkpoint the log now begins with: the oldest version a reader can still load. Undefined
   * when no checkpoint is old enough to begin with, so no commit was deleted.
   */
  readonly keptFrom: number | undefined;
  /** Files deleted from `_delta_log` (in a dry run: that would be), by name, oldest version first. */
  readonly deleted: string[];
  /** Bytes of the deleted files. */
  readonly bytesDeleted: number;
  /** Why nothing was considered, when the table asks for its log to be kept whole. */
  readonly skipped?: string;
}

// A file of the log tied to a version: commit, checkpoint (single or a part), checksum, or a log
// compaction (`<start>.<end>.compacted.json`, tied to its start).
const VERSIONED =
  /^(\d{20})\.(?:json|crc|checkpoint\.parquet|checkpoint\.\d{10}\.\d{10}\.parquet|\d{20}\.compacted\.json)$/;
// Our writers' temp files in the log (`.<name>.<uuid>.tmp`): left by a commit or checkpoint interrupted mid-write.
const TEMP_FILE = /^\..+\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

/**
 * Deletes the log files a reader no longer needs, as Delta's metadata cleanup does
 * (PROTOCOL.md, "Metadata Cleanup"). The cutoff commit is the newest one written before the
 * retention (commits are taken in version order, and the first one younger than the retention
 * ends the search, so a clock that went back never lets a young commit count as old); the log
 * then begins with the newest complete checkpoint not after it. Every commit, checkpoint, checksum
 * and log compaction file of an earlier version is deleted, oldest first; so are temp files of
 * interrupted writes older than the retention. The checkpoint it begins with, its commit, every
 * later file and `_last_checkpoint` stay: the current snapshot and every version since that
 * checkpoint load as before, while an older version can no longer be loaded. A table whose
 * `delta.enableExpiredLogCleanup` is `false` keeps its whole log.
 */
export async function cleanupDeltaLog(options: CleanupDeltaLogOptions): Promise<CleanupDeltaLogResult> {
  const { tableDir } = options;
  const snapshot = await readDeltaSnapshot(tableDir);
  if (snapshot === undefined) {
    throw new LakeError(`${tableDir} is not a delta table (no _delta_log)`, LakeErrorCode.InvalidArgument);
  }
  if (!expiredLogCleanupEnabled(snapshot.metadata)) {
    return {
      keptFrom: undefined,
      deleted: [],
      bytesDeleted: 0,
      skipped: "delta.enableExpiredLogCleanup is false",
    };
  }
  const retentionMs = options.retentionMs ?? logRetentionMs(snapshot.metadata);
  if (!Number.isFinite(retentionMs) || retentionMs < 0) {
    throw new LakeError(
      `retentionMs must be zero or more, got ${retentionMs}`,
      LakeErrorCode.InvalidArgument,
    );
  }
  const cutoff = (options.now ?? Date.now()) - retentionMs;
  const logDir = deltaLogDir(tableDir);
  const files = await listLogFiles(logDir);
  const listing = await listLog(tableDir);
  const modified = new Map(files.map((f) => [f.name, f.mtimeMs]));

  let cutoffCommit: number | undefined;
  for (const version of [...(listing?.commits ?? [])].sort((a, b) => a - b)) {
    if ((modified.get(deltaCommitFileName(version)) ?? Number.POSITIVE_INFINITY) > cutoff) break;
    cutoffCommit = version;
  }
  const beginnings = [...(listing?.checkpoints.keys() ?? [])].filter(
    (v) => cutoffCommit !== undefined && v <= cutoffCommit,
  );
  const keptFrom = beginnings.length === 0 ? undefined : Math.max(...beginnings);

  const doomed = files
    .map((file) => ({ file, version: versionOf(VERSIONED, file.name) }))
    .filter(({ file, version }) =>
      version === undefined
        ? TEMP_FILE.test(file.name) && file.mtimeMs <= cutoff
        : keptFrom !== undefined && version < keptFrom,
    )
    .sort((a, b) => (a.version ?? -1) - (b.version ?? -1) || a.file.name.localeCompare(b.file.name));
  const deleted: string[] = [];
  let bytesDeleted = 0;
  for (const { file } of doomed) {
    if (options.dryRun !== true) await rm(join(logDir, file.name), { force: true });
    deleted.push(file.name);
    bytesDeleted += file.size;
  }
  return { keptFrom, deleted, bytesDeleted };
}

interface LogFile {
  readonly name: string;
  readonly mtimeMs: number;
  readonly size: number;
}

async function listLogFiles(logDir: string): Promise<LogFile[]> {
  const out: LogFile[] = [];
  for (const entry of await readdir(logDir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const info = await stat(join(logDir, entry.name)).catch(() => undefined); // a temp file renamed meanwhile
    if (info !== undefined) out.push({ name: entry.name, mtimeMs: info.mtimeMs, size: info.size });
  }
  return out;
}

function versionOf(pattern: RegExp, name: string): number | undefined {
  const match = pattern.exec(name);
  return match === null ? undefined : Number(match[1]);
}
