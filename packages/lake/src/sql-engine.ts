import { access, readdir, realpath } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import {
  type DuckDBConnection,
  type DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBResult,
  StatementType,
} from "@duckdb/node-api";
import duckdb from "@duckdb/node-bindings";
import { LineageColumn } from "./curated-table.js";
import { type DeltaSnapshot, readDeltaSnapshot } from "./delta-log.js";
import { parseDeltaSchema } from "./delta-schema.js";
import { curatedTableDir, deltaCommitFileName, deltaLogDir } from "./paths.js";
import { Serial } from "./serial.js";
import { snapshotScanSql } from "./snapshot-scan.js";
import { quoteIdent, quoteString } from "./sql.js";

/** Output formats of {@link SqlEngine.query}. */
export const SqlFormat = {
  /** One document: `{"columns":[{name,type}],"rows":[{…}],"rowCount","truncated","elapsedMs"}`. */
  Json: "json",
  /** One JSON object per row, one per line. */
  Ndjson: "ndjson",
  /** A header line, then one comma-separated line per row (RFC 4180 quoting, `\n` line ends). */
  Csv: "csv",
} as const;

/** A {@link SqlFormat} value. */
export type SqlFormat = (typeof SqlFormat)[keyof typeof SqlFormat];

/** Codes carried by {@link SqlEngineError}. */
export const SqlEngineErrorCode = {
  /** The text is not exactly one SELECT statement. */
  NotSelect: "NOT_SELECT",
  /** The statement tried to reach something outside the lake directory. */
  Denied: "DENIED",
  /** DuckDB refused or failed the statement (syntax, unknown column, bad cast, out of memory…). */
  QueryFailed: "QUERY_FAILED",
  /** The statement ran past the time limit and was interrupted. */
  Timeout: "TIMEOUT",
  /** The caller gave up (its AbortSignal fired) and the statement was interrupted. */
  Cancelled: "CANCELLED",
  /** As many statements as allowed are running already. */
  Busy: "BUSY",
  /** A pinned version names a dataset the lake does not have. */
  UnknownDataset: "UNKNOWN_DATASET",
  /** A pinned version the dataset's log does not have. */
  UnknownVersion: "UNKNOWN_VERSION",
  /** The engine is closed. */
  Closed: "CLOSED",
  /** The lake directory does not exist. */
  NoLake: "NO_LAKE",
} as const;

/** A {@link SqlEngineErrorCode} value. */
export type SqlEngineErrorCode = (typeof SqlEngineErrorCode)[keyof typeof SqlEngineErrorCode];

/** A statement refused or failed; `message` says why in words a user can act on. */
export class SqlEngineError extends Error {
  override readonly name = "SqlEngineError";
  readonly code: SqlEngineErrorCode;

