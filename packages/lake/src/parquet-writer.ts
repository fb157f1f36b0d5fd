import { randomUUID } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBValue,
  INTEGER,
} from "@duckdb/node-api";
import { COLUMN_KINDS, type ColumnKind } from "./column-kind.js";
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
  /** DuckDB memory limit, e.g. "512MB"; default: DuckDB's (80% of RAM). */
  readonly memoryLimit?: string;
}

const STAGING = quoteIdent("inlet_staging");
const GROUP = quoteIdent("inlet_group");
const CHUNK_ROWS = 2048; // DuckDB's vector size: the most rows one data chunk holds.

/**
 * Writes rows to ZSTD Parquet files through one in-memory DuckDB: values are appended column by
 * column as data chunks into a staging table (timestamps as numbers, converted in SQL), then each
 * file is one `COPY (SELECT …) TO` into a temp name, fsynced and renamed into place. Statistics for
 * Delta come from one aggregate over the staging table. Writes are serialized; one writer can
 * serve many tables.
 */
export class ParquetWriter {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #rowGroupSize: number;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection, rowGroupSize: number) {
    this.#instance = instance;
    this.#connection = connection;
    this.#rowGroupSize = rowGroupSize;
  }

  /** Starts an in-memory DuckDB for writing. */
  static async create(options: ParquetWriterOptions = {}): Promise<ParquetWriter> {
    const config: Record<string, string> = {};
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(":memory:", config);
    const connection = await instance.connect();
    return new ParquetWriter(instance, connection, options.rowGroupSize ?? 122_880);
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
  }

  async #write(request: ParquetWriteRequest): Promise<WrittenParquetFile[]> {
    const rowCount = checkRequest(request);
    const tempFiles: string[] = [];
    try {
      await this.#stage(request, rowCount);
      const stats = await this.#statistics(request);
      const written: WrittenParquetFile[] = [];
      for (const [group, fileStats] of stats) {
        const path = request.files[group]!;
        const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
        tempFiles.push(temp);
        await ensureDir(dirname(path));
        const where = request.groupOf === undefined ? "" : ` WHERE ${GROUP} = ${group}`;
        const select = request.columns
          .map((c, i) => `${COLUMN_KINDS[c.kind].output(staged(i))} AS ${quoteIdent(c.name)}`)
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

  async #stage(request: ParquetWriteRequest, rowCount: number): Promise<void> {
    const { columns, groupOf } = request;
    const specs = columns.map((c) => COLUMN_KINDS[c.kind]);
    const types = specs.map((s) => s.staging);
    const definitions = specs.map((s, i) => `${staged(i)} ${s.staging.toString()}`);
    if (groupOf !== undefined) {
      types.push(INTEGER);
      definitions.push(`${GROUP} INTEGER`);
    }
    await this.#connection.run(`CREATE OR REPLACE TABLE ${STAGING} (${definitions.join(", ")})`);
    const appender = await this.#connection.createAppender("inlet_staging");
    try {
      for (let offset = 0; offset < rowCount; offset += CHUNK_ROWS) {
        const size = Math.min(CHUNK_ROWS, rowCount - offset);
        const chunk = DuckDBDataChunk.create(types, size);
        columns.forEach((column, c) => {
          const vector = chunk.getColumnVector(c);
          const { stage } = specs[c]!;
          const values = column.values;
          let row = offset;
          try {
            for (let i = 0; i < size; i++, row++) {
              const value = values[row];
              vector.setItem(i, value == null ? null : stage(value));
            }
          } catch (cause) {
            const reason = cause instanceof Error ? cause.message : String(cause);
            throw new LakeError(
              `column "${column.name}" row ${row}: ${reason}`,
              LakeErrorCode.InvalidArgument,
              {
                cause,
              },
            );
          }
          vector.flush();
        });
        if (groupOf !== undefined) {
          const vector = chunk.getColumnVector(columns.length);
          for (let i = 0; i < size; i++) vector.setItem(i, groupOf[offset + i]!);
          vector.flush();
        }
        appender.appendDataChunk(chunk);
      }
    } finally {
      appender.closeSync();
    }
  }

  // One aggregate over the staging table gives every group's row count, null counts and min/max.
  async #statistics(request: ParquetWriteRequest): Promise<Map<number, ParquetFileStats>> {
    const { columns, groupOf } = request;
    const select = [groupOf === undefined ? "0" : GROUP, "count(*)"];
    for (const [i, column] of columns.entries()) {
      select.push(`count(${staged(i)})`);
      if (COLUMN_KINDS[column.kind].stat) select.push(`min(${staged(i)})`, `max(${staged(i)})`);
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

function staged(index: number): string {
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
