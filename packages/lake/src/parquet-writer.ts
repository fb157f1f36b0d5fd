import { randomUUID } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import {
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBMapValue,
  type DuckDBResultReader,
  DuckDBTableFunction,
  type DuckDBValue,
  INTEGER,
} from "@duckdb/node-api";
import duckdb from "@duckdb/node-bindings";
import { ColumnKind, columnKindSpec, isColumnKind } from "./column-kind.js";
import {
  type ColumnValues,
  type PreparedColumn,
  prepareColumn,
  TextPins,
  VECTOR_ROWS,
  VectorScratch,
} from "./column-vectors.js";
import { ensureDir, renameDurable, syncFile } from "./durable-fs.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { Serial } from "./serial.js";
import { quoteIdent, quoteString } from "./sql.js";

/**
 * One column to write: its name, kind and one value per row (null or undefined = NULL), or for a
 * string or JSON column its text already in UTF-8 ({@link Utf8Column}).
 */
export interface ParquetColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly values: ColumnValues;
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

// The table function each COPY scans its rows from (see ParquetWriter.#scanFunction).
const SCAN_FUNCTION = "inlet_scan";
// Writes past preparing (COPY, fsync) at once, each on its own connection, while the next request
// is built and prepared: DuckDB's threads encode and compress one write's files while the event
// loop decodes the next batch. Three (one per dataset of the benchmark's) measured 6-8% more on
// the writer figure than two, with the same peak RSS in e2e; a fourth would leave libuv's default
// pool of four threads none for the fsyncs and the Delta commits.
const MAX_COPYING = 3;
// ZSTD level 1: measured on a 6,000-row batch of the demo's clicks, a quarter less CPU per COPY
// than DuckDB's default (3), and no larger on batches this small. Compaction rewrites at the default.
const ZSTD_LEVEL = 1;

/**
 * Writes rows to ZSTD Parquet files through one in-memory DuckDB, with no table in between: each
 * file is one `COPY (SELECT … FROM inlet_scan(id)) TO` into a temp name, fsynced and renamed into
 * place. `inlet_scan` is a table function of this writer's that fills DuckDB's data chunks straight
 * from the request's columns (see `column-vectors.ts`). Every value is checked, and each file's
 * Delta statistics (row and null counts, min/max) gathered, in one pass in JS before any COPY, so a
 * bad value fails the write before it writes anything; the min and max of string columns are the
 * ones DuckDB wrote into the file's footer (`RETURN_STATS`), which costs less than ordering text in JS.
 *
 * Writes are pipelined: one request is built and prepared at a time (on the event loop), while at
 * most {@link MAX_COPYING} prepared before it are written out by DuckDB's threads, each on its own
 * connection. A request's values are held until its files are written. One writer can serve many
 * tables.
 */