  constructor(code: SqlEngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Options of {@link SqlEngine.create}. */
export interface SqlEngineOptions {
  /** The lake's root directory (it holds `curated/`); it must exist. Statements read nothing outside it. */
  lakeDir: string;
  /** Most rows a result carries; beyond it the result is cut and marked `truncated`. Default 100,000. */
  maxRows?: number;
  /** A statement still running after this many milliseconds is interrupted. Default 30,000. */
  timeoutMs?: number;
  /** DuckDB's memory limit, e.g. `1GB` or `512MB`. Default DuckDB's own (80% of RAM). */
  memoryLimit?: string;
  /** DuckDB worker threads. Default DuckDB's own (one per core). */
  threads?: number;
  /** A directory DuckDB may spill to when a query outgrows memory. Default none: such a query fails. */
  tempDirectory?: string;
  /** Statements running at once; one more is refused with `BUSY`. Default 4. */
  maxConcurrent?: number;
  /**
   * Each dataset's event time column (its `eventTimeField`), for `newestEventAt`. Default none; a
   * CDC table's is `_committed_at`.
   */
  eventTimeFields?: Readonly<Record<string, string>>;
}

/** Options of one statement. */
export interface SqlQueryOptions {
  /** Read these datasets at an older table version (time travel): `{ clicks: 3 }`. */
  versions?: Readonly<Record<string, number>>;
  /** Interrupts the statement when it fires (the caller went away). */
  signal?: AbortSignal;
}

/** A result column: its name and DuckDB type (`BIGINT`, `TIMESTAMP`, `VARCHAR[]`…). */
export interface SqlColumn {
  name: string;
  type: string;
}

/** A result with every value as DuckDB's text form (`null` for NULL), for display. */
export interface SqlRows {
  columns: SqlColumn[];
  rows: (string | null)[][];
  /** True when the statement had more than `maxRows` rows and the rest were cut. */
  truncated: boolean;
  elapsedMs: number;
}

/** What the lake holds for one dataset, from its Delta log. */
export interface SqlDataset {
  name: string;
  /** The newest table version read from the log: the next statement reads it (unless `error` says otherwise). */
  version: number;
  /** Data files in the snapshot. */
  files: number;
  /** Rows: the sum of the files' `numRecords` statistics (a count when a file has none). */
  rows: number;
  /** Bytes of the snapshot's data files. */
  bytes: number;
  /** Newest event time (ISO-8601), from the files' statistics of the dataset's event time column. */
  newestEventAt?: string;
  /** Newest `_ingested_at` (ISO-8601), from the files' statistics; absent when they have none. */
  newestIngestedAt?: string;
  /** Milliseconds from `newestIngestedAt` to now: how stale the dataset is. */
  freshnessMs?: number;
  /**
   * Why the newest commits could not be read, or their files could not be scanned: statements keep
   * reading the last version that could.
   */
  error?: string;
}

/** A dataset with its columns. */
export interface SqlDatasetDetail extends SqlDataset {
  columns: SqlColumn[];
  partitionColumns: string[];
}

const DEFAULT_MAX_ROWS = 100_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_CONCURRENT = 4;
const DATASET_NAME = /^[a-z][a-z0-9_]*$/;
const ROW_ALIAS = "__inlet_row";
const PIECE = "__inlet_piece";
const NOT_SELECT_PREFIX = "only a single SELECT statement is allowed";

/** The later of `current` (ms) and a timestamp statistic (an ISO-8601 string). */
function later(current: number | undefined, stat: unknown): number | undefined {
  const ms = typeof stat === "string" ? Date.parse(stat) : Number.NaN;
  return Number.isNaN(ms) || (current !== undefined && current >= ms) ? current : ms;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

interface Table {
  /** The newest snapshot read from the log. */
  snapshot: DeltaSnapshot;
  /** The version the dataset's view reads; behind `snapshot` until a statement needs the view. */
  view?: number;
  /** Why the newest commits could not be read (the snapshot stays at the last good one). */
  readError?: string;
  /** Why the view could not be brought to `snapshot` (it keeps reading version `view`). */
  viewError?: string;
}

/**
 * DuckDB over the lake, read-only and sandboxed: statements read only files under the lake directory,
 * extensions never load, the configuration is locked, and only a single SELECT runs, within a row
 * and a time limit. Each curated dataset is a view over its current Delta snapshot: a new commit is
 * read when it appears, and the view replaced when a statement next needs it (binding a view reads
 * every file's footer, which a listing of the datasets has no use for). Results are rendered to JSON, NDJSON or CSV inside DuckDB (about 10× faster
 * than building JS row objects) and handed out as UTF-8 bytes, one piece per DuckDB chunk.
 */
export class SqlEngine {
  readonly lakeDir: string;
  readonly maxRows: number;
  readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly eventTimeFields: Readonly<Record<string, string>>;
  private readonly tables = new Map<string, Table>();
  private readonly running = new Set<DuckDBConnection>();
  /** Statements admitted, counted before their connection opens so a burst cannot overshoot. */
  private admitted = 0;
  private refreshing: Promise<void> | undefined;
  private viewing: Promise<void> | undefined;
  /** The admin connection's work (refreshes, views), one task at a time. */
  private readonly catalog = new Serial();
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly admin: DuckDBConnection,
    lakeDir: string,
    options: SqlEngineOptions,
  ) {
    this.lakeDir = lakeDir;
    this.maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    this.eventTimeFields = options.eventTimeFields ?? {};
  }

  /** Opens an in-memory DuckDB, sandboxes it to `lakeDir` and reads each curated dataset's log. */
  static async create(options: SqlEngineOptions): Promise<SqlEngine> {
    let lakeDir: string;
    try {
      lakeDir = await realpath(resolve(options.lakeDir));
    } catch (error) {
      const message = `the lake directory ${options.lakeDir} does not exist`;
      throw new SqlEngineError(SqlEngineErrorCode.NoLake, message, { cause: error });
    }
    const config: Record<string, string> = {};
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    if (options.threads !== undefined) config.threads = String(options.threads);
    const instance = await DuckDBInstance.create(":memory:", config);
    const admin = await instance.connect();
    try {
      // Order matters: the temp directory and allowed directories can no longer change once external
      // access is off, and nothing can change once the configuration is locked. Views are catalog
      // entries, not configuration, so they can still be created and replaced afterwards.
      // Timestamps with a time zone render in UTC, whatever the host's zone.
      await admin.run("SET TimeZone = 'UTC'");
      await admin.run(`SET temp_directory = ${quoteString(options.tempDirectory ?? "")}`);
      await admin.run(`SET allowed_directories = [${quoteString(lakeDir + sep)}]`);
      await admin.run("SET enable_external_access = false");
      await admin.run("SET autoinstall_known_extensions = false");
      await admin.run("SET autoload_known_extensions = false");
      // Rows come in the order a query asks for (ORDER BY), not in file order: a scan of many
      // files feeds a LIMIT from whichever thread has rows first (measured: 20% off a 100k-row result).
      await admin.run("SET preserve_insertion_order = false");
      await admin.run("SET lock_configuration = true");
    } catch (error) {
      admin.closeSync();
      instance.closeSync();
      throw error;
    }
    const engine = new SqlEngine(instance, admin, lakeDir, options);
    await engine.refresh();
    return engine;
  }

  /**
   * Runs one SELECT and renders its result in `format`. Resolves once the statement has run (errors
   * arrive here, before any output); the result then hands out its text and must be read to the end
   * or closed. Throws {@link SqlEngineError}.
   */
  async query(
    sql: string,
    format: SqlFormat = SqlFormat.Json,
    options: SqlQueryOptions = {},
  ): Promise<SqlResult> {
    const started = performance.now();
    const statement = await this.open(sql, options);
    try {
      const limited = this.limited(statement.body);
      const render = await prepareSelect(statement.connection, renderSql(limited, format));
      const result = await render.stream();
      const first = await result.fetchChunk();
      return new RenderedResult(statement, format, result, first, this.maxRows, started);
    } catch (error) {
      statement.close();
      throw statement.fail(error);
    }
  }

  /** Runs one SELECT and returns every value as text, for display. Throws {@link SqlEngineError}. */
  async rows(sql: string, options: SqlQueryOptions = {}): Promise<SqlRows> {
    const started = performance.now();
    const statement = await this.open(sql, options);
    try {
      const prepared = await prepareSelect(
        statement.connection,
        `SELECT COLUMNS(*)::VARCHAR FROM (${this.limited(statement.body)})`,
      );
      const reader = await prepared.runAndReadAll();
      const rows = reader.getRows() as (string | null)[][];
      const truncated = rows.length > this.maxRows;
      if (truncated) rows.length = this.maxRows;
      return { columns: statement.columns, rows, truncated, elapsedMs: elapsedSince(started) };
    } catch (error) {
      throw statement.fail(error);
    } finally {
      statement.close();
    }
  }

  /** The curated datasets, after picking up new commits. */
  async datasets(): Promise<SqlDataset[]> {
    await this.refresh();
    const names = [...this.tables.keys()].sort();
    const out: SqlDataset[] = [];
    for (const name of names) {
      const table = this.tables.get(name);
      if (table !== undefined) out.push(await this.describe(name, table));
    }
    return out;
  }

  /** One dataset with its columns, or undefined when the lake has no such dataset. */
  async dataset(name: string): Promise<SqlDatasetDetail | undefined> {
    await this.refresh();
    const table = this.tables.get(name);
    if (table === undefined) return undefined;
    await this.views();
    const summary = await this.describe(name, table);
    const partitionColumns = [...table.snapshot.metadata.partitionColumns];
    // No version of it could be scanned yet: `error` says why, and there are no columns to show.
    if (table.view === undefined) return { ...summary, columns: [], partitionColumns };
    const connection = await this.instance.connect();
    try {
      const prepared = await connection.prepare(`SELECT * FROM ${quoteIdent(name)} LIMIT 0`);
      const columns: SqlColumn[] = [];
      for (let i = 0; i < prepared.columnCount; i++) {
        columns.push({ name: prepared.columnName(i), type: prepared.columnType(i).toString() });
      }
      return { ...summary, columns, partitionColumns };
    } finally {
      connection.closeSync();
    }
  }

  /** Interrupts running statements and closes DuckDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const connection of this.running) connection.interrupt();
    await this.catalog.idle();
    this.admin.closeSync();
    this.instance.closeSync();
  }

  /**
   * Picks up new commits: a table whose next log file exists gets its snapshot re-read, a new table
   * is added, a vanished one loses its view. Costs one `readdir` plus one `access` per table when
   * nothing changed. Views follow when a statement needs them ({@link views}). Concurrent callers
   * share one refresh.
   */
  async refresh(): Promise<void> {
    this.refreshing ??= this.catalog
      .run(() => this.scan())
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /**
   * Refreshes, then brings every dataset's view to its newest snapshot. A view that cannot be
   * created (a file's footer unreadable) keeps its last version, and the table says why. Concurrent
   * callers share one pass.
   */
  private async views(): Promise<void> {
    await this.refresh();
    this.viewing ??= this.catalog
      .run(() => this.createViews())
      .finally(() => {
        this.viewing = undefined;
      });
    return this.viewing;
  }

  private async createViews(): Promise<void> {
    for (const [name, table] of this.tables) {
      const { snapshot } = table;
      if (table.view === snapshot.version) continue;
      try {
        await this.admin.run(`CREATE OR REPLACE VIEW ${quoteIdent(name)} AS ${snapshotScanSql(snapshot)}`);
        table.view = snapshot.version;
        table.viewError = undefined;
      } catch (error) {
        // DuckDB's first line says what is wrong; the rest quotes the view's SQL.
        const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
        const reads = table.view === undefined ? "nothing" : `version ${table.view}`;
        table.viewError = `version ${snapshot.version} cannot be scanned (${reason}); statements read ${reads}`;
      }
    }
  }

  private async scan(): Promise<void> {
    const curated = join(this.lakeDir, "curated");
    const entries = await readdir(curated, { withFileTypes: true }).catch(() => []);
    const present = new Set<string>();
    for (const entry of entries) {
      if (!entry.isDirectory() || !DATASET_NAME.test(entry.name)) continue;
      const tableDir = join(curated, entry.name);
      const known = this.tables.get(entry.name);
      if (known !== undefined) {
        present.add(entry.name);
        const next = join(deltaLogDir(tableDir), deltaCommitFileName(known.snapshot.version + 1));
        if (!(await exists(next))) continue;
      }
      try {
        const snapshot = await readDeltaSnapshot(tableDir, {
          since: known?.snapshot,
          connection: this.admin,
        });
        if (snapshot === undefined) continue;
        if (known === undefined) this.tables.set(entry.name, { snapshot });
        else {
          known.snapshot = snapshot;
          known.readError = undefined;
        }
        present.add(entry.name);
      } catch (error) {
        if (known !== undefined) known.readError = error instanceof Error ? error.message : String(error);
      }
    }
    for (const [name, table] of this.tables) {
      if (present.has(name)) continue;
      if (table.view !== undefined) await this.admin.run(`DROP VIEW IF EXISTS ${quoteIdent(name)}`);
      this.tables.delete(name);
    }
  }

  private async describe(name: string, { snapshot, readError, viewError }: Table): Promise<SqlDataset> {
    let rows = 0;
    let bytes = 0;
    let counted = true;
    let newestIngested: number | undefined;
    let newestEvent: number | undefined;
    const eventTimeField = this.eventTimeFields[name] ?? commitTimeColumn(snapshot);
    for (const file of snapshot.files) {
      bytes += file.size;
      const records = file.stats?.numRecords;
      if (records === undefined) counted = false;
      else rows += records;
      newestIngested = later(newestIngested, file.stats?.maxValues?.[LineageColumn.IngestedAt]);
      if (eventTimeField !== undefined) {
        newestEvent = later(newestEvent, file.stats?.maxValues?.[eventTimeField]);
      }
    }
    if (!counted) rows = await this.count(name);
    const out: SqlDataset = { name, version: snapshot.version, files: snapshot.files.length, rows, bytes };
    if (newestEvent !== undefined) out.newestEventAt = new Date(newestEvent).toISOString();
    if (newestIngested !== undefined) {
      out.newestIngestedAt = new Date(newestIngested).toISOString();
      out.freshnessMs = Math.max(0, Date.now() - newestIngested);
    }
    const errors = [readError, viewError].filter((e) => e !== undefined);
    if (errors.length > 0) out.error = errors.join("; ");
    return out;
  }

  private async count(name: string): Promise<number> {
    await this.views();
    const connection = await this.instance.connect();
    try {
      const reader = await connection.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(name)}`);
      return Number(reader.getRows()[0]?.[0] ?? 0);
    } finally {
      connection.closeSync();
    }
  }

  /** `SELECT * FROM (<body>) LIMIT maxRows + 1`: the extra row tells that the result was cut. */
  private limited(body: string): string {
    return `SELECT * FROM (\n${body}\n) LIMIT ${this.maxRows + 1}`;
  }

  /** Checks out a connection, pins versions, and gates the statement. */
  private async open(sql: string, options: SqlQueryOptions): Promise<Statement> {
    if (this.closed) throw new SqlEngineError(SqlEngineErrorCode.Closed, "the query engine is closed");
    if (this.admitted >= this.maxConcurrent) {
      throw new SqlEngineError(
        SqlEngineErrorCode.Busy,
        `${this.maxConcurrent} statements are running already; retry in a moment`,
      );
    }
    this.admitted++;
    let connection: DuckDBConnection;
    try {
      connection = await this.instance.connect();
    } catch (error) {
      this.admitted--;
      throw error;
    }
    this.running.add(connection);
    const statement = new Statement(connection, this.timeoutMs, options.signal, () => {
      this.running.delete(connection);
      this.admitted--;
    });
    try {
      await this.views();
      for (const [name, version] of Object.entries(options.versions ?? {})) {
        await this.pin(connection, name, version);
      }
      statement.body = await gate(connection, sql);
      const prepared = await prepareSelect(
        connection,
        `SELECT * FROM (\n${statement.body}\n) AS ${ROW_ALIAS}`,
      );
      for (let i = 0; i < prepared.columnCount; i++) {
        statement.columns.push({ name: prepared.columnName(i), type: prepared.columnType(i).toString() });
      }
      return statement;
    } catch (error) {
      statement.close();
      throw statement.fail(error);
    }
  }

  /** A temporary view on this connection only, shadowing the dataset's view with an older version. */
  private async pin(connection: DuckDBConnection, name: string, version: number): Promise<void> {
    if (!this.tables.has(name)) {
      throw new SqlEngineError(SqlEngineErrorCode.UnknownDataset, `the lake has no dataset "${name}"`);
    }
    const snapshot =
      Number.isSafeInteger(version) && version >= 0
        ? await readDeltaSnapshot(curatedTableDir(this.lakeDir, name), { version, connection })
        : undefined;
    if (snapshot === undefined) {
      throw new SqlEngineError(
        SqlEngineErrorCode.UnknownVersion,
        `dataset "${name}" has no version ${version} (latest is ${this.tables.get(name)?.snapshot.version})`,
      );
    }
    await connection.run(`CREATE TEMP VIEW ${quoteIdent(name)} AS ${snapshotScanSql(snapshot)}`);
  }
}

/** One statement's connection, time limit and cancellation. */
class Statement {
  body = "";
  readonly columns: SqlColumn[] = [];
  private timedOut = false;
  private cancelled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: () => void;
  private done = false;

  constructor(
    readonly connection: DuckDBConnection,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly release: () => void,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      connection.interrupt();
    }, timeoutMs);
    this.onAbort = () => {
      this.cancelled = true;
      connection.interrupt();
    };
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The error to show for `error`, knowing whether this statement was interrupted and why. */
  fail(error: unknown): SqlEngineError {
    if (this.timedOut) {
      return new SqlEngineError(
        SqlEngineErrorCode.Timeout,
        `the statement ran longer than the time limit (${this.timeoutMs} ms) and was stopped`,
        { cause: error },
      );
    }
    if (this.cancelled) {
      return new SqlEngineError(SqlEngineErrorCode.Cancelled, "the statement was cancelled", {
        cause: error,
      });
    }
    if (error instanceof SqlEngineError) return error;
    const message = (error instanceof Error ? error.message : String(error)).replace(
      /^Failed to extract statements: /,
      "",
    );
    const code = message.startsWith("Permission Error")
      ? SqlEngineErrorCode.Denied
      : SqlEngineErrorCode.QueryFailed;
    return new SqlEngineError(code, message, { cause: error });
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
    this.release();
    this.connection.closeSync();
  }
}

/**
 * The result of {@link SqlEngine.query}: the columns, then the rendered body in pieces from
 * {@link SqlResult.bytes} (or {@link SqlResult.text}). Read one of them to the end or call
 * {@link SqlResult.close}.
 */
export interface SqlResult {
  readonly columns: readonly SqlColumn[];
  readonly format: SqlFormat;
  /** Rows in the result (at most `maxRows`); final once the body is read to the end. */
  readonly rowCount: number;
  /** True when the statement had more rows than `maxRows`; final once the body is read. */
  readonly truncated: boolean;
  /** Milliseconds from the request to the last piece; final once the body is read. */
  readonly elapsedMs: number;
  /** The whole response body in order, as UTF-8 pieces of up to one DuckDB chunk (2,048 rows) each. */
  bytes(): AsyncGenerator<Uint8Array, void, undefined>;
  /** The same body as {@link SqlResult.bytes}, decoded to strings. */
  text(): AsyncGenerator<string, void, undefined>;
  /** Releases the statement's connection without reading the rest. */
  close(): void;
}

class RenderedResult implements SqlResult {
  readonly columns: readonly SqlColumn[];
  private seen = 0;
  private finished = false;
  private elapsed = 0;

  constructor(
    private readonly statement: Statement,
    readonly format: SqlFormat,
    private readonly result: DuckDBResult,
    private first: DuckDBDataChunk | null,
    private readonly maxRows: number,
    private readonly started: number,
  ) {
    this.columns = statement.columns;
  }

  /** Rows in the result (at most `maxRows`); final once the body is read to the end. */
  get rowCount(): number {
    return Math.min(this.seen, this.maxRows);
  }

  /** True when the statement had more rows than `maxRows`; final once the body is read. */
  get truncated(): boolean {
    return this.seen > this.maxRows;
  }

  /** Milliseconds from the request to the last piece; final once the body is read. */
  get elapsedMs(): number {
    return this.finished ? this.elapsed : elapsedSince(this.started);
  }

  /** The whole response body in order, as UTF-8 pieces of up to one DuckDB chunk (2,048 rows) each. */
  async *bytes(): AsyncGenerator<Uint8Array, void, undefined> {
    let pending: Promise<DuckDBDataChunk | null> | undefined;
    try {
      const json = this.format === SqlFormat.Json;
      if (json) yield Buffer.from(`{"columns":${JSON.stringify(this.columns)},"rows":[`);
      if (this.format === SqlFormat.Csv) {
        yield Buffer.from(`${this.columns.map((c) => csvField(c.name)).join(",")}\n`);
      }
      let chunk = this.first;
      this.first = null;
      while (chunk !== null && chunk.rowCount > 0) {
        // The statement has at most maxRows + 1 rows: the extra one only says the result was cut.
        const rows = Math.min(chunk.rowCount, Math.max(0, this.maxRows - this.seen));
        // A JSON row renders with the comma before it: the result's first row drops it.
        const piece = joinRows(chunk, rows, json && this.seen === 0);
        this.seen += chunk.rowCount;
        // DuckDB renders the next chunk while this one goes out.
        pending = this.result.fetchChunk();
        pending.catch(() => {}); // awaited below, or in `finally` when the reader stops early
        if (piece.byteLength > 0) yield piece;
        chunk = await pending;
        pending = undefined;
      }
      this.finished = true;
      this.elapsed = elapsedSince(this.started);
      if (json) {
        yield Buffer.from(
          `],"rowCount":${this.rowCount},"truncated":${this.truncated},"elapsedMs":${this.elapsed}}`,
        );
      }
    } catch (error) {
      throw this.statement.fail(error);
    } finally {
      // Never close the connection under a fetch in flight.
      await pending?.catch(() => {});
      this.statement.close();
    }
  }

  /** The same body as {@link SqlResult.bytes}, decoded to strings. */
  async *text(): AsyncGenerator<string, void, undefined> {
    const decoder = new TextDecoder();
    for await (const piece of this.bytes()) yield decoder.decode(piece, { stream: true });
    const rest = decoder.decode();
    if (rest !== "") yield rest;
  }

  /** Releases the statement's connection without reading the rest. */
  close(): void {
    this.statement.close();
  }
}

// Bytes of a duckdb_string_t: length (4), then the string itself when it fits in 12 bytes, or a
// 4-byte prefix and a pointer (8) to the bytes in the vector's string heap.
const STRING_T_BYTES = 16;
const INLINE_BYTES = 12;

/**
 * The first `rows` rendered rows of `chunk` (each carrying its separator) as one buffer, without
 * its first byte when `skipFirst` (the comma before a JSON result's first row). Bytes straight from
 * DuckDB's vector, never decoded to JS strings. A row longer than 12 bytes lies in the vector's
 * string heap, where consecutive rows lie back to back but for a few breaks per chunk: each such
 * run is copied out with one native call rather than one per row. A run is only ever the exact
 * union of its rows' own bytes (each row checked to start where the one before it ends), so the
 * layout is never assumed, only used when it holds.
 */
function joinRows(chunk: DuckDBDataChunk, rows: number, skipFirst: boolean): Buffer {
  if (rows === 0) return EMPTY_BUFFER;
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, 0);
  const data = duckdb.vector_get_data(vector, rows * STRING_T_BYTES);
  const validity: Uint8Array | null = duckdb.vector_get_validity(vector, Math.ceil(rows / 64) * 8);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const pieces: Uint8Array[] = [];
  let size = 0;
  let runFirst = -1; // the row whose pointer starts the current run, -1 when none
  let runEnd = 0; // the address just past the run (exact: addresses are below 2^53)
  let runBytes = 0;
  const endRun = () => {
    if (runFirst < 0) return;
    const pointerAt = data.byteOffset + runFirst * STRING_T_BYTES + 8;
    pieces.push(duckdb.get_data_from_pointer(data.buffer as ArrayBuffer, pointerAt, runBytes));
    size += runBytes;
    runFirst = -1;
  };
  for (let i = 0; i < rows; i++) {
    // A rendered row is never NULL; were one, it would render as nothing.
    if (validity && (validity[i >> 3]! & (1 << (i & 7))) === 0) {
      endRun();
      continue;
    }
    const at = i * STRING_T_BYTES;
    const length = view.getUint32(at, true);
    if (length <= INLINE_BYTES) {
      endRun();
      pieces.push(data.subarray(at + 4, at + 4 + length));
      size += length;
      continue;
    }
    const pointer = view.getUint32(at + 12, true) * 2 ** 32 + view.getUint32(at + 8, true);
    if (runFirst >= 0 && pointer === runEnd) {
      runEnd += length;
      runBytes += length;
      continue;
    }
    endRun();
    runFirst = i;
    runEnd = pointer + length;
    runBytes = length;
  }
  endRun();
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return skipFirst ? out.subarray(1) : out;
}

const EMPTY_BUFFER = Buffer.alloc(0);

function elapsedSince(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/** A CSV field, quoted when it holds a comma, quote or line break. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * SQL that renders each row of `limited` (at most maxRows + 1 rows) as UTF-8 bytes, in the
 * statement's order, with its separator: a JSON object after a comma (JSON), a JSON object or a CSV
 * line and its line break (NDJSON, CSV). BLOB rather than VARCHAR so the text crosses into JS as
 * bytes, ready for the socket.
 */
function renderSql(limited: string, format: SqlFormat): string {
  if (format === SqlFormat.Csv) {
    // Every column as text, NULL as an empty field, quoted only where RFC 4180 needs it.
    const field = `CASE WHEN COLUMNS(*) IS NULL THEN '' WHEN regexp_matches(COLUMNS(*), '[",\\r\\n]') THEN '"' || replace(COLUMNS(*), '"', '""') || '"' ELSE COLUMNS(*) END`;
    const fields = `SELECT ${field} FROM (SELECT COLUMNS(*)::VARCHAR FROM (${limited}))`;
    return `SELECT encode(concat_ws(',', *COLUMNS(*)) || chr(10)) AS ${PIECE} FROM (${fields})`;
  }
  const row = `to_json(${ROW_ALIAS})::VARCHAR`;
  const rendered = format === SqlFormat.Json ? `',' || ${row}` : `${row} || chr(10)`;
  return `SELECT encode(${rendered}) AS ${PIECE} FROM (${limited}) AS ${ROW_ALIAS}`;
}

/** The statement type's name as a user knows it: `COPY`, `CREATE`, `SET`. */
function statementTypeName(type: StatementType): string {
  return (StatementType[type] ?? `type ${type}`).replace("VARIABLE_SET", "SET").replaceAll("_", " ");
}

/**
 * Prepares `sql` on `connection` if it is exactly one SELECT; otherwise throws NOT_SELECT (or
 * DuckDB's parser error). The decision is DuckDB's, never a reading of the text, because
 * `COPY … TO` and `ATTACH` can write inside the allowed directory. It is taken from the parse
 * alone, before anything is bound: binding can act already (preparing `EXPORT DATABASE` creates
 * its directory). The binder's statement type then confirms it.
 */
async function prepareSelect(connection: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
  const extracted = await connection.extractStatements(sql);
  if (extracted.count !== 1) {
    throw new SqlEngineError(
      SqlEngineErrorCode.NotSelect,
      `${NOT_SELECT_PREFIX} (got ${extracted.count} statements)`,
    );
  }
  if (!(await parsesAsSelect(connection, sql))) {
    throw new SqlEngineError(
      SqlEngineErrorCode.NotSelect,
      `${NOT_SELECT_PREFIX} (got ${describeRefused(sql)})`,
    );
  }
  const prepared = await extracted.prepare(0);
  const type = prepared.statementType;
  if (type !== StatementType.SELECT) {
    prepared.destroySync();
    throw new SqlEngineError(
      SqlEngineErrorCode.NotSelect,
      `${NOT_SELECT_PREFIX} (got ${statementTypeName(type)})`,
    );
  }
  return prepared;
}

/** True when DuckDB's parser alone (no binding) reads `sql` as SELECT statements only. */
async function parsesAsSelect(connection: DuckDBConnection, sql: string): Promise<boolean> {
  // json_serialize_sql parses and serializes SELECT statements; anything else is an error.
  const reader = await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)::JSON->>'error'", [
    sql,
  ]);
  return reader.getRows()[0]?.[0] === "false";
}

/** What the refused statement is, for the message only: its first keyword after comments. */
function describeRefused(sql: string): string {
  const start = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()+/, "");
  const keyword = /^[A-Za-z_]+/.exec(start)?.[0].toUpperCase();
  if (keyword === undefined) return "another kind of statement";
  return ["SELECT", "FROM", "WITH", "VALUES"].includes(keyword)
    ? "a query DuckDB cannot run as a plain SELECT"
    : keyword;
}

/** Gates the user's text (see {@link prepareSelect}); returns it without trailing semicolons. */
async function gate(connection: DuckDBConnection, sql: string): Promise<string> {
  const body = sql.replace(/[\s;]+$/, "");
  if (body.trim() === "") {
    throw new SqlEngineError(SqlEngineErrorCode.NotSelect, `${NOT_SELECT_PREFIX} (got an empty text)`);
  }
  const prepared = await prepareSelect(connection, body);
  prepared.destroySync();
  return body;
}

// A CDC table's event time, when no dataset setting names one: when each change committed at the
// source (`_committed_at`, written by the CDC source).
const CDC_COMMIT_TIME = "_committed_at";

function commitTimeColumn(snapshot: DeltaSnapshot): string | undefined {
  try {
    const { fields } = parseDeltaSchema(snapshot.metadata.schemaString);
    return fields.some((f) => f.name === CDC_COMMIT_TIME && f.type === "timestamp")
      ? CDC_COMMIT_TIME
      : undefined;
  } catch {
    return undefined;
  }
}
