import { randomUUID } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { setImmediate } from "node:timers/promises";
import { type DuckDBConnection, DuckDBDataChunk, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import duckdb from "@duckdb/node-bindings";
import { COLUMN_KINDS, type ColumnKind } from "./column-kind.js";
import { columnVectors, GROUP_VECTORS, VECTOR_ROWS, VectorScratch } from "./column-vectors.js";
import { ensureDir, renameDurable, syncFile } from "./durable-fs.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { quoteIdent, quoteString } from "./sql.js";

/** One column to write: its name, kind and one value per row (null or undefined = NULL). */
export interface ParquetColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly values: ArrayLike<unknown>;
}

/** Rows to write, column by column, split into one file per group. */
export interface ParquetWriteRequest {
  readonly columns: readonly ParquetColumn[];
  /** Target path of each group's file; a group with no rows writes no file. */
  readonly files: readonly string[];
  /** The group (index into `files`) of each row; all rows go to `files[0]` when absent. */
  readonly groupOf?: ArrayLike<number>;
}

/** Per-column statistics of a written file, in Delta's `stats` shape (min/max only where Delta keeps them). */
export interface ParquetFileStats {
  readonly numRecords: number;
  readonly minValues: Record<string, string | number>;
  readonly maxValues: Record<string, string | number>;
  readonly nullCount: Record<string, number>;
}

/** A Parquet file now durable at `path`. */
export interface WrittenParquetFile {
  readonly path: string;
  /** Size on disk, bytes. */
  readonly size: number;
  readonly stats: ParquetFileStats;
}

/** Options of {@link ParquetWriter.create}. */
export interface ParquetWriterOptions {
  /** Rows per Parquet row group; default 122,880 (DuckDB's). */
  readonly rowGroupSize?: number;
  /** DuckDB worker threads; default: DuckDB's (one per core). */
  readonly threads?: number;
  /**
   * DuckDB memory limit, e.g. "512MB"; default {@link DEFAULT_PARQUET_MEMORY_LIMIT}. Beyond it
   * DuckDB spills to its temp directory (slower, not failing) where it can.
   */
  readonly memoryLimit?: string;
  /**
   * Where DuckDB makes the writer's own directory for spill files, when it has to spill (removed
   * on close); default: the OS temp directory.
   */
  readonly tempDirectory?: string;
}

/**
 * Default {@link ParquetWriterOptions.memoryLimit}. A 100k-row batch of events stages and writes
 * well within it (even within 128MB); compacting millions of rows into one file runs several
 * times faster than at 128MB.
 */
export const DEFAULT_PARQUET_MEMORY_LIMIT = "256MB";

const STAGING = quoteIdent("inlet_staging");
const GROUP = quoteIdent("inlet_group");
// Rows appended between two turns of the event loop (each turn blocks for a few ms).
const YIELD_ROWS = 8 * VECTOR_ROWS;

/**
 * Writes rows to ZSTD Parquet files through one in-memory DuckDB: the columns' values are copied
 * into data chunks (see `column-vectors.ts`) and appended to a staging table, then each file is one
 * `COPY (SELECT …) TO` into a temp name, fsynced and renamed into place. Statistics for Delta come
 * from one aggregate over the staging table, which is dropped after every write. Writes are
 * serialized; one writer can serve many tables.
 */
