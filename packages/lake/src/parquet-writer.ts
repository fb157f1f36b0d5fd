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
import { Serial } from "./serial.js";
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

/**
 * A {@link ParquetWriteRequest}, or what builds one when the writer is ready to stage it: rows
 * decoded only then are in JS memory for the shortest time, one request at a time.
 */
export type ParquetWriteSource =
  | ParquetWriteRequest
  | (() => ParquetWriteRequest | Promise<ParquetWriteRequest>);

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

const GROUP = quoteIdent("inlet_group");
// Writes past staging (statistics, COPY, fsync) at once, each on its own connection, while the next
// request stages: DuckDB's threads write files while the event loop fills the next table.
const MAX_COPYING = 2;
// ZSTD level 1: measured on a 6,000-row batch of the demo's clicks, a quarter less CPU per COPY
// than DuckDB's default (3), and no larger on batches this small. Compaction rewrites at the default.
const ZSTD_LEVEL = 1;
// Rows appended between two turns of the event loop (each turn blocks for a few ms).
const YIELD_ROWS = 8 * VECTOR_ROWS;

/**
 * Writes rows to ZSTD Parquet files through one in-memory DuckDB: the columns' values are copied
 * into data chunks (see `column-vectors.ts`) and appended to a staging table, then each file is one
 * `COPY (SELECT …) TO` into a temp name, fsynced and renamed into place. Statistics for Delta come
 * from one aggregate over the staging table, which is dropped after every write.
 *
 * Writes are pipelined: one request is built and staged at a time (on the event loop), while the
 * one staged before it is written out by DuckDB's threads on its own connection. Staging tables in
 * DuckDB are so at most {@link MAX_COPYING} + 1. One writer can serve many tables.
 */
export class ParquetWriter {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #rowGroupSize: number;
  readonly #spillDir: string;
  readonly #idle: DuckDBConnection[] = [];
  // Writes past staging, each as a promise that settles (never rejects) when it ends.
  readonly #copying = new Set<Promise<void>>();
  // Every write not finished (its staging table dropped, its connection back), settling only.
  readonly #writes = new Set<Promise<void>>();
  #stageTurn: Promise<unknown> = Promise.resolve();
  readonly #serial = new Serial();
  #tables = 0;
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

