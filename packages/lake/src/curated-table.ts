import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { DuckDBValue } from "@duckdb/node-api";
import { type AvroColumn, type AvroSchema, avroColumns } from "./avro-columns.js";
import { ColumnKind, columnKindSpec, decimalShape } from "./column-kind.js";
import { type ColumnValues, Utf8Column } from "./column-vectors.js";
import { readLastCheckpoint, writeCheckpoint } from "./delta-checkpoint.js";
import {
  applyDeltaActions,
  commitDelta,
  type DeltaAction,
  type DeltaAddFile,
  type DeltaMetadata,
  type DeltaProtocol,
  type DeltaSnapshot,
  readDeltaSnapshot,
} from "./delta-log.js";
import { type DeltaStructField, type DeltaType, parseDeltaSchema, sameDeltaType } from "./delta-schema.js";
import { DeltaConflictError, DeltaLogError, LakeError, LakeErrorCode, LakeSchemaError } from "./errors.js";
import { type KeyedRewrite, keyCandidates, type MergeKeys, rewriteWithoutKeys } from "./merge-rewrite.js";
import { deleteDataFiles, pathKey, removeAction } from "./parquet-rewrite.js";
import type { ParquetColumn, ParquetWriteRequest, ParquetWriter } from "./parquet-writer.js";
import { curatedTableDir, encodeDeltaPath, hivePartitionSegment, utcDateOfDay, utcDayOf } from "./paths.js";
import { Serial } from "./serial.js";

/** How a curated table is partitioned. */
export const PartitionBy = {
  /** `event_date=YYYY-MM-DD/` directories from the event time (UTC). */
  EventDate: "event_date",
  /** No partitions: every file in the table directory. */
  None: "none",
} as const;

/** A {@link PartitionBy} value. */
export type PartitionBy = (typeof PartitionBy)[keyof typeof PartitionBy];

/** Lineage columns on every curated row (docs/contracts.md). */
export const LineageColumn = {
  EventId: "_event_id",
  IngestedAt: "_ingested_at",
  TraceId: "_trace_id",
  SchemaVersion: "_schema_version",
} as const;

/** The partition column of {@link PartitionBy.EventDate} tables, a DATE. */
export const EVENT_DATE_COLUMN = "event_date";

/** Table configuration key holding the newest dataset schema version written to the table. */
export const SCHEMA_VERSION_KEY = "inlet.schemaVersion";

/** One event to store: the decoded event and its lineage. */
export interface CuratedRow {
  /** The event as decoded from Avro (unions unwrapped, timestamps as ms numbers). */
  readonly event: Readonly<Record<string, unknown>>;
  readonly eventId: string;
  /** ms since the epoch. */
  readonly ingestedAt: number;
  /** 32 hex characters; empty when the event carried no trace (stored as NULL). */
  readonly traceId: string;
  readonly schemaVersion: number;
}

/**
 * Events as columns (see {@link CuratedTable.appendColumns}): one array per data column, in
 * {@link CuratedTable.dataColumns} order, and the lineage of each row. Every array has `rows` entries.
 */
export interface CuratedColumns {
  readonly rows: number;
  /**
   * Each data column's values (null or undefined = NULL), in {@link CuratedTable.dataColumns}
   * order; a string column's may be its text as UTF-8 ({@link Utf8Column}).
   */
  readonly data: readonly ColumnValues[];
  readonly eventIds: ArrayLike<string> | Utf8Column;
  /** ms since the epoch. */
  readonly ingestedAts: ArrayLike<number>;
  /** 32 hex characters, or null when the event carried no trace. */
  readonly traceIds: ArrayLike<string | null> | Utf8Column;
  readonly schemaVersions: ArrayLike<number>;
}

/** {@link CuratedColumns}, or what decodes them once the Parquet writer is ready to stage them. */
export type CuratedColumnsSource = CuratedColumns | (() => CuratedColumns | Promise<CuratedColumns>);

/** Options of {@link CuratedTable.open}. */
export interface CuratedTableOptions {
  /** The lake's root directory; the table lives in `<lakeDir>/curated/<dataset>`. */
  readonly lakeDir: string;
  readonly dataset: string;
  /** The dataset's Avro record schema of `schemaVersion`. */
  readonly avroSchema: AvroSchema;
  readonly schemaVersion: number;
  /** Default `event_date`. */
  readonly partitionBy?: PartitionBy;
  /** The field holding the event time (timestamp-millis, or a long of ms); required for `event_date`. */
  readonly eventTimeField?: string;
  /** The txn appId: the writer's durable consumer name. */
  readonly appId: string;
  readonly writer: ParquetWriter;
  /** Commit attempts when other writers keep winning the race; default 10. */
  readonly maxCommitAttempts?: number;
  /**
   * Commits between Parquet checkpoints; default 10 (Delta's). After a commit, a checkpoint is
   * written when the version is a multiple of it, or when that many commits passed since the
   * newest checkpoint this writer knows of (another writer's commit may have taken the multiple).
   */
  readonly checkpointInterval?: number;
  /**
   * Data columns forming the table's key, for {@link CuratedTable.merge}: each a field of the
   * schema holding strings, ints, longs, booleans, dates or timestamps. Default none.
   */
  readonly primaryKey?: readonly string[];
}

