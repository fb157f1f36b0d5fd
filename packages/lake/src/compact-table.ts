import { rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  commitDelta,
  type DeltaAction,
  type DeltaAddFile,
  type DeltaFileStats,
  type DeltaSnapshot,
  readCommit,
  readDeltaSnapshot,
} from "./delta-log.js";
import { type DeltaStructField, parseDeltaSchema } from "./delta-schema.js";
import { ensureDir } from "./durable-fs.js";
import { DeltaConflictError, DeltaLogError, LakeError, LakeErrorCode } from "./errors.js";
import {
  copyParquetSql,
  deleteDataFiles,
  newDataFilePath,
  type PartitionValues,
  parquetFileStats,
  pathKey,
  publishFile,
  removeAction,
  tempPathOf,
  typedScanSql,
} from "./parquet-rewrite.js";
import type { ParquetWriter } from "./parquet-writer.js";
import { encodeDeltaPath } from "./paths.js";

export type { PartitionValues } from "./parquet-rewrite.js";

/** Options of {@link compactTable}. */
export interface CompactTableOptions {
  readonly tableDir: string;
  /** Its DuckDB reads the small files and writes the large ones; appends on the same writer wait meanwhile. */
  readonly writer: ParquetWriter;
  /** Largest file to write, bytes, counted as the sum of the input files' sizes; default 128 MiB. Files under half of it are small. */
  readonly targetFileBytes?: number;
  /** Fewest small files a partition needs to be compacted; default 2. */
  readonly minFiles?: number;
  /** Only these partitions (every partition column given); default all. */
  readonly partitions?: readonly PartitionValues[];
  /** Who compacts (e.g. the lake-writer's consumer name), recorded in the commit's commitInfo. */
  readonly appId?: string;
  /** Commit attempts while appends keep taking the next version; default 100. */
  readonly maxCommitAttempts?: number;
}

/** What compaction did in one partition. */
export interface CompactedPartition {
  readonly partitionValues: PartitionValues;
  /** Small files rewritten, and removed from the table when the commit landed. */
  readonly removed: number;
  /** Files written in their place. */
  readonly added: number;
  /** Rows rewritten. */
  readonly rows: number;
  readonly bytesRemoved: number;
  readonly bytesAdded: number;
  /** Why the partition was left as it was: another writer removed one of its input files first. */
  readonly aborted?: string;
}

/** The result of {@link compactTable}. */
export interface CompactionResult {
  /** The version of the compaction commit; absent when nothing needed compacting or every partition was aborted. */
  readonly version?: number;
  /** Files removed by the commit. */
  readonly removed: number;
  /** Files added by the commit. */
  readonly added: number;
  /** Every partition that had enough small files, compacted or aborted. */
  readonly partitions: readonly CompactedPartition[];
}

/** Default of {@link CompactTableOptions.targetFileBytes}: 128 MiB. */
export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;

const WRITER_VERSION = 2;

interface Plan {
  readonly partitionValues: PartitionValues;
  readonly bins: DeltaAddFile[][];
  readonly inputs: Set<string>;
  added: DeltaAddFile[];
  rows: number;
  aborted?: string;
}

/**
 * Rewrites the small files of each partition into large ones and swaps them in ONE commit: a
 * `remove` (dataChange=false) per small file and an `add` (dataChange=false, with statistics) per
 * new file, with commitInfo operation OPTIMIZE. Small files (size < targetFileBytes / 2) are
 * packed, in log order, into groups of at most targetFileBytes; each group of two or more becomes
 * one ZSTD Parquet file in the table's current schema (older files' missing columns as NULL,
 * narrower types widened), row groups as the writer's. The row count of every new file is checked
 * against its inputs' statistics before anything is committed.
 *
 * Concurrency is optimistic: when another writer takes the version, its commit is read; appends
 * (adds only) leave the rewritten files valid, so the commit is retried at the next version. A
 * partition one of whose inputs another writer removed is dropped from the commit and its new
 * files are deleted. Readers see the table before or after, never in between.
 */