export class ParquetWriter {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #rowGroupSize: number;
  readonly #spillDir: string;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    rowGroupSize: number,
    spillDir: string,
  ) {
    this.#instance = instance;
    this.#connection = connection;
    this.#rowGroupSize = rowGroupSize;
    this.#spillDir = spillDir;
  }

  /** Starts an in-memory DuckDB for writing. */
  static async create(options: ParquetWriterOptions = {}): Promise<ParquetWriter> {
    // DuckDB makes the directory only when it spills, and removes it on close.
    const spillDir = join(options.tempDirectory ?? tmpdir(), `inlet-parquet-${randomUUID()}`);
    const config: Record<string, string> = {
      memory_limit: options.memoryLimit ?? DEFAULT_PARQUET_MEMORY_LIMIT,
      temp_directory: spillDir,
    };
    if (options.threads !== undefined) config.threads = String(options.threads);
    const instance = await DuckDBInstance.create(":memory:", config);
    const connection = await instance.connect();
    return new ParquetWriter(instance, connection, options.rowGroupSize ?? 122_880, spillDir);
  }

  /** Writes each non-empty group to its file; resolves once every file is durable under its final name. */
  write(request: ParquetWriteRequest): Promise<WrittenParquetFile[]> {
    if (this.#closed)
      return Promise.reject(new LakeError("parquet writer is closed", LakeErrorCode.InvalidArgument));
    const run = this.#queue.then(() => this.#write(request));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Rows per Parquet row group this writer uses. */
  get rowGroupSize(): number {
    return this.#rowGroupSize;
  }

  /**
   * Runs `task` on this writer's DuckDB connection, queued with the writes (one at a time), for
   * maintenance work such as compaction and checkpoints. The task must leave no tables behind.
   */
  withConnection<T>(task: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(new LakeError("parquet writer is closed", LakeErrorCode.InvalidArgument));
    const run = this.#queue.then(() => task(this.#connection));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Waits for writes in progress, then closes DuckDB. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    this.#connection.closeSync();
    this.#instance.closeSync();
    await rm(this.#spillDir, { recursive: true, force: true }); // in case DuckDB left it
  }

  async #write(request: ParquetWriteRequest): Promise<WrittenParquetFile[]> {
    const rowCount = checkRequest(request);
    const tempFiles: string[] = [];
    try {
      const staged = await this.#stage(request, rowCount);
      const stats = await this.#statistics(request, staged);
      const written: WrittenParquetFile[] = [];
      for (const [group, fileStats] of stats) {
        const path = request.files[group]!;
        const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
        tempFiles.push(temp);
        await ensureDir(dirname(path));
        const where = request.groupOf === undefined ? "" : ` WHERE ${GROUP} = ${group}`;
        const select = request.columns
          .map((c, i) => `${COLUMN_KINDS[c.kind].output(staged[i]!)} AS ${quoteIdent(c.name)}`)
          .join(", ");
        await this.#connection.run(
          `COPY (SELECT ${select} FROM ${STAGING}${where}) TO ${quoteString(temp)} ` +
            `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${this.#rowGroupSize})`,
        );
        await syncFile(temp);
        await renameDurable(temp, path);
        tempFiles.pop();
        written.push({ path, size: (await stat(path)).size, stats: fileStats });
      }
      return written;
    } finally {
      await Promise.all(tempFiles.map((f) => rm(f, { force: true })));
      await this.#connection.run(`DROP TABLE IF EXISTS ${STAGING}`);
    }
  }

  // Rows are appended one data chunk (VECTOR_ROWS rows) at a time, each column copied into its
  // vector by `columnVectors`. Appending is synchronous, so the event loop gets a turn every
  // YIELD_ROWS rows, after the appender has flushed what it holds into the staging table.
  // Returns the SQL reading each column's staged value.
  async #stage(request: ParquetWriteRequest, rowCount: number): Promise<string[]> {
    const { columns, groupOf } = request;
    const vectors = columns.map((c) => columnVectors(c.kind, c.values));
    const definitions = vectors.map((v, i) => `${stagedColumn(i)} ${v.type.toString()}`);
    const types = vectors.map((v) => v.type);
    if (groupOf !== undefined) {
      definitions.push(`${GROUP} INTEGER`);
      types.push(GROUP_VECTORS.type);
    }
    await this.#connection.run(`CREATE OR REPLACE TABLE ${STAGING} (${definitions.join(", ")})`);
    const appender = await this.#connection.createAppender("inlet_staging");
    const scratch = new VectorScratch();
    try {
      const chunk = DuckDBDataChunk.create(types); // refilled for every VECTOR_ROWS rows
      for (let from = 0; from < rowCount; from += VECTOR_ROWS) {
        const rows = Math.min(VECTOR_ROWS, rowCount - from);
        chunk.reset();
        chunk.rowCount = rows;
        columns.forEach((column, c) => {
          const vector = duckdb.data_chunk_get_vector(chunk.chunk, c);
          vectors[c]!.fill(vector, column.values, from, rows, scratch, column.name);
        });
        if (groupOf !== undefined) {
          const vector = duckdb.data_chunk_get_vector(chunk.chunk, columns.length);
          GROUP_VECTORS.fill(vector, groupOf, from, rows, scratch, GROUP);
        }
        appender.appendDataChunk(chunk);
        if ((from + rows) % YIELD_ROWS === 0 && from + rows < rowCount) {
          appender.flushSync();
          await setImmediate();
        }
      }
    } finally {
      appender.closeSync();
    }
    return vectors.map((v, i) => v.read(stagedColumn(i)));
  }

  // One aggregate over the staging table gives every group's row count, null counts and min/max.
  async #statistics(
    request: ParquetWriteRequest,
    staged: readonly string[],
  ): Promise<Map<number, ParquetFileStats>> {
    const { columns, groupOf } = request;
    const select = [groupOf === undefined ? "0" : GROUP, "count(*)"];
    for (const [i, column] of columns.entries()) {
      select.push(`count(${staged[i]})`);
      if (COLUMN_KINDS[column.kind].stat) select.push(`min(${staged[i]})`, `max(${staged[i]})`);
    }
    const groupBy = groupOf === undefined ? "" : ` GROUP BY ${GROUP} ORDER BY ${GROUP}`;
    const reader = await this.#connection.runAndReadAll(
      `SELECT ${select.join(", ")} FROM ${STAGING}${groupBy}`,
    );
    const result = new Map<number, ParquetFileStats>();
    for (const row of reader.getRows()) {
      const numRecords = Number(row[1]);
      if (numRecords === 0) continue;
      const stats: ParquetFileStats = { numRecords, minValues: {}, maxValues: {}, nullCount: {} };
      let at = 2;
      for (const column of columns) {
        stats.nullCount[column.name] = numRecords - Number(row[at++]);
        const stat = COLUMN_KINDS[column.kind].stat;
        if (!stat) continue;
        setStat(stats.minValues, column.name, stat(row[at++] as DuckDBValue, "min"));
        setStat(stats.maxValues, column.name, stat(row[at++] as DuckDBValue, "max"));
      }
      result.set(Number(row[0]), stats);
    }
    return result;
  }
}