/** Options of {@link CuratedTable.append}. */
export interface AppendOptions {
  /**
   * The txn version the batch follows (0: none yet). The commit is refused (TXN_ALREADY_COMMITTED)
   * unless the appId still stands there, so two writers that read the same range cannot both
   * store it: the one that commits second learns it, and reads again from where the table is.
   */
  after?: number;
}

/** What one {@link CuratedTable.append} committed. */
export interface AppendResult {
  /** The table version of the commit. */
  readonly version: number;
  /** Data files added. */
  readonly files: number;
  readonly rows: number;
  /** The version checkpointed after this commit, when one was due and written. */
  readonly checkpoint?: number;
  /** Why the checkpoint due after this commit failed; the commit itself stands, the next one retries. */
  readonly checkpointError?: Error;
}

/** What one {@link CuratedTable.merge} committed. */
export interface MergeResult {
  /** The table version of the commit. */
  readonly version: number;
  /** Upserted rows written. */
  readonly rows: number;
  /** Keys of the deletes that the table held. */
  readonly deleted: number;
  /** Data files added: the upserted rows' and the rewritten files'. */
  readonly filesAdded: number;
  /** Live files that held rows of the batch's keys, removed (and rewritten without those rows). */
  readonly filesRemoved: number;
  /** Rows the rewritten files kept. */
  readonly rowsRewritten: number;
  /** The version checkpointed after this commit, when one was due and written. */
  readonly checkpoint?: number;
  /** Why the checkpoint due after this commit failed; the commit itself stands, the next one retries. */
  readonly checkpointError?: Error;
}

/** Default of {@link CuratedTableOptions.checkpointInterval}: Delta's `delta.checkpointInterval`. */
export const DEFAULT_CHECKPOINT_INTERVAL = 10;

const WRITER_VERSION = 2;
// In this order: CuratedColumns' lineage arrays follow the data columns in it.
const LINEAGE: readonly AvroColumn[] = [
  { name: LineageColumn.EventId, kind: ColumnKind.String, nullable: false },
  { name: LineageColumn.IngestedAt, kind: ColumnKind.TimestampMillis, nullable: false },
  { name: LineageColumn.TraceId, kind: ColumnKind.String, nullable: true },
  { name: LineageColumn.SchemaVersion, kind: ColumnKind.Int, nullable: false },
];
// Kinds whose values compare exactly, as keys must: no floating point, JSON text or bytes (and
// decimals, whose text is cast to DECIMAL before keys are compared).
const KEY_KINDS: ReadonlySet<ColumnKind> = new Set([
  ColumnKind.String,
  ColumnKind.Int,
  ColumnKind.Long,
  ColumnKind.Boolean,
  ColumnKind.Date,
  ColumnKind.TimestampMillis,
  ColumnKind.TimestampMicros,
]);

/**
 * A dataset's curated Delta table. Each {@link append} writes one Parquet file per event date and
 * commits them in one Delta commit together with a `txn` action (appId, last stream sequence), so
 * the batch becomes visible atomically and a restarted writer knows where it stopped
 * ({@link committedVersion}). Files written before a crash but never committed are orphans no
 * reader sees (vacuum deletes them). Every `checkpointInterval` commits a Parquet checkpoint
 * follows the commit, so loading the table stays fast however long its log. A table opened with a
 * primary key also takes upserts and deletes by key ({@link merge}). Appends and merges are
 * serialized.
 */
export class CuratedTable {
  /** The table directory. */
  readonly tableDir: string;
  readonly #options: CuratedTableOptions;
  readonly #columns: readonly AvroColumn[];
  readonly #fields: readonly DeltaStructField[];
  readonly #partitionColumns: readonly string[];
  readonly #eventTime: AvroColumn | undefined;
  readonly #primaryKey: readonly AvroColumn[];
  #snapshot: DeltaSnapshot | undefined;
  #lastCheckpoint: number;
  #typesOf: { metadata: DeltaMetadata; types: ReadonlyMap<string, DeltaType> } | undefined;
  readonly #serial = new Serial();

