import { stat } from "node:fs/promises";
import { join } from "node:path";
import { type DeltaAction, deltaCommitVersions, readCommit } from "./delta-log.js";
import { deltaCommitFileName, deltaLogDir } from "./paths.js";

/** One commit of a table, from its commitInfo and actions. */
export interface TableHistoryEntry {
  readonly version: number;
  /** ms since the epoch: commitInfo.timestamp, else the commit file's modification time. */
  readonly timestamp: number;
  /** commitInfo.operation (WRITE, OPTIMIZE, CREATE TABLE…), or UNKNOWN without commitInfo. */
  readonly operation: string;
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  /** Data files the commit added. */
  readonly numFiles: number;
  /** Rows in the added files, from their statistics; absent when a file has none. */
  readonly numRecords?: number;
  /** Data files the commit removed. */
  readonly numRemovedFiles: number;
  /** The txn actions of the commit: which application committed up to which version. */
  readonly txns?: readonly { readonly appId: string; readonly version: number }[];
}

/** Options of {@link tableHistory}. */
export interface TableHistoryOptions {
  /** The newest this many commits; default all. */
  readonly limit?: number;
}

/**
 * The table's commits, newest first, read from the JSON commits still in the log (those a
 * checkpoint replaced and a cleanup deleted are gone, as in Delta's DESCRIBE HISTORY). Empty for a
 * directory without a log.
 */
export async function tableHistory(
  tableDir: string,
  options: TableHistoryOptions = {},
): Promise<TableHistoryEntry[]> {
  const versions = (await deltaCommitVersions(tableDir)).reverse();
  const limit = options.limit ?? versions.length;
  const entries: TableHistoryEntry[] = [];
  for (const version of versions.slice(0, Math.max(0, limit))) {
    let actions: DeltaAction[];
    try {
      actions = await readCommit(tableDir, version);
    } catch (error) {
      // A log cleanup deleted it since the listing: the history ends at the commit before it.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
      throw error;
    }
    let info: Readonly<Record<string, unknown>> | undefined;
    let numFiles = 0;
    let numRemovedFiles = 0;
    let numRecords: number | undefined = 0;
    const txns: { appId: string; version: number }[] = [];
    for (const action of actions) {
      if ("commitInfo" in action) info = action.commitInfo;
      else if ("add" in action) {
        numFiles++;
        const records = action.add.stats?.numRecords;
        numRecords = records === undefined || numRecords === undefined ? undefined : numRecords + records;
      } else if ("remove" in action) numRemovedFiles++;
      else if ("txn" in action) txns.push({ appId: action.txn.appId, version: action.txn.version });
    }
    let timestamp = typeof info?.timestamp === "number" ? info.timestamp : undefined;
    timestamp ??= (await stat(join(deltaLogDir(tableDir), deltaCommitFileName(version)))).mtimeMs;
    const parameters = info?.operationParameters;
    entries.push({
      version,
      timestamp: Math.trunc(timestamp),
      operation: typeof info?.operation === "string" ? info.operation : "UNKNOWN",
      ...(typeof parameters === "object" && parameters !== null
        ? { operationParameters: parameters as Record<string, unknown> }
        : {}),
      numFiles,
      ...(numRecords === undefined ? {} : { numRecords }),
      numRemovedFiles,
      ...(txns.length > 0 ? { txns } : {}),
    });
  }
  return entries;
}