export async function compactTable(options: CompactTableOptions): Promise<CompactionResult> {
  const { tableDir, writer } = options;
  const target = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
  const minFiles = options.minFiles ?? 2;
  if (!Number.isSafeInteger(target) || target < 1) {
    throw new LakeError(
      `targetFileBytes must be a positive integer, got ${target}`,
      LakeErrorCode.InvalidArgument,
    );
  }
  if (!Number.isSafeInteger(minFiles) || minFiles < 2) {
    throw new LakeError(
      `minFiles must be an integer of at least 2, got ${minFiles}`,
      LakeErrorCode.InvalidArgument,
    );
  }
  const snapshot = await readDeltaSnapshot(tableDir);
  if (snapshot === undefined) {
    throw new LakeError(`${tableDir} is not a delta table (no _delta_log)`, LakeErrorCode.InvalidArgument);
  }
  assertWritable(snapshot);
  const plans = planPartitions(snapshot, target, minFiles, options.partitions);
  if (plans.length === 0) return { removed: 0, added: 0, partitions: [] };

  const fields = parseDeltaSchema(snapshot.metadata.schemaString).fields;
  const partitionColumns = new Set(snapshot.metadata.partitionColumns);
  const dataFields = fields.filter((f) => !partitionColumns.has(f.name));
  const attempt = { committing: false };
  try {
    for (const plan of plans) {
      try {
        for (const bin of plan.bins) {
          const add = await rewrite(snapshot, dataFields, plan.partitionValues, bin, writer);
          plan.added.push(add);
          plan.rows += add.stats?.numRecords ?? 0;
        }
      } catch (error) {
        if (!(error instanceof CountMismatchError)) throw error;
        await abort(tableDir, plan, error.message);
      }
    }
    const version = await commit(snapshot, plans, target, options, attempt);
    return result(version, plans);
  } catch (error) {
    // Nothing was committed, so the new files are orphans: deleted now rather than by vacuum. Not
    // when the commit itself failed midway (it may have landed after all): vacuum takes them later.
    if (!attempt.committing) await Promise.all(plans.map((plan) => deleteDataFiles(tableDir, plan.added)));
    throw error;
  }
}

function assertWritable({ tableDir, protocol, metadata }: DeltaSnapshot): void {
  const mapping = metadata.configuration["delta.columnMapping.mode"];
  if (
    protocol.minReaderVersion > 1 ||
    protocol.minWriterVersion > WRITER_VERSION ||
    (mapping ?? "none") !== "none"
  ) {
    throw new DeltaLogError(
      `delta table ${tableDir} needs reader ${protocol.minReaderVersion} / writer ${protocol.minWriterVersion}` +
        `${mapping ? ` with column mapping "${mapping}"` : ""}; compaction writes reader 1 / writer ${WRITER_VERSION} tables only`,
      LakeErrorCode.UnsupportedProtocol,
    );
  }
}

// Partitions with at least minFiles small files, their small files packed into groups.
function planPartitions(
  snapshot: DeltaSnapshot,
  target: number,
  minFiles: number,
  only: readonly PartitionValues[] | undefined,
): Plan[] {
  const columns = snapshot.metadata.partitionColumns;
  const keyOf = (values: PartitionValues) => JSON.stringify(columns.map((c) => values[c] ?? null));
  const wanted = only === undefined ? undefined : new Set(only.map(keyOf));
  const small = new Map<string, DeltaAddFile[]>();
  for (const file of snapshot.files) {
    if (file.size >= target / 2) continue;
    const key = keyOf(file.partitionValues);
    if (wanted !== undefined && !wanted.has(key)) continue;
    small.set(key, [...(small.get(key) ?? []), file]);
  }
  const plans: Plan[] = [];
  for (const files of small.values()) {
    if (files.length < minFiles) continue;
    const bins: DeltaAddFile[][] = [];
    let bin: DeltaAddFile[] = [];
    let bytes = 0;
    for (const file of files) {
      if (bin.length > 0 && bytes + file.size > target) {
        bins.push(bin);
        bin = [];
        bytes = 0;
      }
      bin.push(file);
      bytes += file.size;
    }
    bins.push(bin);
    const merged = bins.filter((b) => b.length > 1); // rewriting one file alone gains nothing
    if (merged.length === 0) continue;
    const partitionValues = Object.fromEntries(columns.map((c) => [c, files[0]!.partitionValues[c] ?? null]));
    const inputs = new Set(merged.flat().map((f) => pathKey(f.path)));
    plans.push({ partitionValues, bins: merged, inputs, added: [], rows: 0 });
  }
  return plans;
}

// A rewritten file whose row count differs from its inputs' statistics: the partition is left alone.
class CountMismatchError extends Error {}

