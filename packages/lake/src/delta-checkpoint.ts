import { randomUUID } from "node:crypto";
import { link, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { DeltaSnapshot } from "./delta-log.js";
import { deletedFileRetentionMs } from "./delta-properties.js";
import { renameDurable, syncDir, syncFile } from "./durable-fs.js";
import { DeltaLogError, LakeErrorCode } from "./errors.js";
import { deltaCheckpointFileName, deltaLogDir } from "./paths.js";
import { quoteString } from "./sql.js";

// Parquet checkpoints (PROTOCOL.md, "Checkpoints" and "Checkpoint Schema"): classic, V1 spec, one
// file per version, one row per action, each action a struct column.

/** The `_last_checkpoint` file: the newest checkpoint's version and row count. */
export interface LastCheckpoint {
  readonly version: number;
  /** Actions (rows) in the checkpoint. */
  readonly size: number;
  /** Part files of a multi-part checkpoint; absent for a single file. */
  readonly parts?: number;
  readonly sizeInBytes?: number;
  readonly numOfAddFiles?: number;
}

/** A checkpoint {@link writeCheckpoint} made (or found already made). */
export interface WrittenCheckpoint {
  readonly version: number;
  /** Rows (actions) in the checkpoint. */
  readonly size: number;
  /** The checkpoint file. */
  readonly path: string;
  /** False when a checkpoint of this version existed already and was left as it was. */
  readonly created: boolean;
}

/** Options of {@link writeCheckpoint}. */
export interface WriteCheckpointOptions {
  /** A DuckDB connection that may write files; a private in-memory DuckDB is opened when absent. */
  readonly connection?: DuckDBConnection;
  /** "Now" for tombstone expiry, ms since the epoch; default `Date.now()`. */
  readonly now?: number;
}

/** The name of the file pointing at the newest checkpoint, inside `_delta_log`. */
export const LAST_CHECKPOINT_FILE = "_last_checkpoint";

// The V1 checkpoint schema for reader 1 / writer 2 (readerFeatures, writerFeatures, stats_parsed
// and partitionValues_parsed are optional and left out). `remove` carries no stats or tags.
const MAP = "MAP(VARCHAR, VARCHAR)";
const CHECKPOINT_COLUMNS: readonly (readonly [string, Readonly<Record<string, unknown>>])[] = [
  ["txn", { appId: "VARCHAR", version: "BIGINT", lastUpdated: "BIGINT" }],
  [
    "add",
    {
      path: "VARCHAR",
      partitionValues: MAP,
      size: "BIGINT",
      modificationTime: "BIGINT",
      dataChange: "BOOLEAN",
      stats: "VARCHAR",
      tags: MAP,
    },
  ],
  [
    "remove",
    {
      path: "VARCHAR",
      deletionTimestamp: "BIGINT",
      dataChange: "BOOLEAN",
      extendedFileMetadata: "BOOLEAN",
      partitionValues: MAP,
      size: "BIGINT",
    },
  ],
  [
    "metaData",
    {
      id: "VARCHAR",
      name: "VARCHAR",
      description: "VARCHAR",
      format: { provider: "VARCHAR", options: MAP },
      schemaString: "VARCHAR",
      partitionColumns: "VARCHAR[]",
      configuration: MAP,
      createdTime: "BIGINT",
    },
  ],
  ["protocol", { minReaderVersion: "INTEGER", minWriterVersion: "INTEGER" }],
];
const LINES = "inlet_checkpoint_lines";

/**
 * The rows of a Parquet checkpoint (one file, or every part of a multi-part one) as parsed JSON
 * objects shaped like log lines (`{"add": {…}, "remove": null, …}`), read with DuckDB: each row is
 * turned into JSON inside SQL. Uses `connection` when given, else a private in-memory DuckDB.
 */
export async function readCheckpointRows(
  files: readonly string[],
  connection?: DuckDBConnection,
): Promise<unknown[]> {
  return withConnection(connection, (c) => query(c, files));
}

/**
 * Writes the Parquet checkpoint of `snapshot` as `_delta_log/%020d.checkpoint.parquet` (V1 spec:
 * one row per protocol, metaData, txn, live add and unexpired remove; `add.stats` as a JSON
 * string, partition values as map<string,string>), then points `_last_checkpoint` at it. The
 * checkpoint goes to a temp file, is fsynced and hard-linked into place, never overwriting: when
 * one exists for that version already it is kept (`created: false`). `_last_checkpoint` is
 * replaced atomically (temp file, fsync, rename) unless it already names a newer version. Throws
 * {@link DeltaLogError} (UNSUPPORTED_PROTOCOL) for tables needing reader 3 or writer 7 features.
 */
export async function writeCheckpoint(
  tableDir: string,
  snapshot: DeltaSnapshot,
  options: WriteCheckpointOptions = {},
): Promise<WrittenCheckpoint> {
  const { protocol } = snapshot;
  if (protocol.minReaderVersion > 2 || protocol.minWriterVersion > 6) {
    throw new DeltaLogError(
      `delta table ${tableDir} needs reader ${protocol.minReaderVersion} / writer ${protocol.minWriterVersion}; ` +
        "checkpoints are written for reader 1-2 / writer 2-6 tables only",
      LakeErrorCode.UnsupportedProtocol,
    );
  }
  const logDir = deltaLogDir(tableDir);
  const path = join(logDir, deltaCheckpointFileName(snapshot.version));
  const lines = checkpointLines(snapshot, options.now ?? Date.now());
  const temp = join(logDir, `.${deltaCheckpointFileName(snapshot.version)}.${randomUUID()}.tmp`);
  let created = true;
  try {
    await withConnection(options.connection, (c) => copyLines(c, lines, temp));
    await syncFile(temp);
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    created = false; // another writer checkpointed this version; both hold the same state
  } finally {
    await rm(temp, { force: true });
  }
  await syncDir(logDir);
  const last = await readLastCheckpoint(tableDir);
  if (last === undefined || last.version < snapshot.version) {
    const adds = snapshot.files.length;
    const sizeInBytes = (await stat(path)).size;
    await writeLastCheckpoint(tableDir, {
      version: snapshot.version,
      size: lines.length,
      sizeInBytes,
      numOfAddFiles: adds,
    });
  }
  return { version: snapshot.version, size: lines.length, path, created };
}

/** The table's `_delta_log/_last_checkpoint`, or undefined when it is absent or unreadable (it is only a hint). */
export async function readLastCheckpoint(tableDir: string): Promise<LastCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(join(deltaLogDir(tableDir), LAST_CHECKPOINT_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LastCheckpoint> | null;
    if (!Number.isSafeInteger(parsed?.version) || !Number.isSafeInteger(parsed?.size)) return undefined;
    return parsed as LastCheckpoint;
  } catch {
    return undefined;
  }
}

async function writeLastCheckpoint(tableDir: string, last: LastCheckpoint): Promise<void> {
  const logDir = deltaLogDir(tableDir);
  const temp = join(logDir, `.${LAST_CHECKPOINT_FILE}.${randomUUID()}.tmp`);
  try {
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(JSON.stringify(last));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await renameDurable(temp, join(logDir, LAST_CHECKPOINT_FILE));
  } finally {
    await rm(temp, { force: true });
  }
}

// One JSON object per checkpoint row, in the checkpoint schema's shape.
function checkpointLines(snapshot: DeltaSnapshot, now: number): string[] {
  const lines = [
    JSON.stringify({
      protocol: {
        minReaderVersion: snapshot.protocol.minReaderVersion,
        minWriterVersion: snapshot.protocol.minWriterVersion,
      },
    }),
    JSON.stringify({ metaData: snapshot.metadata }),
  ];
  for (const [appId, version] of snapshot.txns) lines.push(JSON.stringify({ txn: { appId, version } }));
  for (const add of snapshot.files) {
    const stats = add.stats === undefined ? undefined : JSON.stringify(add.stats);
    lines.push(JSON.stringify({ add: { ...add, stats } }));
  }
  // The snapshot already left out tombstones expired when it was built; `now` may be later.
  const retention = now - deletedFileRetentionMs(snapshot.metadata);
  for (const remove of snapshot.tombstones) {
    if ((remove.deletionTimestamp ?? 0) <= retention) continue;
    const { path, deletionTimestamp, dataChange, extendedFileMetadata, partitionValues, size } = remove;
    lines.push(
      JSON.stringify({
        remove: { path, deletionTimestamp, dataChange, extendedFileMetadata, partitionValues, size },
      }),
    );
  }
  return lines;
}

// The lines are appended to a one-column table, then parsed into the checkpoint's typed structs
// and copied to Parquet in one statement.
async function copyLines(
  connection: DuckDBConnection,
  lines: readonly string[],
  file: string,
): Promise<void> {
  await connection.run(`CREATE OR REPLACE TABLE ${LINES} (line VARCHAR)`);
  try {
    const appender = await connection.createAppender(LINES);
    try {
      for (const line of lines) {
        appender.appendVarchar(line);
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    const structure = JSON.stringify(Object.fromEntries(CHECKPOINT_COLUMNS));
    const columns = CHECKPOINT_COLUMNS.map(([name]) => `action.${name} AS "${name}"`).join(", ");
    await connection.run(
      `COPY (SELECT ${columns} FROM (SELECT json_transform(line, ${quoteString(structure)}) AS action FROM ${LINES})) ` +
        `TO ${quoteString(file)} (FORMAT parquet)`,
    );
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${LINES}`);
  }
}

async function query(connection: DuckDBConnection, files: readonly string[]): Promise<unknown[]> {
  const list = files.map(quoteString).join(", ");
  let rows: unknown[][];
  try {
    const reader = await connection.runAndReadAll(
      `SELECT to_json(checkpoint)::VARCHAR FROM read_parquet([${list}], union_by_name = true, hive_partitioning = false) AS checkpoint`,
    );
    rows = reader.getRows();
  } catch (cause) {
    throw new DeltaLogError(`cannot read delta checkpoint ${files.join(", ")}`, LakeErrorCode.CorruptLog, {
      cause,
    });
  }
  return rows.map((row) => JSON.parse(String(row[0])));
}

async function withConnection<T>(
  connection: DuckDBConnection | undefined,
  run: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  if (connection !== undefined) return run(connection);
  const instance = await DuckDBInstance.create(":memory:");
  const own = await instance.connect();
  try {
    return await run(own);
  } finally {
    own.closeSync();
    instance.closeSync();
  }
}