  /**
   * Writes each non-empty group to its file; resolves once every file is durable under its final
   * name. A function is called when the request's turn to stage comes.
   */
  write(source: ParquetWriteSource): Promise<WrittenParquetFile[]> {
    if (this.#closed)
      return Promise.reject(new LakeError("parquet writer is closed", LakeErrorCode.InvalidArgument));
    let release!: () => void;
    const staged = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next request may stage once this one is staged (or failed).
    const turn = this.#stageTurn.then(() => this.#write(source, release));
    this.#stageTurn = Promise.race([staged, turn.catch(() => {})]);
    const settled = turn.then(
      () => {},
      () => {},
    );
    this.#writes.add(settled);
    void settled.then(() => this.#writes.delete(settled));
    return turn;
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
    return this.#serial.run(() => task(this.#connection));
  }

  /** Waits for writes in progress, then closes DuckDB. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // No connection may outlive the instance: wait for every write to hand its connection back.
    await Promise.allSettled([this.#serial.idle(), ...this.#writes]);
    for (const connection of this.#idle) connection.closeSync();
    this.#connection.closeSync();
    this.#instance.closeSync();
    await rm(this.#spillDir, { recursive: true, force: true }); // in case DuckDB left it
  }

  // Builds and stages the request (the stage turn), calls `staged`, then writes its files.
  async #write(source: ParquetWriteSource, staged: () => void): Promise<WrittenParquetFile[]> {
    let connection: DuckDBConnection | undefined;
    let table: string | undefined;
    try {
      while (this.#copying.size >= MAX_COPYING) await Promise.race(this.#copying);
      connection = this.#idle.pop() ?? (await this.#instance.connect());
      table = quoteIdent(`inlet_staging_${++this.#tables}`);
      const plan = await this.#stage(connection, table, source);
      const copying = this.#copy(connection, table, plan);
      const settled = copying.then(
        () => {},
        () => {},
      );
      this.#copying.add(settled);
      void settled.then(() => this.#copying.delete(settled));
      staged();
      return await copying;
    } finally {
      staged();
      if (connection !== undefined) {
        if (table !== undefined) await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
        if (this.#closed) connection.closeSync();
        else this.#idle.push(connection);
      }
    }
  }

  // Statistics, then one COPY per group into a temp file, fsynced and renamed into place.
  async #copy(connection: DuckDBConnection, table: string, staged: Staged): Promise<WrittenParquetFile[]> {
    const tempFiles: string[] = [];
    try {
      const stats = await this.#statistics(connection, table, staged);
      const written: WrittenParquetFile[] = [];
      for (const [group, fileStats] of stats) {
        const path = staged.files[group]!;
        const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
        tempFiles.push(temp);
        await ensureDir(dirname(path));
        const where = staged.grouped ? ` WHERE ${GROUP} = ${group}` : "";
        const select = staged.columns
          .map((c) => `${COLUMN_KINDS[c.kind].output(c.read)} AS ${quoteIdent(c.name)}`)
          .join(", ");
        await connection.run(
          `COPY (SELECT ${select} FROM ${table}${where}) TO ${quoteString(temp)} ` +
            `(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${ZSTD_LEVEL}, ROW_GROUP_SIZE ${this.#rowGroupSize})`,
        );
        await syncFile(temp);
        await renameDurable(temp, path);
        tempFiles.pop();
        written.push({ path, size: (await stat(path)).size, stats: fileStats });
      }
      return written;
    } finally {
      await Promise.all(tempFiles.map((f) => rm(f, { force: true })));
    }
  }

  // Builds the request (when `source` is a function) and stages its rows. They are appended one
  // data chunk (VECTOR_ROWS rows) at a time, each column copied into its vector by
  // `columnVectors`. Appending is synchronous, so the event loop gets a turn every YIELD_ROWS rows,
  // after the appender has flushed what it holds into the staging table. The request's values are
  // garbage once this returns: what the statistics and COPY need is in the {@link Staged}.
  async #stage(connection: DuckDBConnection, table: string, source: ParquetWriteSource): Promise<Staged> {
    const request = typeof source === "function" ? await source() : source;
    const rowCount = checkRequest(request);
    const { columns, groupOf } = request;
    const vectors = columns.map((c) => columnVectors(c.kind, c.values));
    const definitions = vectors.map((v, i) => `${stagedColumn(i)} ${v.type.toString()}`);
    const types = vectors.map((v) => v.type);
    if (groupOf !== undefined) {
      definitions.push(`${GROUP} INTEGER`);
      types.push(GROUP_VECTORS.type);
    }
    await connection.run(`CREATE OR REPLACE TABLE ${table} (${definitions.join(", ")})`);
    const appender = await connection.createAppender(table.slice(1, -1));
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
    return {
      columns: columns.map((c, i) => ({
        name: c.name,
        kind: c.kind,
        read: vectors[i]!.read(stagedColumn(i)),
      })),
      files: request.files,
      grouped: groupOf !== undefined,
    };
  }

  // One aggregate over the staging table gives every group's row count, null counts and min/max.
  async #statistics(
    connection: DuckDBConnection,
    table: string,
    { columns, grouped }: Staged,
  ): Promise<Map<number, ParquetFileStats>> {
    const select = [grouped ? GROUP : "0", "count(*)"];
    for (const column of columns) {
      select.push(`count(${column.read})`);
      if (COLUMN_KINDS[column.kind].stat) select.push(`min(${column.read})`, `max(${column.read})`);
    }
    const groupBy = grouped ? ` GROUP BY ${GROUP} ORDER BY ${GROUP}` : "";
    const reader = await connection.runAndReadAll(`SELECT ${select.join(", ")} FROM ${table}${groupBy}`);
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

/** A staged request: each column with the SQL reading its staged value, and the files to write. */
interface Staged {
  readonly columns: readonly { readonly name: string; readonly kind: ColumnKind; readonly read: string }[];
  readonly files: readonly string[];
  /** True when the rows carry their group (file) in the GROUP column. */
  readonly grouped: boolean;
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