// One group of small files → one new file, durable under its final name before it is committed.
async function rewrite(
  snapshot: DeltaSnapshot,
  fields: readonly DeltaStructField[],
  partitionValues: PartitionValues,
  inputs: readonly DeltaAddFile[],
  writer: ParquetWriter,
): Promise<DeltaAddFile> {
  const { tableDir } = snapshot;
  const relative = newDataFilePath(snapshot.metadata.partitionColumns, partitionValues);
  const path = join(tableDir, relative);
  const temp = tempPathOf(path);
  await ensureDir(dirname(path));
  let stats: DeltaFileStats;
  try {
    stats = await writer.withConnection(async (connection) => {
      await connection.run("SET TimeZone = 'UTC'"); // naive timestamps of other engines' files cast as UTC
      const select = typedScanSql(tableDir, fields, inputs);
      await connection.run(copyParquetSql(select, temp, writer.rowGroupSize));
      return parquetFileStats(connection, fields, temp);
    });
    const expected = sumRecords(inputs);
    if (expected !== undefined && expected !== stats.numRecords) {
      throw new CountMismatchError(
        `rewrote ${stats.numRecords} rows from ${inputs.length} files whose statistics count ${expected}`,
      );
    }
    await publishFile(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  return {
    path: encodeDeltaPath(relative),
    partitionValues,
    size: (await stat(path)).size,
    modificationTime: Date.now(),
    dataChange: false,
    stats,
  };
}

function sumRecords(files: readonly DeltaAddFile[]): number | undefined {
  let sum = 0;
  for (const file of files) {
    const records = file.stats?.numRecords;
    if (records === undefined) return undefined;
    sum += records;
  }
  return sum;
}

// Commits at the next version; when another writer took it, reads its commit: removed inputs
// abort their partition, a protocol or partitioning change aborts all, anything else (appends,
// new columns, txns) lets the same files be committed at the version after.
async function commit(
  snapshot: DeltaSnapshot,
  plans: Plan[],
  target: number,
  options: CompactTableOptions,
  attempt: { committing: boolean },
): Promise<number | undefined> {
  const { tableDir } = snapshot;
  const attempts = options.maxCommitAttempts ?? 100;
  let version = snapshot.version + 1;
  for (let tries = 1; ; tries++) {
    const live = plans.filter((p) => p.aborted === undefined && p.added.length > 0);
    if (live.length === 0) return undefined;
    const actions = compactionActions(snapshot, live, target, options.appId);
    try {
      attempt.committing = true;
      await commitDelta(tableDir, version, actions);
      return version;
    } catch (error) {
      if (!(error instanceof DeltaConflictError)) throw error;
      attempt.committing = false; // put-if-absent failed: nothing of ours is in the log
      if (tries >= attempts) throw error;
    }
    for (const action of await readCommit(tableDir, version)) {
      if ("remove" in action) {
        const key = pathKey(action.remove.path);
        for (const plan of live) {
          if (plan.aborted === undefined && plan.inputs.has(key))
            await abort(tableDir, plan, `version ${version} removed ${action.remove.path} first`);
        }
      } else if (
        "protocol" in action ||
        ("metaData" in action && partitioningChanged(snapshot, action.metaData.partitionColumns))
      ) {
        for (const plan of live) {
          if (plan.aborted === undefined)
            await abort(tableDir, plan, `version ${version} changed the table's protocol or partitioning`);
        }
      }
    }
    version++;
  }
}

function partitioningChanged(snapshot: DeltaSnapshot, columns: readonly string[]): boolean {
  return JSON.stringify(columns) !== JSON.stringify(snapshot.metadata.partitionColumns);
}

function compactionActions(
  snapshot: DeltaSnapshot,
  plans: readonly Plan[],
  target: number,
  appId: string | undefined,
): DeltaAction[] {
  const now = Date.now();
  const removed = plans.flatMap((p) => p.bins.flat());
  const added = plans.flatMap((p) => p.added);
  const bytes = (files: readonly DeltaAddFile[]) => files.reduce((sum, f) => sum + f.size, 0);
  const actions: DeltaAction[] = [
    {
      commitInfo: {
        timestamp: now,
        operation: "OPTIMIZE",
        operationParameters: {
          predicate: JSON.stringify(plans.map((p) => p.partitionValues)),
          targetSize: String(target),
        },
        operationMetrics: {
          numRemovedFiles: String(removed.length),
          numAddedFiles: String(added.length),
          numRemovedBytes: String(bytes(removed)),
          numAddedBytes: String(bytes(added)),
        },
        readVersion: snapshot.version,
        isolationLevel: "SnapshotIsolation",
        isBlindAppend: false,
        engineInfo: "inlet-lake",
        ...(appId === undefined ? {} : { appId }),
      },
    },
  ];
  for (const file of removed) actions.push(removeAction(file, now, false));
  for (const add of added) actions.push({ add });
  return actions;
}

async function abort(tableDir: string, plan: Plan, reason: string): Promise<void> {
  plan.aborted = reason;
  const added = plan.added;
  plan.added = [];
  plan.rows = 0;
  await deleteDataFiles(tableDir, added);
}

function result(version: number | undefined, plans: readonly Plan[]): CompactionResult {
  const partitions = plans.map((plan): CompactedPartition => {
    const done = version !== undefined && plan.aborted === undefined;
    const removed = done ? plan.bins.flat() : [];
    const added = done ? plan.added : [];
    return {
      partitionValues: plan.partitionValues,
      removed: removed.length,
      added: added.length,
      rows: done ? plan.rows : 0,
      bytesRemoved: removed.reduce((sum, f) => sum + f.size, 0),
      bytesAdded: added.reduce((sum, f) => sum + f.size, 0),
      ...(plan.aborted === undefined ? {} : { aborted: plan.aborted }),
    };
  });
  return {
    ...(version === undefined ? {} : { version }),
    removed: partitions.reduce((sum, p) => sum + p.removed, 0),
    added: partitions.reduce((sum, p) => sum + p.added, 0),
    partitions,
  };
}