function stagedColumn(index: number): string {
  return quoteIdent(`c${index}`);
}

function setStat(
  target: Record<string, string | number>,
  name: string,
  value: string | number | undefined,
): void {
  if (value !== undefined) target[name] = value;
}

function checkRequest(request: ParquetWriteRequest): number {
  const { columns, files, groupOf } = request;
  const fail = (message: string) => {
    throw new LakeError(`parquet write: ${message}`, LakeErrorCode.InvalidArgument);
  };
  if (columns.length === 0) fail("no columns");
  if (files.length === 0) fail("no target files");
  const rowCount = columns[0]!.values.length;
  const names = new Set<string>();
  for (const column of columns) {
    if (column.values.length !== rowCount) {
      fail(`column "${column.name}" has ${column.values.length} values, expected ${rowCount}`);
    }
    if (names.has(column.name)) fail(`column "${column.name}" appears twice`);
    names.add(column.name);
    if (!(column.kind in COLUMN_KINDS)) fail(`column "${column.name}" has unknown kind ${column.kind}`);
  }
  if (groupOf === undefined) return rowCount;
  if (groupOf.length !== rowCount) fail(`groupOf has ${groupOf.length} entries, expected ${rowCount}`);
  for (let i = 0; i < rowCount; i++) {
    const group = groupOf[i]!;
    if (!Number.isInteger(group) || group < 0 || group >= files.length)
      fail(`row ${i} has no file (group ${group})`);
  }
  return rowCount;
}