export class ParquetWriter {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #rowGroupSize: number;
  readonly #spillDir: string;
  readonly #idle: DuckDBConnection[] = [];
  // Writes past preparing, each as a promise that settles (never rejects) when it ends.
  readonly #copying = new Set<Promise<void>>();
  // Every write not finished (its connection back), settling only.
  readonly #writes = new Set<Promise<void>>();
  #stageTurn: Promise<unknown> = Promise.resolve();
  readonly #serial = new Serial();
  // The rows each COPY in flight scans, by the id its SQL names.
  readonly #scans = new Map<number, Scan>();
  #scanIds = 0;
  // Filled by one scan call at a time: DuckDB's calls all run on the event loop.
  readonly #scratch = new VectorScratch();
  // DuckDB's copies of the text the COPYs in flight scan.
  readonly #pins = new TextPins();
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
    const writer = new ParquetWriter(instance, connection, options.rowGroupSize ?? 122_880, spillDir);
    // Registered once, for every connection of the instance.
    connection.registerTableFunction(writer.#scanFunction());
    return writer;
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

  // Builds and prepares the request (the stage turn), calls `staged`, then writes its files.
  async #write(source: ParquetWriteSource, staged: () => void): Promise<WrittenParquetFile[]> {
    let connection: DuckDBConnection | undefined;
    try {
      while (this.#copying.size >= MAX_COPYING) await Promise.race(this.#copying);
      const plan = prepare(typeof source === "function" ? await source() : source);
      connection = this.#idle.pop() ?? (await this.#instance.connect());
      const copying = this.#copy(connection, plan);
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
        if (this.#closed) connection.closeSync();
        else this.#idle.push(connection);
      }
    }
  }

  // One COPY per group into a temp file, fsynced and renamed into place. Each COPY scans the
  // group's rows through SCAN_FUNCTION, which fills DuckDB's vectors from the prepared columns.
  async #copy(connection: DuckDBConnection, plan: Plan): Promise<WrittenParquetFile[]> {
    const tempFiles: string[] = [];
    const text = this.#pins.pin(plan.columns);
    try {
      const written: WrittenParquetFile[] = [];
      const select = plan.names
        .map(
          (name, i) =>
            `${columnKindSpec(plan.kinds[i]!).output(quoteIdent(scannedName(i)))} AS ${quoteIdent(name)}`,
        )
        .join(", ");
      for (const [group, rows] of plan.rowsOf.entries()) {
        if (rows.length === 0) continue;
        const path = plan.files[group]!;
        const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
        tempFiles.push(temp);
        await ensureDir(dirname(path));
        const id = ++this.#scanIds;
        this.#scans.set(id, { columns: plan.columns, rows, addresses: text.addresses });
        let result: DuckDBResultReader;
        try {
          result = await connection.runAndReadAll(
            `COPY (SELECT ${select} FROM ${SCAN_FUNCTION}(${id})) TO ${quoteString(temp)} ` +
              `(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${ZSTD_LEVEL}, ` +
              `ROW_GROUP_SIZE ${this.#rowGroupSize}, RETURN_STATS true)`,
          );
        } finally {
          this.#scans.delete(id);
        }
        await syncFile(temp);
        await renameDurable(temp, path);
        tempFiles.pop();
        const stats = fileStats(plan, group, rows.length, stringBounds(result, plan));
        written.push({ path, size: (await stat(path)).size, stats });
      }
      return written;
    } finally {
      text.release();
      await Promise.all(tempFiles.map((f) => rm(f, { force: true })));
    }
  }

  // The table function every COPY reads its rows from: `inlet_scan(id)` scans the rows of
  // `#scans.get(id)`, VECTOR_ROWS at a time. DuckDB calls it from its thread; the bindings run each
  // call on the event loop, which fills the chunk's vectors while DuckDB's thread waits.
  #scanFunction(): DuckDBTableFunction {
    return DuckDBTableFunction.create({
      name: SCAN_FUNCTION,
      parameterTypes: [INTEGER],
      bindFunction: (bind) => {
        const scan = this.#scans.get(Number(bind.getParameter(0)));
        if (scan === undefined) {
          bind.setError(`${SCAN_FUNCTION}: no scan ${String(bind.getParameter(0))}`);
          return;
        }
        scan.columns.forEach((column, i) => {
          bind.addResultColumn(scannedName(i), column.type);
        });
        bind.setCardinality(scan.rows.length, true);
        bind.setBindData(scan);
      },
      initFunction: (init) => {
        init.setMaxThreads(1);
        init.setInitData({ next: 0 });
      },
      mainFunction: (info, output) => {
        const scan = info.getBindData() as Scan;
        const cursor = info.getInitData() as { next: number };
        const count = Math.min(VECTOR_ROWS, scan.rows.length - cursor.next);
        output.rowCount = count;
        if (count === 0) return; // the scan is over
        scan.columns.forEach((column, i) => {
          column.fill(
            duckdb.data_chunk_get_vector(output.chunk, i),
            scan.rows,
            cursor.next,
            count,
            this.#scratch,
            scan.addresses[i]!,
          );
        });
        cursor.next += count;
      },
    });
  }
}

/** A checked request: its columns prepared, each group's rows, and the files to write. */
interface Plan {
  readonly names: readonly string[];
  readonly kinds: readonly ColumnKind[];
  readonly columns: readonly PreparedColumn[];
  /** The rows of each group (file), in order. */
  readonly rowsOf: readonly Int32Array[];
  readonly files: readonly string[];
}