  private constructor(
    options: CuratedTableOptions,
    snapshot: DeltaSnapshot | undefined,
    lastCheckpoint: number,
  ) {
    const interval = options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new LakeError(
        `checkpointInterval must be a positive integer, got ${interval}`,
        LakeErrorCode.InvalidArgument,
      );
    }
    this.#lastCheckpoint = lastCheckpoint;
    this.#options = options;
    this.tableDir = curatedTableDir(options.lakeDir, options.dataset);
    const partitionBy = options.partitionBy ?? PartitionBy.EventDate;
    this.#partitionColumns = partitionBy === PartitionBy.EventDate ? [EVENT_DATE_COLUMN] : [];
    const data = avroColumns(options.avroSchema);
    const reserved = new Set([...LINEAGE.map((c) => c.name), ...this.#partitionColumns]);
    for (const column of data) {
      if (reserved.has(column.name)) {
        throw this.#schemaError(`field "${column.name}" clashes with a column the lake adds`);
      }
    }
    this.#columns = [...data, ...LINEAGE];
    this.#eventTime = this.#eventTimeColumn(data, partitionBy);
    this.#primaryKey = this.#keyColumns(data);
    const partitionFields: DeltaStructField[] = this.#partitionColumns.map((name) => ({
      name,
      type: "date",
      nullable: this.#eventTime?.nullable ?? true,
      metadata: {},
    }));
    this.#fields = [...this.#columns.map(deltaField), ...partitionFields];
    this.#snapshot = snapshot;
    if (snapshot !== undefined) this.#plan(snapshot); // refuse an incompatible schema now, not at the first append
  }

  /** Opens (or prepares to create) the dataset's table and replays its log. */
  static async open(options: CuratedTableOptions): Promise<CuratedTable> {
    const tableDir = curatedTableDir(options.lakeDir, options.dataset);
    const snapshot = await readDeltaSnapshot(tableDir);
    const last = await readLastCheckpoint(tableDir);
    // Without a checkpoint, commit 0 is where replay starts: the first is due `interval` commits on.
    return new CuratedTable(options, snapshot, Math.max(0, last?.version ?? 0));
  }

  /** The txn version last committed by this table's appId (the last stream sequence stored), if any. */
  committedVersion(): number | undefined {
    return this.#snapshot?.txns.get(this.#options.appId);
  }

  /** The snapshot this writer last read or committed; undefined before the table's first commit. */
  get snapshot(): DeltaSnapshot | undefined {
    return this.#snapshot;
  }

  /**
   * Writes `rows` and commits them with txn version `lastSeq` (which must exceed
   * {@link committedVersion}); with no rows, commits the txn alone. Retries at the next version
   * when another writer commits first; throws {@link LakeError} (TXN_ALREADY_COMMITTED) if that
   * writer already stored this appId's `lastSeq`, or moved it from `options.after`.
   */
  append(rows: readonly CuratedRow[], lastSeq: number, options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendColumns(() => this.#columnValues(rows), lastSeq, options);
  }

  /**
   * {@link append} of events as columns. A function is called only when the table's Parquet writer
   * is ready to stage the rows, so a caller can keep its batch compact (as received) until then.
   */
  appendColumns(
    source: CuratedColumnsSource,
    lastSeq: number,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    return this.#serial.run(() => this.#append(source, lastSeq, options.after));
  }

  /** Names of the data columns (the schema's fields), in {@link CuratedColumns.data} order. */
  get dataColumns(): readonly string[] {
    return this.#columns.slice(0, this.#columns.length - LINEAGE.length).map((c) => c.name);
  }

  /** Kinds of the data columns, in {@link dataColumns} order. */
  get dataColumnKinds(): readonly ColumnKind[] {
    return this.#columns.slice(0, this.#columns.length - LINEAGE.length).map((c) => c.kind);
  }

  /** The columns of {@link CuratedTableOptions.primaryKey}; empty when the table has none. */
  get primaryKey(): readonly string[] {
    return this.#primaryKey.map((c) => c.name);
  }

  /**
   * Upserts and deletes rows by {@link primaryKey} in ONE commit with txn version `lastSeq`:
   * afterwards the table holds, for every key of the batch, exactly its row of `upserts`, or none
   * for a key of `deletes`; every other row is unchanged. The batch holds at most one change per
   * key (the caller keeps the last); a delete gives at least the key columns' values, as
   * {@link CuratedRow.event} would. The upserts are written as {@link append} writes rows; each
   * live file holding a row of a batch key is rewritten without those rows and removed (its
   * rewrite is added unless no row is left). With neither, commits the txn alone. The txn is
   * checked as {@link append} checks it. When another writer commits first the commit is retried
   * at the next version, after rewriting the files that writer added and those replacing files
   * it removed that this merge had rewritten. Throws {@link LakeError} (INVALID_ARGUMENT) for a
   * table opened without a primary key, a key missing a value or given twice.
   */
  merge(
    upserts: readonly CuratedRow[],
    deletes: readonly Readonly<Record<string, unknown>>[],
    lastSeq: number,
    options: AppendOptions = {},
  ): Promise<MergeResult> {
    return this.#serial.run(() => this.#mergeBatch(upserts, deletes, lastSeq, options.after));
  }

  /**
   * Removes every row (a source table's TRUNCATE) in one commit with txn version `lastSeq`: each
   * live file gets a `remove` (dataChange=true), left for vacuum. The txn is checked as
   * {@link append} checks it; when another writer commits first, the files live after its commit
   * are removed instead.
   */
  truncate(lastSeq: number, options: AppendOptions = {}): Promise<{ version: number; filesRemoved: number }> {
    return this.#serial.run(async () => {
      assertSeq(lastSeq);
      this.#assertNotCommitted(lastSeq, options.after);
      const attempts = this.#options.maxCommitAttempts ?? 10;
      for (let attempt = 1; ; attempt++) {
        const snapshot = this.#snapshot;
        const version = (snapshot?.version ?? -1) + 1;
        const now = Date.now();
        const { protocol, metaData } = this.#plan(snapshot);
        const files = snapshot?.files ?? [];
        const actions: DeltaAction[] = [
          {
            commitInfo: {
              timestamp: now,
              operation: "DELETE",
              operationParameters: { predicate: "[]" },
              ...(snapshot === undefined ? {} : { readVersion: snapshot.version }),
              isBlindAppend: false,
              engineInfo: "inlet-lake",
            },
          },
          ...(protocol === undefined ? [] : [{ protocol }]),
          ...(metaData === undefined ? [] : [{ metaData }]),
          ...files.map((file) => removeAction(file, now, true)),
          { txn: { appId: this.#options.appId, version: lastSeq, lastUpdated: now } },
        ];
        try {
          await commitDelta(this.tableDir, version, actions);
        } catch (error) {
          if (!(error instanceof DeltaConflictError) || attempt >= attempts) throw error;
          this.#snapshot = await readDeltaSnapshot(this.tableDir, { since: this.#snapshot });
          this.#assertNotCommitted(lastSeq, options.after);
          continue;
        }
        this.#snapshot = applyDeltaActions(this.#snapshot, this.tableDir, version, actions);
        await this.#checkpointIfDue();
        return { version, filesRemoved: files.length };
      }
    });
  }

  async #append(
    source: CuratedColumnsSource,
    lastSeq: number,
    after: number | undefined,
  ): Promise<AppendResult> {
    assertSeq(lastSeq);
    this.#assertNotCommitted(lastSeq, after);
    const written = { rows: 0 };
    const adds = await this.#writeFiles(source, written);

    const attempts = this.#options.maxCommitAttempts ?? 10;
    for (let attempt = 1; ; attempt++) {
      const version = (this.#snapshot?.version ?? -1) + 1;
      const actions = this.#actions(adds, lastSeq);
      try {
        await commitDelta(this.tableDir, version, actions);
      } catch (error) {
        if (!(error instanceof DeltaConflictError) || attempt >= attempts) throw error;
        this.#snapshot = await readDeltaSnapshot(this.tableDir, { since: this.#snapshot });
        this.#assertNotCommitted(lastSeq, after);
        continue;
      }
      this.#snapshot = applyDeltaActions(this.#snapshot, this.tableDir, version, actions);
      return { version, files: adds.length, rows: written.rows, ...(await this.#checkpointIfDue()) };
    }
  }

  async #mergeBatch(
    upserts: readonly CuratedRow[],
    deletes: readonly Readonly<Record<string, unknown>>[],
    lastSeq: number,
    after: number | undefined,
  ): Promise<MergeResult> {
    assertSeq(lastSeq);
    if (this.#primaryKey.length === 0) {
      throw new LakeError(
        `dataset "${this.#options.dataset}": merge needs a table opened with a primaryKey`,
        LakeErrorCode.InvalidArgument,
      );
    }
    this.#assertNotCommitted(lastSeq, after);
    const keys = this.#batchKeys(upserts, deletes);
    const written = { rows: 0 };
    let adds: DeltaAddFile[] = [];
    // Rewrites by their source's path; every live file searched for the keys so far.
    const rewrites = new Map<string, KeyedRewrite>();
    const searched = new Set<string>();
    let committing = false;
    try {
      adds = await this.#writeFiles(() => this.#columnValues(upserts), written);
      const attempts = this.#options.maxCommitAttempts ?? 10;
      for (let attempt = 1; ; attempt++) {
        await this.#rewriteKeyed(keys, rewrites, searched);
        const version = (this.#snapshot?.version ?? -1) + 1;
        const done = [...rewrites.values()];
        const actions = this.#mergeActions(adds, done, keys, lastSeq);
        try {
          committing = true;
          await commitDelta(this.tableDir, version, actions);
        } catch (error) {
          if (!(error instanceof DeltaConflictError)) throw error;
          committing = false; // put-if-absent failed: nothing of ours is in the log
          if (attempt >= attempts) throw error;
          this.#snapshot = await readDeltaSnapshot(this.tableDir, { since: this.#snapshot });
          this.#assertNotCommitted(lastSeq, after);
          continue;
        }
        this.#snapshot = applyDeltaActions(this.#snapshot, this.tableDir, version, actions);
        const rewritten = done.flatMap((r) => (r.add === undefined ? [] : [r.add]));
        return {
          version,
          rows: written.rows,
          deleted: foundKeys(done, keys, true).size,
          filesAdded: adds.length + rewritten.length,
          filesRemoved: done.length,
          rowsRewritten: done.reduce((sum, r) => sum + r.rows, 0),
          ...(await this.#checkpointIfDue()),
        };
      }
    } catch (error) {
      // Nothing was committed: the files written are orphans, deleted now rather than by vacuum.
      // Not when the commit itself failed midway (it may have landed after all).
      if (!committing) {
        const rewritten = [...rewrites.values()].flatMap((r) => (r.add === undefined ? [] : [r.add]));
        await deleteDataFiles(this.tableDir, [...adds, ...rewritten]);
      }
      throw error;
    }
  }

  // The batch's keys, staged as the table stores them (a column the table widened in its wider
  // kind). Refuses a key column without a value and a key given twice.
  #batchKeys(
    upserts: readonly CuratedRow[],
    deletes: readonly Readonly<Record<string, unknown>>[],
  ): MergeKeys {
    const tableTypes = this.#tableTypes();
    const columns = this.#primaryKey.map((c) => ({
      name: c.name,
      kind: widenedKind(c.kind, tableTypes.get(c.name)),
    }));
    const values: DuckDBValue[][] = [];
    const deleted: boolean[] = [];
    const seen = new Map<string, string>();
    const add = (record: Readonly<Record<string, unknown>>, row: string, isDelete: boolean) => {
      const key = columns.map(({ name, kind }) => {
        const value = record[name];
        if (value === null || value === undefined) {
          throw new LakeError(
            `dataset "${this.#options.dataset}": ${row} has no value for key column "${name}"`,
            LakeErrorCode.InvalidArgument,
          );
        }
        try {
          return columnKindSpec(kind).stage(value);
        } catch (error) {
          throw new LakeError(
            `dataset "${this.#options.dataset}": ${row} key column "${name}": ${(error as Error).message}`,
            LakeErrorCode.InvalidArgument,
            { cause: error },
          );
        }
      });
      const id = JSON.stringify(key, (_, v) => (typeof v === "bigint" ? String(v) : v));
      const first = seen.get(id);
      if (first !== undefined) {
        const shown = Object.fromEntries(columns.map(({ name }) => [name, record[name]]));
        throw new LakeError(
          `dataset "${this.#options.dataset}": key ${JSON.stringify(shown, (_, v) => (typeof v === "bigint" ? String(v) : v))} is in the batch twice (${first} and ${row}); a merge takes one change per key`,
          LakeErrorCode.InvalidArgument,
        );
      }
      seen.set(id, row);
      values.push(key);
      deleted.push(isDelete);
    };
    for (const [i, row] of upserts.entries()) add(row.event, `upsert ${i}`, false);
    for (const [i, row] of deletes.entries()) add(row, `delete ${i}`, true);
    return { columns, values, deleted };
  }

  // Brings `rewrites` up to date with the snapshot: drops (and deletes) those whose source another
  // writer removed since (that writer's files, new to the search, hold its rows now), then
  // searches the live files not searched yet and rewrites those holding a key.
  async #rewriteKeyed(
    keys: MergeKeys,
    rewrites: Map<string, KeyedRewrite>,
    searched: Set<string>,
  ): Promise<void> {
    const snapshot = this.#snapshot;
    if (snapshot === undefined || keys.values.length === 0) return;
    const live = new Set(snapshot.files.map((f) => pathKey(f.path)));
    for (const [path, rewrite] of rewrites) {
      if (live.has(path)) continue;
      rewrites.delete(path);
      if (rewrite.add !== undefined) await deleteDataFiles(this.tableDir, [rewrite.add]);
    }
    const unsearched = snapshot.files.filter((f) => !searched.has(pathKey(f.path)));
    const candidates = keyCandidates(unsearched, keys);
    const found = await rewriteWithoutKeys(snapshot, candidates, keys, this.#options.writer);
    for (const file of unsearched) searched.add(pathKey(file.path));
    for (const rewrite of found) rewrites.set(pathKey(rewrite.source.path), rewrite);
  }

  #mergeActions(
    adds: readonly DeltaAddFile[],
    rewrites: readonly KeyedRewrite[],
    keys: MergeKeys,
    lastSeq: number,
  ): DeltaAction[] {
    const now = Date.now();
    const snapshot = this.#snapshot;
    const { protocol, metaData } = this.#plan(snapshot);
    const rewritten = rewrites.flatMap((r) => (r.add === undefined ? [] : [r.add]));
    const upserted = keys.deleted.filter((d) => !d).length;
    const updated = foundKeys(rewrites, keys, false).size;
    const actions: DeltaAction[] = [
      {
        commitInfo: {
          timestamp: now,
          operation: "MERGE",
          operationParameters: { primaryKey: JSON.stringify(this.primaryKey) },
          operationMetrics: {
            numSourceRows: String(keys.values.length),
            numTargetRowsInserted: String(upserted - updated),
            numTargetRowsUpdated: String(updated),
            numTargetRowsDeleted: String(foundKeys(rewrites, keys, true).size),
            numTargetRowsCopied: String(rewrites.reduce((sum, r) => sum + r.rows, 0)),
            numTargetFilesAdded: String(adds.length + rewritten.length),
            numTargetFilesRemoved: String(rewrites.length),
          },
          ...(snapshot === undefined ? {} : { readVersion: snapshot.version }),
          isBlindAppend: false,
          engineInfo: "inlet-lake",
        },
      },
    ];
    if (protocol !== undefined) actions.push({ protocol });
    if (metaData !== undefined) actions.push({ metaData });
    for (const rewrite of rewrites) actions.push(removeAction(rewrite.source, now, true));
    for (const add of [...adds, ...rewritten]) actions.push({ add });
    actions.push({ txn: { appId: this.#options.appId, version: lastSeq, lastUpdated: now } });
    return actions;
  }

  // The snapshot is exactly the table at its version here: it was read from the log or followed
  // this writer's own commit of that version.
  async #checkpointIfDue(): Promise<{ checkpoint?: number; checkpointError?: Error }> {
    const snapshot = this.#snapshot;
    const interval = this.#options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
    if (snapshot === undefined || snapshot.version === 0) return {};
    const due = snapshot.version % interval === 0 || snapshot.version - this.#lastCheckpoint >= interval;
    if (!due) return {};
    try {
      await this.#options.writer.withConnection((connection) =>
        writeCheckpoint(this.tableDir, snapshot, { connection }),
      );
      this.#lastCheckpoint = snapshot.version;
      return { checkpoint: snapshot.version };
    } catch (error) {
      return { checkpointError: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  // One Parquet file per partition, all written before anything is committed. Counts the rows
  // into `written`.
  async #writeFiles(source: CuratedColumnsSource, written: { rows: number }): Promise<DeltaAddFile[]> {
    const groups: { relative: string; partitionValues: Record<string, string | null> }[] = [];
    let files: string[] = [];
    const build = async (): Promise<ParquetWriteRequest> => {
      const batch = typeof source === "function" ? await source() : source;
      this.#checkColumns(batch);
      written.rows = batch.rows;
      const groupOf = this.#groups(batch, groups);
      const tableTypes = this.#tableTypes();
      const values = [...batch.data, batch.eventIds, batch.ingestedAts, batch.traceIds, batch.schemaVersions];
      const columns: ParquetColumn[] = this.#columns.map((column, c) => ({
        name: column.name,
        kind: widenedKind(column.kind, tableTypes.get(column.name)),
        values: values[c]!,
      }));
      files = groups.map((g) => join(this.tableDir, g.relative));
      // With no rows no file is written: the one name only keeps the request well-formed.
      return { columns, files: files.length > 0 ? files : [this.tableDir], groupOf };
    };
    const parquetFiles = await this.#options.writer.write(build);
    const now = Date.now();
    return parquetFiles.map((file) => {
      const group = groups[files.indexOf(file.path)]!;
      return {
        path: encodeDeltaPath(group.relative),
        partitionValues: group.partitionValues,
        size: file.size,
        modificationTime: now,
        dataChange: true,
        stats: file.stats,
      };
    });
  }

  // The file (group) of each row, by its event date; fills `groups` with each group's file.
  #groups(
    batch: CuratedColumns,
    groups: { relative: string; partitionValues: Record<string, string | null> }[],
  ): Int32Array {
    const groupOf = new Int32Array(batch.rows);
    const groupOfDay = new Map<number | null, number>();
    const eventTime = this.#eventTime;
    const column = eventTime === undefined ? undefined : batch.data[this.#columns.indexOf(eventTime)];
    // The event time is a timestamp or long column: its values are never UTF-8 text.
    const times = column instanceof Utf8Column ? undefined : column;
    if (column !== undefined && times === undefined) {
      throw new LakeError(
        `dataset "${this.#options.dataset}": event time column "${eventTime!.name}" holds text`,
        LakeErrorCode.InvalidArgument,
      );
    }
    for (let i = 0; i < batch.rows; i++) {
      const day = times === undefined ? null : this.#eventDay(times[i], i);
      let group = groupOfDay.get(day);
      if (group === undefined) {
        group = groups.length;
        groupOfDay.set(day, group);
        const date = day === null ? null : utcDateOfDay(day);
        const name = `part-${randomUUID()}.zstd.parquet`;
        groups.push(
          this.#partitionColumns.length === 0
            ? { relative: name, partitionValues: {} }
            : {
                relative: `${hivePartitionSegment(EVENT_DATE_COLUMN, date)}/${name}`,
                partitionValues: { [EVENT_DATE_COLUMN]: date },
              },
        );
      }
      groupOf[i] = group;
    }
    return groupOf;
  }

  #checkColumns(batch: CuratedColumns): void {
    const expected = this.#columns.length - LINEAGE.length;
    const lengths = [
      ...batch.data.map((d) => d.length),
      batch.eventIds.length,
      batch.ingestedAts.length,
      batch.traceIds.length,
      batch.schemaVersions.length,
    ];
    if (
      !Number.isSafeInteger(batch.rows) ||
      batch.data.length !== expected ||
      lengths.some((n) => n !== batch.rows)
    ) {
      throw new LakeError(
        `dataset "${this.#options.dataset}": columns must be ${expected} data arrays and 4 lineage arrays of ${batch.rows} values each`,
        LakeErrorCode.InvalidArgument,
      );
    }
  }

  // Column name → type in the table's schema, to write a column the table has widened in its wider type.
  #tableTypes(): ReadonlyMap<string, DeltaType> {
    const metadata = this.#snapshot?.metadata;
    if (metadata === undefined) return new Map();
    if (this.#typesOf?.metadata !== metadata) {
      const fields = parseDeltaSchema(metadata.schemaString).fields;
      this.#typesOf = { metadata, types: new Map(fields.map((f) => [f.name, f.type])) };
    }
    return this.#typesOf.types;
  }

  // The rows as columns, in one pass over the rows: reading every field of a row at once is several
  // times faster than a pass per column.
  #columnValues(rows: readonly CuratedRow[]): CuratedColumns {
    const n = rows.length;
    const names = this.dataColumns;
    const data = names.map(() => new Array<unknown>(n));
    const eventIds = new Array<string>(n);
    const ingestedAts = new Array<number>(n);
    const traceIds = new Array<string | null>(n);
    const schemaVersions = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const row = rows[i]!;
      const event = row.event;
      for (let c = 0; c < names.length; c++) data[c]![i] = event[names[c]!];
      eventIds[i] = row.eventId;
      ingestedAts[i] = row.ingestedAt;
      traceIds[i] = row.traceId === "" ? null : row.traceId;
      schemaVersions[i] = row.schemaVersion;
    }
    return { rows: n, data, eventIds, ingestedAts, traceIds, schemaVersions };
  }

  #eventDay(value: unknown, index: number): number | null {
    const column = this.#eventTime!;
    if (value === null || value === undefined) return null;
    let ms: number;
    if (value instanceof Date) ms = value.getTime();
    else if (typeof value === "number" || typeof value === "bigint") ms = Number(value);
    else ms = Number.NaN;
    if (column.kind === ColumnKind.TimestampMicros) ms = Math.floor(ms / 1000);
    if (!Number.isFinite(ms)) {
      throw new LakeError(
        `dataset "${this.#options.dataset}": row ${index} field "${column.name}" expected a timestamp, got ${String(value)}`,
        LakeErrorCode.InvalidArgument,
      );
    }
    return utcDayOf(ms);
  }

  #actions(adds: readonly DeltaAddFile[], lastSeq: number): DeltaAction[] {
    const now = Date.now();
    const { protocol, metaData } = this.#plan(this.#snapshot);
    const actions: DeltaAction[] = [
      {
        commitInfo: {
          timestamp: now,
          operation: "WRITE",
          operationParameters: { mode: "Append", partitionBy: JSON.stringify(this.#partitionColumns) },
          isBlindAppend: metaData === undefined,
          engineInfo: "inlet-lake",
        },
      },
    ];
    if (protocol !== undefined) actions.push({ protocol });
    if (metaData !== undefined) actions.push({ metaData });
    for (const add of adds) actions.push({ add });
    actions.push({ txn: { appId: this.#options.appId, version: lastSeq, lastUpdated: now } });
    return actions;
  }

  // The protocol and metaData a commit on top of `snapshot` must carry: both for a new table; a
  // metaData update when this schema version adds columns (or writes without a non-null column).
  #plan(snapshot: DeltaSnapshot | undefined): { protocol?: DeltaProtocol; metaData?: DeltaMetadata } {
    const version = this.#options.schemaVersion;
    if (snapshot === undefined) {
      return {
        protocol: { minReaderVersion: 1, minWriterVersion: WRITER_VERSION },
        metaData: {
          id: randomUUID(),
          name: this.#options.dataset,
          format: { provider: "parquet", options: {} },
          schemaString: JSON.stringify({ type: "struct", fields: this.#fields }),
          partitionColumns: [...this.#partitionColumns],
          configuration: { [SCHEMA_VERSION_KEY]: String(version) },
          createdTime: Date.now(),
        },
      };
    }
    if (snapshot.protocol.minWriterVersion > WRITER_VERSION) {
      throw new DeltaLogError(
        `delta table ${this.tableDir} needs writer version ${snapshot.protocol.minWriterVersion}; this writer implements ${WRITER_VERSION}`,
        LakeErrorCode.UnsupportedProtocol,
      );
    }
    const { metadata } = snapshot;
    if (JSON.stringify(metadata.partitionColumns) !== JSON.stringify(this.#partitionColumns)) {
      throw this.#schemaError(
        `the table is partitioned by [${metadata.partitionColumns.join(", ")}], the dataset by [${this.#partitionColumns.join(", ")}]`,
      );
    }
    const table = parseDeltaSchema(metadata.schemaString).fields;
    const merged = this.#merge(table);
    const tableVersion = Number(metadata.configuration[SCHEMA_VERSION_KEY] ?? 0);
    if (JSON.stringify(merged) === JSON.stringify(table) && tableVersion >= version) return {};
    return {
      metaData: {
        ...metadata,
        schemaString: JSON.stringify({ type: "struct", fields: merged }),
        configuration: {
          ...metadata.configuration,
          [SCHEMA_VERSION_KEY]: String(Math.max(tableVersion, version)),
        },
      },
    };
  }

  // The table's columns stay, in order, with the same types; this schema's new columns come after
  // the table's data columns, nullable (older files do not have them). A column this schema does
  // not write becomes nullable.
  #merge(table: readonly DeltaStructField[]): DeltaStructField[] {
    const ours = new Map(this.#fields.map((f) => [f.name, f]));
    const known = new Set(table.map((f) => f.name.toLowerCase()));
    const kept = table.map((field) => {
      const our = ours.get(field.name);
      if (our === undefined) {
        if ([...ours.keys()].some((name) => name.toLowerCase() === field.name.toLowerCase())) {
          throw this.#schemaError(`field "${field.name}" differs from the table's column only by case`);
        }
        return field.nullable ? field : { ...field, nullable: true };
      }
      let type = field.type;
      if (!sameDeltaType(field.type, our.type)) {
        if (widens(field.type, our.type)) type = our.type;
        else if (!widens(our.type, field.type)) {
          throw this.#schemaError(
            `field "${field.name}" is ${JSON.stringify(our.type)} in schema version ${this.#options.schemaVersion} ` +
              `but ${JSON.stringify(field.type)} in the table; only new nullable fields and widened types ` +
              "(int to long, float to double) are allowed",
          );
        }
      }
      const nullable = field.nullable || our.nullable;
      return type === field.type && nullable === field.nullable ? field : { ...field, type, nullable };
    });
    const added = this.#fields
      .filter((f) => !known.has(f.name.toLowerCase()))
      .map((f) => ({ ...f, nullable: true }));
    const tail = new Set<string>([...LINEAGE.map((c) => c.name), ...this.#partitionColumns]);
    const firstTail = kept.findIndex((f) => tail.has(f.name));
    const at = firstTail === -1 ? kept.length : firstTail;
    return [
      ...kept.slice(0, at),
      ...added.filter((f) => !tail.has(f.name)),
      ...kept.slice(at),
      ...added.filter((f) => tail.has(f.name)),
    ];
  }

  #eventTimeColumn(columns: readonly AvroColumn[], partitionBy: PartitionBy): AvroColumn | undefined {
    if (partitionBy === PartitionBy.None) return undefined;
    const name = this.#options.eventTimeField;
    const column = columns.find((c) => c.name === name);
    const timeKinds: readonly ColumnKind[] = [
      ColumnKind.TimestampMillis,
      ColumnKind.TimestampMicros,
      ColumnKind.Long,
    ];
    if (column === undefined || !timeKinds.includes(column.kind)) {
      throw this.#schemaError(
        `eventTimeField ${JSON.stringify(name)} must name a timestamp-millis (or long ms) field of the schema`,
      );
    }
    return column;
  }

  // The primary key's columns: data columns of a kind whose values compare exactly.
  #keyColumns(data: readonly AvroColumn[]): AvroColumn[] {
    const names = this.#options.primaryKey ?? [];
    return names.map((name, i) => {
      const column = data.find((c) => c.name === name);
      if (column === undefined) {
        throw this.#schemaError(`primary key column "${name}" is not a field of the schema`);
      }
      if (names.indexOf(name) !== i) throw this.#schemaError(`primary key column "${name}" is named twice`);
      if (!KEY_KINDS.has(column.kind) && decimalShape(column.kind) === undefined) {
        throw this.#schemaError(
          `primary key column "${name}" holds ${column.kind} values; a key column must hold strings, ints, longs, decimals, booleans, dates or timestamps`,
        );
      }
      return column;
    });
  }

  #assertNotCommitted(lastSeq: number, after: number | undefined): void {
    const committed = this.committedVersion();
    if (committed !== undefined && lastSeq <= committed) {
      throw new LakeError(
        `dataset "${this.#options.dataset}": appId "${this.#options.appId}" already committed up to ${committed}; refusing ${lastSeq}`,
        LakeErrorCode.TxnAlreadyCommitted,
      );
    }
    if (after !== undefined && (committed ?? 0) !== after) {
      throw new LakeError(
        `dataset "${this.#options.dataset}": appId "${this.#options.appId}" committed up to ${committed ?? 0}, not ${after} as this batch expects; refusing ${lastSeq}`,
        LakeErrorCode.TxnAlreadyCommitted,
      );
    }
  }

  #schemaError(reason: string): LakeSchemaError {
    return new LakeSchemaError(
      `dataset "${this.#options.dataset}": ${reason}`,
      LakeErrorCode.IncompatibleSchema,
    );
  }
}

