import { randomUUID } from "node:crypto";
import { link, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { readCheckpointRows } from "./delta-checkpoint.js";
import { deletedFileRetentionMs } from "./delta-properties.js";
import { ensureDir, syncDir } from "./durable-fs.js";
import { DeltaConflictError, DeltaLogError, LakeError, LakeErrorCode } from "./errors.js";
import { deltaCommitFileName, deltaLogDir } from "./paths.js";

// The Delta Lake transaction log (PROTOCOL.md, reader version 1 / writer version 2): the action
// types, put-if-absent commits, and log replay into a snapshot.

/** The `protocol` action: the reader and writer versions a client needs. */
export interface DeltaProtocol {
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly readerFeatures?: readonly string[];
  readonly writerFeatures?: readonly string[];
}

/** The `metaData` action: table id, schema, partitioning and configuration. The latest one wins. */
export interface DeltaMetadata {
  /** A UUID. */
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly format: { readonly provider: string; readonly options: Readonly<Record<string, string>> };
  /** The table schema: a Delta struct serialized as JSON (see `parseDeltaSchema`). */
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
  /** ms since the epoch. */
  readonly createdTime?: number;
}

/** Per-file statistics; written to the log as the JSON string the protocol asks for, parsed when read. */
export interface DeltaFileStats {
  readonly numRecords: number;
  readonly minValues?: Readonly<Record<string, unknown>>;
  readonly maxValues?: Readonly<Record<string, unknown>>;
  readonly nullCount?: Readonly<Record<string, unknown>>;
  readonly tightBounds?: boolean;
}

/** The `add` action: a data file that is part of the table. */
export interface DeltaAddFile {
  /** Relative to the table directory and URI-encoded (see `encodeDeltaPath`), or an absolute URI. */
  readonly path: string;
  /** Partition column → value as a string; null for a null value. */
  readonly partitionValues: Readonly<Record<string, string | null>>;
  /** Bytes. */
  readonly size: number;
  /** ms since the epoch. */
  readonly modificationTime: number;
  /** False when the file only rearranges data already in the table (compaction). */
  readonly dataChange: boolean;
  readonly stats?: DeltaFileStats;
  readonly tags?: Readonly<Record<string, string>>;
}

/** The `remove` action: a data file leaves the table (a tombstone until vacuumed). */
export interface DeltaRemoveFile {
  readonly path: string;
  /** ms since the epoch. */
  readonly deletionTimestamp?: number;
  readonly dataChange: boolean;
  readonly extendedFileMetadata?: boolean;
  readonly partitionValues?: Readonly<Record<string, string | null>>;
  readonly size?: number;
}

/** The `txn` action: an application's progress, committed atomically with its data (idempotent writes). */
export interface DeltaTxn {
  readonly appId: string;
  readonly version: number;
  /** ms since the epoch. */
  readonly lastUpdated?: number;
}

/** One action of a commit. */
export type DeltaAction =
  | { readonly protocol: DeltaProtocol }
  | { readonly metaData: DeltaMetadata }
  | { readonly add: DeltaAddFile }
  | { readonly remove: DeltaRemoveFile }
  | { readonly txn: DeltaTxn }
  | { readonly commitInfo: Readonly<Record<string, unknown>> };

/** The state of a table at one version, from replaying its log. */
export interface DeltaSnapshot {
  readonly tableDir: string;
  readonly version: number;
  readonly protocol: DeltaProtocol;
  readonly metadata: DeltaMetadata;
  /** The table's live data files (adds not removed since). */
  readonly files: readonly DeltaAddFile[];
  /** appId → last committed txn version. */
  readonly txns: ReadonlyMap<string, number>;
  /**
   * Files removed and not yet expired (deleted less than the table's
   * `delta.deletedFileRetentionDuration`, default 7 days, ago): the tombstones a checkpoint keeps.
   */
  readonly tombstones: readonly DeltaRemoveFile[];
}

/** What loading a snapshot reads: where the replay starts and which JSON commits follow. */
export interface DeltaReplayPlan {
  /** The version the replay ends at. */
  readonly version: number;
  /** The checkpoint the replay starts from (its version and part files, absolute paths), if any. */
  readonly checkpoint?: { readonly version: number; readonly files: readonly string[] };
  /** True when the replay starts from the `since` snapshot instead. */
  readonly fromSince: boolean;
  /** The JSON commits read, in order. */
  readonly commits: readonly number[];
}

/** Options of {@link readDeltaSnapshot}. */
export interface ReadDeltaSnapshotOptions {
  /** The version to read (time travel); default the latest. */
  readonly version?: number;
  /** A snapshot of the same table already in hand: only the commits after it are read. */
  readonly since?: DeltaSnapshot;
  /** A DuckDB connection for reading Parquet checkpoints; a private in-memory one is opened when needed. */
  readonly connection?: DuckDBConnection;
}

/**
 * Writes commit `version` put-if-absent: the actions go to a temp file (one JSON action per line),
 * fsynced, then hard-linked to `_delta_log/%020d.json`, which fails if the name exists; the
 * directory is fsynced. Never overwrites. Throws {@link DeltaConflictError} (VERSION_EXISTS) when
 * another writer committed that version first.
 */
export async function commitDelta(
  tableDir: string,
  version: number,
  actions: readonly DeltaAction[],
): Promise<void> {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new LakeError(
      `delta version must be a non-negative integer, got ${version}`,
      LakeErrorCode.InvalidArgument,
    );
  }
  const logDir = deltaLogDir(tableDir);
  await ensureDir(logDir);
  const name = deltaCommitFileName(version);
  const temp = join(logDir, `.${name}.${randomUUID()}.tmp`);
  const handle = await open(temp, "wx");
  try {
    try {
      await handle.writeFile(`${actions.map(serializeAction).join("\n")}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, join(logDir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new DeltaConflictError(tableDir, version, { cause: error });
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
  await syncDir(logDir);
}

/**
 * Replays the log into the snapshot at `version` (default: the latest), starting from the newest
 * complete Parquet checkpoint at or before it when there is one, or from `since`. Resolves to
 * undefined when the table has no log or the log cannot produce that version; throws
 * {@link DeltaLogError} (CORRUPT_LOG) when a commit is missing or malformed.
 */
export async function readDeltaSnapshot(
  tableDir: string,
  options: ReadDeltaSnapshotOptions = {},
): Promise<DeltaSnapshot | undefined> {
  const plan = await planDeltaReplay(tableDir, options);
  if (plan === undefined) return undefined;
  const state = new ReplayState(tableDir);
  if (plan.fromSince && options.since !== undefined) state.load(options.since);
  else if (plan.checkpoint !== undefined)
    state.apply(parseActions(await readCheckpointRows(plan.checkpoint.files, options.connection)));
  for (const version of plan.commits) state.apply(await readCommit(tableDir, version));
  return state.snapshot(plan.version);
}

/**
 * Plans a snapshot load (see {@link readDeltaSnapshot}) from one listing of `_delta_log`: start
 * from `since` when it is at or after the newest complete checkpoint at or before the target
 * version, else from that checkpoint, else from commit 0; then every JSON commit up to the target.
 * Undefined when the table has no log or the log cannot produce that version; throws
 * {@link DeltaLogError} (CORRUPT_LOG) when a commit in the range is missing.
 */
export async function planDeltaReplay(
  tableDir: string,
  options: Pick<ReadDeltaSnapshotOptions, "version" | "since"> = {},
): Promise<DeltaReplayPlan | undefined> {
  const listing = await listLog(tableDir);
  if (listing === undefined) return undefined;
  let latest = -1;
  for (const version of [...listing.commits, ...listing.checkpoints.keys()])
    latest = Math.max(latest, version);
  const target = options.version ?? latest;
  if (!Number.isSafeInteger(target) || target < 0 || target > latest) return undefined;

  let from = 0;
  let fromSince = false;
  let checkpoint: DeltaReplayPlan["checkpoint"];
  const since = options.since;
  const newest = Math.max(-1, ...[...listing.checkpoints.keys()].filter((v) => v <= target));
  if (since !== undefined && since.version <= target && since.version >= newest) {
    fromSince = true;
    from = since.version + 1;
  } else if (newest >= 0) {
    const files = listing.checkpoints.get(newest)!.map((f) => join(deltaLogDir(tableDir), f));
    checkpoint = { version: newest, files };
    from = newest + 1;
  } else if (!listing.commits.has(0)) {
    return undefined; // the early commits are gone and no checkpoint covers them
  }
  const commits: number[] = [];
  for (let version = from; version <= target; version++) {
    if (!listing.commits.has(version)) {
      throw new DeltaLogError(
        `delta table ${tableDir}: commit ${version} is missing from the log (replaying to ${target})`,
        LakeErrorCode.CorruptLog,
      );
    }
    commits.push(version);
  }
  return { version: target, ...(checkpoint ? { checkpoint } : {}), fromSince, commits };
}

/** The versions of the JSON commits in the table's log, ascending; empty when there is no log. */
export async function deltaCommitVersions(tableDir: string): Promise<number[]> {
  const listing = await listLog(tableDir);
  return listing === undefined ? [] : [...listing.commits].sort((a, b) => a - b);
}

/** The snapshot after applying one more commit's actions: how a writer follows its own commits without re-reading. */
export function applyDeltaActions(
  snapshot: DeltaSnapshot | undefined,
  tableDir: string,
  version: number,
  actions: readonly DeltaAction[],
): DeltaSnapshot {
  const state = new ReplayState(tableDir);
  if (snapshot !== undefined) state.load(snapshot);
  state.apply(actions);
  return state.snapshot(version);
}

/** Reads and parses one commit file; throws {@link DeltaLogError} (CORRUPT_LOG) on a malformed line. */
export async function readCommit(tableDir: string, version: number): Promise<DeltaAction[]> {
  const file = join(deltaLogDir(tableDir), deltaCommitFileName(version));
  const text = await readFile(file, "utf8");
  const actions: DeltaAction[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    try {
      const action = parseAction(JSON.parse(line));
      if (action !== undefined) actions.push(action);
    } catch (cause) {
      throw new DeltaLogError(
        `${file} line ${index + 1} is not a valid Delta action`,
        LakeErrorCode.CorruptLog,
        {
          cause,
        },
      );
    }
  }
  return actions;
}

/** An action as a JSON log line: `add.stats` becomes the JSON string the protocol stores. */
export function serializeAction(action: DeltaAction): string {
  if ("add" in action && action.add.stats !== undefined) {
    return JSON.stringify({ add: { ...action.add, stats: JSON.stringify(action.add.stats) } });
  }
  return JSON.stringify(action);
}

/**
 * A parsed log line or checkpoint row as an action: nulls dropped, `add.stats` parsed (unreadable
 * stats are ignored); undefined for actions a reader-1 snapshot does not track (cdc, domainMetadata…).
 */
export function parseAction(raw: unknown): DeltaAction | undefined {
  const line = raw as Record<string, Record<string, unknown> | null | undefined>;
  if (line.add) {
    const { stats, tags, ...rest } = withoutNulls(line.add);
    const add = {
      ...rest,
      partitionValues: (line.add.partitionValues ?? {}) as Record<string, string | null>,
    };
    const parsed = typeof stats === "string" ? parseStats(stats) : undefined;
    return {
      add: {
        ...(add as unknown as DeltaAddFile),
        ...(parsed ? { stats: parsed } : {}),
        ...(tags ? { tags: tags as Record<string, string> } : {}),
      },
    };
  }
  if (line.remove) return { remove: withoutNulls(line.remove) as unknown as DeltaRemoveFile };
  if (line.metaData) {
    const metaData = withoutNulls(line.metaData);
    return {
      metaData: {
        ...(metaData as unknown as DeltaMetadata),
        configuration: (metaData.configuration ?? {}) as Record<string, string>,
        partitionColumns: (metaData.partitionColumns ?? []) as string[],
      },
    };
  }
  if (line.protocol) return { protocol: withoutNulls(line.protocol) as unknown as DeltaProtocol };
  if (line.txn) return { txn: withoutNulls(line.txn) as unknown as DeltaTxn };
  if (line.commitInfo) return { commitInfo: line.commitInfo };
  return undefined;
}

function parseActions(rows: readonly unknown[]): DeltaAction[] {
  return rows.map(parseAction).filter((action) => action !== undefined);
}

function parseStats(text: string): DeltaFileStats | undefined {
  try {
    const stats = JSON.parse(text) as DeltaFileStats;
    return typeof stats === "object" && stats !== null ? stats : undefined;
  } catch {
    return undefined;
  }
}

function withoutNulls(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== null && v !== undefined));
}

// The log's commits and complete checkpoints (version → file names); undefined when there is no log.
/**
 * The JSON commits and the complete checkpoints (version → its files, every part of a multi-part
 * one) in the table's log; undefined when it has neither.
 */
export async function listLog(
  tableDir: string,
): Promise<{ commits: Set<number>; checkpoints: Map<number, string[]> } | undefined> {
  let names: string[];
  try {
    names = await readdir(deltaLogDir(tableDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const commits = new Set<number>();
  const parts = new Map<string, string[]>(); // "<version>/<part count>" → part files
  for (const name of names) {
    const commit = /^(\d{20})\.json$/.exec(name);
    if (commit) {
      commits.add(Number(commit[1]));
      continue;
    }
    const single = /^(\d{20})\.checkpoint\.parquet$/.exec(name);
    const multi = /^(\d{20})\.checkpoint\.\d{10}\.(\d{10})\.parquet$/.exec(name);
    const match = single ?? multi;
    if (!match) continue;
    const key = `${Number(match[1])}/${multi ? Number(multi[2]) : 1}`;
    parts.set(key, [...(parts.get(key) ?? []), name]);
  }
  const checkpoints = new Map<number, string[]>();
  for (const [key, files] of parts) {
    const [version, count] = key.split("/").map(Number) as [number, number];
    // A multi-part checkpoint with a part missing is ignored (PROTOCOL.md, Checkpoints).
    if (files.length === count) checkpoints.set(version, files.sort());
  }
  if (commits.size === 0 && checkpoints.size === 0) return undefined;
  return { commits, checkpoints };
}

// Action reconciliation: latest protocol and metadata win, files keyed by decoded path, txn per appId.
class ReplayState {
  protocol: DeltaProtocol | undefined;
  metadata: DeltaMetadata | undefined;
  readonly files = new Map<string, DeltaAddFile>();
  readonly txns = new Map<string, number>();
  readonly tombstones = new Map<string, DeltaRemoveFile>();

  constructor(readonly tableDir: string) {}

  load(snapshot: DeltaSnapshot): void {
    this.protocol = snapshot.protocol;
    this.metadata = snapshot.metadata;
    for (const file of snapshot.files) this.files.set(pathKey(file.path), file);
    for (const [appId, version] of snapshot.txns) this.txns.set(appId, version);
    for (const tombstone of snapshot.tombstones) this.tombstones.set(pathKey(tombstone.path), tombstone);
  }

  apply(actions: readonly DeltaAction[]): void {
    for (const action of actions) {
      if ("add" in action) {
        const key = pathKey(action.add.path);
        this.files.set(key, action.add);
        this.tombstones.delete(key);
      } else if ("remove" in action) {
        const key = pathKey(action.remove.path);
        this.files.delete(key);
        this.tombstones.set(key, action.remove);
      } else if ("txn" in action) this.txns.set(action.txn.appId, action.txn.version);
      else if ("metaData" in action) this.metadata = action.metaData;
      else if ("protocol" in action) this.protocol = action.protocol;
    }
  }

  snapshot(version: number): DeltaSnapshot {
    if (this.protocol === undefined || this.metadata === undefined) {
      throw new DeltaLogError(
        `delta table ${this.tableDir}: no ${this.protocol === undefined ? "protocol" : "metaData"} action up to version ${version}`,
        LakeErrorCode.CorruptLog,
      );
    }
    // Expired tombstones are dropped here, so a long-lived writer's snapshot stays bounded.
    const expiry = Date.now() - deletedFileRetentionMs(this.metadata);
    for (const [key, tombstone] of this.tombstones) {
      if ((tombstone.deletionTimestamp ?? 0) <= expiry) this.tombstones.delete(key);
    }
    return {
      tableDir: this.tableDir,
      version,
      protocol: this.protocol,
      metadata: this.metadata,
      files: [...this.files.values()],
      txns: new Map(this.txns),
      tombstones: [...this.tombstones.values()],
    };
  }
}

// Paths are URIs: "a%20b" and "a b" name the same file.
function pathKey(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

// The query engine builds its views from a snapshot; the SQL lives in its own module.
export { snapshotScanSql } from "./snapshot-scan.js";