/** What one COPY scans: the prepared columns, and which of their rows. */
interface Scan {
  readonly columns: readonly PreparedColumn[];
  readonly rows: Int32Array;
  /** Where DuckDB holds each column's text (see {@link TextPins}). */
  readonly addresses: readonly number[];
}

// Checks the request, gathers each group's statistics and rows. Synchronous: one pass over each column.
function prepare(request: ParquetWriteRequest): Plan {
  const rowCount = checkRequest(request);
  const { columns, groupOf, files } = request;
  const groups = groupOf === undefined ? 1 : files.length;
  return {
    names: columns.map((c) => c.name),
    kinds: columns.map((c) => c.kind),
    columns: columns.map((c) => prepareColumn(c.kind, c.values, c.name, groupOf, groups)),
    rowsOf: rowsByGroup(rowCount, groupOf, groups),
    files,
  };
}

// Each group's rows, in order (a counting sort of `groupOf`).
function rowsByGroup(rowCount: number, groupOf: ArrayLike<number> | undefined, groups: number): Int32Array[] {
  if (groupOf === undefined) {
    const all = new Int32Array(rowCount);
    for (let i = 0; i < rowCount; i++) all[i] = i;
    return [all];
  }
  const counts = new Int32Array(groups);
  for (let i = 0; i < rowCount; i++) counts[groupOf[i]!]!++;
  const rowsOf = Array.from(counts, (n) => new Int32Array(n));
  const filled = new Int32Array(groups);
  for (let i = 0; i < rowCount; i++) {
    const g = groupOf[i]!;
    rowsOf[g]![filled[g]!++] = i;
  }
  return rowsOf;
}

// A group's file statistics in Delta's shape: from the prepared columns', and for string columns
// the min and max DuckDB wrote into the file (`strings`).
function fileStats(
  plan: Plan,
  group: number,
  numRecords: number,
  strings: ReadonlyMap<string, StringBounds>,
): ParquetFileStats {
  const stats: ParquetFileStats = { numRecords, minValues: {}, maxValues: {}, nullCount: {} };
  plan.columns.forEach((column, i) => {
    const name = plan.names[i]!;
    const { nonNull } = column.stats[group]!;
    const { min, max } =
      plan.kinds[i] === ColumnKind.String ? (strings.get(name) ?? {}) : column.stats[group]!;
    stats.nullCount[name] = numRecords - nonNull;
    const stat = columnKindSpec(plan.kinds[i]!).stat;
    if (stat === undefined) return;
    if (min !== undefined) setStat(stats.minValues, name, stat(min as DuckDBValue, "min"));
    if (max !== undefined) setStat(stats.maxValues, name, stat(max as DuckDBValue, "max"));
  });
  return stats;
}

/** The min and max of a string column as a Parquet file's footer keeps them. */
interface StringBounds {
  readonly min?: string;
  readonly max?: string;
}

// The min and max of each string column, by name, from the statistics a `COPY … (RETURN_STATS
// true)` returns: what DuckDB wrote into the file's footer (UTF-8 byte order, as stored, values
// past 256 bytes cut to a prefix; Delta keeps 32 characters at most, see column-kind.ts).
function stringBounds(result: DuckDBResultReader, plan: Plan): Map<string, StringBounds> {
  const bounds = new Map<string, StringBounds>();
  if (!plan.kinds.includes(ColumnKind.String)) return bounds;
  const byColumn = new Map<DuckDBValue, DuckDBValue>();
  const statistics = result.getRowObjects()[0]?.column_statistics;
  if (statistics instanceof DuckDBMapValue)
    for (const { key, value } of statistics.entries) byColumn.set(key, value);
  plan.names.forEach((name, i) => {
    if (plan.kinds[i] !== ColumnKind.String) return;
    const column = byColumn.get(quoteIdent(name));
    if (!(column instanceof DuckDBMapValue)) return;
    const entry = (key: string) => {
      const value = column.entries.find((e) => e.key === key)?.value;
      return typeof value === "string" ? value : undefined;
    };
    bounds.set(name, { min: entry("min"), max: entry("max") });
  });
  return bounds;
}

// The name of the scan's column `index`.
function scannedName(index: number): string {
  return `c${index}`;
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
    if (!isColumnKind(column.kind)) fail(`column "${column.name}" has unknown kind ${column.kind}`);
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