function assertSeq(lastSeq: number): void {
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) {
    throw new LakeError(
      `lastSeq must be a non-negative integer, got ${lastSeq}`,
      LakeErrorCode.InvalidArgument,
    );
  }
}

// The keys (indexes) of deletes, or of upserts, that the rewritten files held.
function foundKeys(rewrites: readonly KeyedRewrite[], keys: MergeKeys, deleted: boolean): Set<number> {
  const found = new Set<number>();
  for (const rewrite of rewrites) {
    for (const k of rewrite.keys) if (keys.deleted[k] === deleted) found.add(k);
  }
  return found;
}

// Type widenings a new schema version may make (BACKWARD compatible in Avro, readable by union).
const WIDENINGS: Readonly<Record<string, readonly string[]>> = {
  integer: ["long"],
  float: ["double"],
};

function widens(from: DeltaType, to: DeltaType): boolean {
  return typeof from === "string" && typeof to === "string" && (WIDENINGS[from]?.includes(to) ?? false);
}

// A column this schema writes narrower than the table declares it is written in the table's type.
function widenedKind(kind: ColumnKind, tableType: DeltaType | undefined): ColumnKind {
  if (kind === ColumnKind.Int && tableType === "long") return ColumnKind.Long;
  if (kind === ColumnKind.Float && tableType === "double") return ColumnKind.Double;
  return kind;
}

function deltaField(column: AvroColumn): DeltaStructField {
  return {
    name: column.name,
    type: columnKindSpec(column.kind).deltaType,
    nullable: column.nullable,
    metadata: column.doc === undefined ? {} : { comment: column.doc },
  };
}
