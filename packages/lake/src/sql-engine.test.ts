import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CuratedRow, CuratedTable } from "./curated-table.js";
import { ParquetWriter } from "./parquet-writer.js";
import { SqlEngine, SqlEngineError, SqlEngineErrorCode, SqlFormat, type SqlResult } from "./sql-engine.js";
import { CLICKS_SCHEMA, click, openClicksTable, T0 } from "./test-lake.js";

async function text(result: SqlResult): Promise<string> {
  let out = "";
  for await (const piece of result.text()) out += piece;
  return out;
}

async function failure(promise: Promise<unknown>): Promise<SqlEngineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof SqlEngineError)) throw new Error(`expected a SqlEngineError, got ${String(error)}`);
  return error;
}

describe("SqlEngine", () => {
  let writer: ParquetWriter;
  let lakeDir: string;
  let table: CuratedTable;
  let engine: SqlEngine | undefined;
  let seq = 0;

  const open = async (options: Partial<Parameters<typeof SqlEngine.create>[0]> = {}) => {
    engine = await SqlEngine.create({ lakeDir, ...options });
    return engine;
  };
  const append = (rows: CuratedRow[]) => table.append(rows, ++seq);

  beforeAll(async () => {
    writer = await ParquetWriter.create({ threads: 1 });
  });
  afterAll(async () => {
    await writer.close();
  });
  beforeEach(async () => {
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-sql-engine-"));
    table = await openClicksTable(lakeDir, writer);
    await append([click(1), click(2, 'say "hi", ok'), click(3, "two\nlines")]);
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    await rm(lakeDir, { recursive: true, force: true });
  });

  it("answers a SELECT over a dataset view as JSON with columns, typed values and counts", async () => {
    const sql = await open();
    const result = await sql.query("SELECT user_id, views, ts, event_date FROM clicks ORDER BY views");
    const body = JSON.parse(await text(result));
    expect(body.columns).toEqual([
      { name: "user_id", type: "VARCHAR" },
      { name: "views", type: "BIGINT" },
      { name: "ts", type: "TIMESTAMP WITH TIME ZONE" },
      { name: "event_date", type: "DATE" },
    ]);
    expect(body.rows).toEqual([
      { user_id: "u1", views: 1, ts: "2024-05-01 12:00:01+00", event_date: "2024-05-01" },
      { user_id: "u2", views: 2, ts: "2024-05-01 12:00:02+00", event_date: "2024-05-01" },
      { user_id: "u3", views: 3, ts: "2024-05-01 12:00:03+00", event_date: "2024-05-01" },
    ]);
    expect(body).toMatchObject({ rowCount: 3, truncated: false });
    expect(typeof body.elapsedMs).toBe("number");
  });

  it("keeps BIGINT and HUGEINT exact in JSON", async () => {
    const sql = await open();
    const body = await text(
      await sql.query(
        "SELECT 9007199254740993::BIGINT AS b, 170141183460469231731687303715884105727::HUGEINT AS h",
      ),
    );
    expect(body).toContain('"rows":[{"b":9007199254740993,"h":170141183460469231731687303715884105727}]');
  });

  it("renders NDJSON one object per line and CSV with a header and RFC 4180 quoting", async () => {
    const sql = await open();
    const select = "SELECT views, note FROM clicks ORDER BY views";
    const ndjson = await text(await sql.query(select, "ndjson"));
    expect(ndjson).toBe(
      '{"views":1,"note":null}\n{"views":2,"note":"say \\"hi\\", ok"}\n{"views":3,"note":"two\\nlines"}\n',
    );
    const csv = await text(await sql.query(select, "csv"));
    expect(csv).toBe('views,note\n1,\n2,"say ""hi"", ok"\n3,"two\nlines"\n');
  });

  it("keeps the statement's order across many text pieces", async () => {
    const sql = await open();
    const result = await sql.query("SELECT range AS n FROM range(10000) ORDER BY n DESC", "ndjson");
    const pieces: string[] = [];
    for await (const piece of result.text()) pieces.push(piece);
    expect(pieces.length).toBeGreaterThan(1);
    const numbers = pieces
      .join("")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line).n);
    expect(numbers).toHaveLength(10000);
    expect(numbers[0]).toBe(9999);
    expect(numbers.every((n, i) => n === 9999 - i)).toBe(true);
    expect(result.rowCount).toBe(10000);
  });

  it("hands out the body as UTF-8 bytes, multi-byte characters intact across pieces", async () => {
    const sql = await open();
    const result = await sql.query("SELECT range AS n, 'grüße ✓ ' || range AS s FROM range(5000) ORDER BY n");
    const pieces: Uint8Array[] = [];
    for await (const piece of result.bytes()) pieces.push(piece);
    expect(pieces.length).toBeGreaterThan(3);
    const body = JSON.parse(Buffer.concat(pieces).toString("utf8"));
    expect(body.rows).toHaveLength(5000);
    expect(body.rows[4999]).toEqual({ n: 4999, s: "grüße ✓ 4999" });
    expect(body).toMatchObject({ rowCount: 5000, truncated: false });
  });

  it("renders rows short enough to sit inside DuckDB's vector and longer ones alike, in order", async () => {
    const sql = await open();
    // Rendered, a row of s is 3 to 40 bytes: up to 12 it sits in the vector, beyond in its heap.
    const statement =
      "SELECT s FROM (SELECT range AS n, CASE WHEN range % 4 = 0 THEN NULL ELSE repeat('y', range % 29) END AS s FROM range(6000)) ORDER BY n";
    const expected = Array.from({ length: 6000 }, (_, n) => (n % 4 === 0 ? null : "y".repeat(n % 29)));
    const read = async (format: SqlFormat) => {
      const result = await sql.query(statement, format);
      const pieces: Uint8Array[] = [];
      for await (const piece of result.bytes()) pieces.push(piece);
      return Buffer.concat(pieces).toString("utf8");
    };
    expect(JSON.parse(await read(SqlFormat.Json)).rows.map((r: { s: string | null }) => r.s)).toEqual(
      expected,
    );
    const ndjson = (await read(SqlFormat.Ndjson)).split("\n");
    expect(ndjson.pop()).toBe("");
    expect(ndjson.map((line) => JSON.parse(line).s)).toEqual(expected);
    const csv = (await read(SqlFormat.Csv)).split("\n");
    expect(csv.shift()).toBe("s");
    expect(csv.pop()).toBe("");
    expect(csv).toEqual(expected.map((v) => v ?? ""));
  });

  it("names duplicate columns apart, the same way in columns and rows", async () => {
    const sql = await open();
    const body = JSON.parse(await text(await sql.query("SELECT 1 AS a, 2 AS a")));
    expect(body.columns.map((c: { name: string }) => c.name)).toEqual(["a", "a_1"]);
    expect(body.rows).toEqual([{ a: 1, a_1: 2 }]);
  });

  it("cuts a result at maxRows and says so", async () => {
    const sql = await open({ maxRows: 5 });
    for (const format of ["json", "ndjson", "csv"] as SqlFormat[]) {
      const result = await sql.query("SELECT range AS n FROM range(100)", format);
      const body = await text(result);
      expect(result.rowCount).toBe(5);
      expect(result.truncated).toBe(true);
      if (format === "json") expect(JSON.parse(body)).toMatchObject({ rowCount: 5, truncated: true });
      if (format === "ndjson") expect(body.trimEnd().split("\n")).toHaveLength(5);
      if (format === "csv") expect(body.trimEnd().split("\n")).toHaveLength(6);
    }
    const exact = await sql.query("SELECT range AS n FROM range(5)");
    expect(JSON.parse(await text(exact))).toMatchObject({ rowCount: 5, truncated: false });
  });

  it("returns rows as DuckDB's text for display", async () => {
    const sql = await open({ maxRows: 2 });
    const result = await sql.rows("SELECT views, ts, note FROM clicks ORDER BY views");
    expect(result.columns.map((c) => c.name)).toEqual(["views", "ts", "note"]);
    expect(result.rows).toEqual([
      ["1", "2024-05-01 12:00:01+00", null],
      ["2", "2024-05-01 12:00:02+00", 'say "hi", ok'],
    ]);
    expect(result.truncated).toBe(true);
  });

  it.each([
    ["COPY (SELECT 1) TO '{lake}/out.csv'", "COPY"],
    ["ATTACH '{lake}/x.duckdb' AS x", "ATTACH"],
    ["INSERT INTO clicks SELECT * FROM clicks", "INSERT"],
    ["CREATE TABLE t AS SELECT 1", "CREATE"],
    ["CREATE OR REPLACE VIEW clicks AS SELECT 1", "CREATE"],
    ["DROP VIEW clicks", "DROP"],
    ["SET threads = 1", "SET"],
    ["PRAGMA threads = 1", "PRAGMA"],
    ["PRAGMA version", "PRAGMA"],
    ["RESET memory_limit", "RESET"],
    ["LOAD httpfs", "LOAD"],
    ["INSTALL httpfs", "INSTALL"],
    ["-- a comment first\n/* and another */ COPY (SELECT 1) TO '{lake}/out.csv'", "COPY"],
    // DuckDB runs a PIVOT as two statements: CREATE TYPE, then the SELECT.
    ["SELECT * FROM (PIVOT clicks ON user_id USING sum(views))", "2 statements"],
    ["EXPLAIN SELECT 1", "EXPLAIN"],
    ["CALL pragma_version()", "CALL"],
    ["EXPORT DATABASE '{lake}/export'", "EXPORT"],
    ["DETACH memory", "DETACH"],
    ["SELECT 1; SELECT 2", "2 statements"],
    ["SELECT 1; COPY (SELECT 1) TO '{lake}/out.csv'", "2 statements"],
    ["   ", "an empty text"],
  ])("refuses %s", async (statement, got) => {
    const sql = await open();
    const error = await failure(sql.query(statement.replaceAll("{lake}", lakeDir)));
    expect(error.code).toBe(SqlEngineErrorCode.NotSelect);
    expect(error.message).toBe(`only a single SELECT statement is allowed (got ${got})`);
    expect(await readdir(lakeDir)).toEqual(["curated"]);
  });

  it.each([
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT count(*) FROM (SELECT * FROM read_text('/etc/passwd'))",
    "SELECT * FROM clicks WHERE user_id IN (SELECT content FROM read_text('/etc/hostname'))",
    "SELECT * FROM read_text('{lake}/../outside.txt')",
    "SELECT * FROM glob('/etc/*')",
  ])("denies reading outside the lake: %s", async (statement) => {
    const sql = await open();
    const error = await failure(sql.query(statement.replaceAll("{lake}", lakeDir)));
    expect(error.code).toBe(SqlEngineErrorCode.Denied);
    expect(error.message).toMatch(/^Permission Error/);
  });

  it("lets a statement read files inside the lake", async () => {
    await mkdir(join(lakeDir, "notes"));
    await writeFile(join(lakeDir, "notes", "a.csv"), "x\n1\n");
    const sql = await open();
    const body = JSON.parse(await text(await sql.query(`SELECT x FROM read_csv('${lakeDir}/notes/a.csv')`)));
    expect(body.rows).toEqual([{ x: 1 }]);
  });

  it("keeps the configuration locked", async () => {
    const sql = await open();
    const result = await sql.rows(
      "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), current_setting('autoload_known_extensions')",
    );
    expect(result.rows).toEqual([["false", "true", "false"]]);
  });

  it("interrupts a statement that runs past the time limit", async () => {
    const sql = await open({ timeoutMs: 300 });
    const started = Date.now();
    const error = await failure(
      sql.query("SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = 7"),
    );
    expect(error.code).toBe(SqlEngineErrorCode.Timeout);
    expect(error.message).toContain("300 ms");
    expect(Date.now() - started).toBeLessThan(5000);
    // The engine keeps working afterwards.
    expect((await sql.rows("SELECT 42")).rows).toEqual([["42"]]);
  });

  it("interrupts a statement when the caller's signal fires", async () => {
    const sql = await open();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(
      sql.query(
        "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = 7",
        "json",
        {
          signal: controller.signal,
        },
      ),
    );
    expect(error.code).toBe(SqlEngineErrorCode.Cancelled);
  });

  it("refuses a statement beyond maxConcurrent as busy", async () => {
    const sql = await open({ maxConcurrent: 1, timeoutMs: 2000 });
    const slow = sql.query(
      "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = 7",
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await failure(sql.query("SELECT 1"))).code).toBe(SqlEngineErrorCode.Busy);
    expect((await failure(slow)).code).toBe(SqlEngineErrorCode.Timeout);
    expect((await sql.rows("SELECT 1")).rows).toEqual([["1"]]);
  });

  it("reports DuckDB's own message for a bad statement", async () => {
    const sql = await open();
    const error = await failure(sql.query("SELECT nope FROM clicks"));
    expect(error.code).toBe(SqlEngineErrorCode.QueryFailed);
    expect(error.message).toContain('Referenced column "nope" not found');
    const syntax = await failure(sql.query("SELEC 1"));
    expect(syntax.code).toBe(SqlEngineErrorCode.QueryFailed);
    expect(syntax.message).toMatch(/^Parser Error: syntax error at or near "SELEC"/);
  });

  it("accepts a trailing semicolon and a trailing comment", async () => {
    const sql = await open();
    expect((await sql.rows("SELECT 1 AS one;  ")).rows).toEqual([["1"]]);
    expect((await sql.rows("SELECT 1 AS one -- the answer")).rows).toEqual([["1"]]);
  });

  it("sees a new commit on the next statement", async () => {
    const sql = await open();
    expect((await sql.rows("SELECT count(*) FROM clicks")).rows).toEqual([["3"]]);
    await append([click(4), click(5)]);
    expect((await sql.rows("SELECT count(*) FROM clicks")).rows).toEqual([["5"]]);
  });

  it("picks up a dataset created after it started", async () => {
    const sql = await open();
    const other = await CuratedTable.open({
      lakeDir,
      dataset: "views",
      avroSchema: CLICKS_SCHEMA,
      schemaVersion: 1,
      eventTimeField: "ts",
      appId: "lake-writer-views",
      writer,
    });
    await other.append([click(9)], 1);
    expect((await sql.rows("SELECT user_id FROM views")).rows).toEqual([["u9"]]);
  });

  it("reads a pinned older version for one statement only", async () => {
    await append([click(4)]);
    const sql = await open();
    const pinned = await sql.rows("SELECT count(*) FROM clicks", { versions: { clicks: 0 } });
    expect(pinned.rows).toEqual([["3"]]);
    expect((await sql.rows("SELECT count(*) FROM clicks")).rows).toEqual([["4"]]);
    expect((await failure(sql.rows("SELECT 1", { versions: { clicks: 9 } }))).code).toBe(
      SqlEngineErrorCode.UnknownVersion,
    );
    expect((await failure(sql.rows("SELECT 1", { versions: { nope: 0 } }))).code).toBe(
      SqlEngineErrorCode.UnknownDataset,
    );
  });

  it("lists datasets with version, files, rows, bytes and freshness from the log", async () => {
    await append([click(4)]);
    const sql = await open({ eventTimeFields: { clicks: "ts" } });
    const before = Date.now();
    const [dataset, ...rest] = await sql.datasets();
    expect(rest).toEqual([]);
    expect(dataset).toMatchObject({
      name: "clicks",
      version: 1,
      files: 2,
      rows: 4,
      newestEventAt: new Date(T0 + 4000).toISOString(),
      newestIngestedAt: new Date(T0 + 4007).toISOString(),
    });
    expect(dataset?.bytes).toBeGreaterThan(0);
    expect(dataset?.freshnessMs).toBeGreaterThanOrEqual(before - (T0 + 4007));
    const detail = await sql.dataset("clicks");
    expect(detail?.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      "ts TIMESTAMP WITH TIME ZONE",
      "user_id VARCHAR",
      "views BIGINT",
      "note VARCHAR",
      "_event_id VARCHAR",
      "_ingested_at TIMESTAMP WITH TIME ZONE",
      "_trace_id VARCHAR",
      "_schema_version INTEGER",
      "event_date DATE",
    ]);
    expect(detail?.partitionColumns).toEqual(["event_date"]);
    expect(await sql.dataset("nope")).toBeUndefined();
  });

  it("keeps reading the last good snapshot when a new commit cannot be read, and says why", async () => {
    const sql = await open();
    await writeFile(
      join(lakeDir, "curated", "clicks", "_delta_log", "00000000000000000001.json"),
      "{not json\n",
    );
    expect((await sql.rows("SELECT count(*) FROM clicks")).rows).toEqual([["3"]]);
    const [dataset] = await sql.datasets();
    expect(dataset?.version).toBe(0);
    expect(dataset?.error).toMatch(/00000000000000000001|commit 1/);
  });

  it("replaces a view only when a statement needs it, and keeps the last one that scans", async () => {
    const sql = await open();
    expect((await sql.rows("SELECT count(*) FROM clicks")).rows).toEqual([["3"]]);
    await append([click(4), click(5)]);
    // Commit 1's file is damaged: its footer cannot be read, which only binding the view finds out.
    const commit = await readFile(
      join(lakeDir, "curated", "clicks", "_delta_log", "00000000000000000001.json"),
      "utf8",
    );
    const added = commit
      .split("\n")
      .filter((line) => line.includes('"add"'))
      .map((line) => JSON.parse(line).add.path as string);
    expect(added).toHaveLength(1);
    await writeFile(join(lakeDir, "curated", "clicks", decodeURIComponent(added[0]!)), "not parquet");

    // A listing reads the log only: the new version, its rows from the statistics, no error yet.
    const [listed] = await sql.datasets();
    expect(listed).toMatchObject({ version: 1, rows: 5 });
    expect(listed?.error).toBeUndefined();

    // A statement needs the view: it cannot be bound to version 1, so version 0 is still read.
    expect((await sql.rows("SELECT count(*) FROM clicks")).rows).toEqual([["3"]]);
    const [after] = await sql.datasets();
    expect(after?.error).toMatch(/^version 1 cannot be scanned \(.+\); statements read version 0$/);
  });

  it("lists a dataset none of whose versions scans, without columns, and says why", async () => {
    const commit = await readFile(
      join(lakeDir, "curated", "clicks", "_delta_log", "00000000000000000000.json"),
      "utf8",
    );
    for (const line of commit.split("\n").filter((l) => l.includes('"add"'))) {
      const path = JSON.parse(line).add.path as string;
      await writeFile(join(lakeDir, "curated", "clicks", decodeURIComponent(path)), "not parquet");
    }
    const sql = await open();
    const detail = await sql.dataset("clicks");
    expect(detail).toMatchObject({ name: "clicks", version: 0, rows: 3, columns: [] });
    expect(detail?.error).toMatch(/^version 0 cannot be scanned \(.+\); statements read nothing$/);
    expect((await failure(sql.rows("SELECT count(*) FROM clicks"))).code).toBe(
      SqlEngineErrorCode.QueryFailed,
    );
  });

  it("refuses to open a lake directory that does not exist", async () => {
    const error = await failure(SqlEngine.create({ lakeDir: join(lakeDir, "nope") }));
    expect(error.code).toBe(SqlEngineErrorCode.NoLake);
    expect(error.message).toBe(`the lake directory ${join(lakeDir, "nope")} does not exist`);
  });

  it("refuses statements once closed", async () => {
    const sql = await open();
    await sql.close();
    expect((await failure(sql.query("SELECT 1"))).code).toBe(SqlEngineErrorCode.Closed);
    engine = undefined;
  });
});
