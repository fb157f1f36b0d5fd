import { readdir } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { SqlDataset, SqlDatasetDetail } from "@inlet/lake";
import { click, createTestLake, T0, type TestLake } from "@inlet/lake/testing";
import { createLogger } from "@inlet/telemetry";
import { findRepoRoot } from "@inlet/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createQueryService, type QueryService } from "../src/service.js";

interface QueryBody {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
  elapsedMs: number;
}

interface ErrorBody {
  error: { code: string; message: string };
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

const SLOW = "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = 7";

describe("query service", () => {
  let lake: TestLake;
  let service: QueryService;

  beforeAll(async () => {
    lake = await createTestLake([click(1), click(2, 'say "hi", ok'), click(3)]);
    service = createQueryService({
      config: loadConfig({
        INLET_LAKE_DIR: lake.dir,
        INLET_QUERY_PORT: "0",
        INLET_QUERY_HOST: "127.0.0.1",
        INLET_QUERY_MAX_ROWS: "50",
        INLET_QUERY_TIMEOUT_MS: "500",
        INLET_CONFIG_DIR: join(findRepoRoot() ?? ".", "config"),
      }),
      logger: createLogger({ service: "query", level: "silent" }),
    });
    await service.start();
  });
  afterAll(async () => {
    await service?.stop();
    await lake?.remove();
  });

  const query = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${service.url}/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("answers a SELECT as JSON with typed columns, rows and counts", async () => {
    const response = await query({ sql: "SELECT user_id, views, ts, event_date FROM clicks ORDER BY views" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = await json<QueryBody>(response);
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
    expect(body.elapsedMs).toBeGreaterThan(0);
  });

  it("answers NDJSON when the body asks for it", async () => {
    const response = await query({ sql: "SELECT views, note FROM clicks ORDER BY views", format: "ndjson" });
    expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(await response.text()).toBe(
      '{"views":1,"note":null}\n{"views":2,"note":"say \\"hi\\", ok"}\n{"views":3,"note":null}\n',
    );
  });

  it("answers CSV when the Accept header asks for it", async () => {
    const response = await query(
      { sql: "SELECT views, note FROM clicks ORDER BY views" },
      { accept: "text/csv" },
    );
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(await response.text()).toBe('views,note\n1,\n2,"say ""hi"", ok"\n3,\n');
  });

  it("takes the SQL as a text/plain body", async () => {
    const response = await query("SELECT max(views) AS top FROM clicks", { "content-type": "text/plain" });
    expect((await json<QueryBody>(response)).rows).toEqual([{ top: 3 }]);
  });

  it("sends the row count and truncation as trailers after a streamed result", async () => {
    const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
      const req = httpRequest(
        `${service.url}/v1/query`,
        { method: "POST", headers: { "content-type": "application/json" } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.trailers));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ sql: "SELECT * FROM range(60)", format: "csv" }));
    });
    expect(trailers).toMatchObject({ "inlet-row-count": "50", "inlet-truncated": "true" });
  });

  it.each([
    ["COPY (SELECT * FROM clicks) TO '{lake}/stolen.csv'", "COPY"],
    ["ATTACH '{lake}/x.duckdb' AS x", "ATTACH"],
    ["INSERT INTO clicks SELECT * FROM clicks", "INSERT"],
    ["CREATE TABLE copy AS SELECT * FROM clicks", "CREATE"],
    ["PRAGMA enable_profiling", "PRAGMA"],
    ["SET enable_external_access = true", "SET"],
    ["EXPORT DATABASE '{lake}/export'", "EXPORT"],
    ["SELECT 1; SELECT 2", "2 statements"],
  ])("refuses %s with 400", async (sql, got) => {
    const response = await query({ sql: sql.replaceAll("{lake}", lake.dir) });
    expect(response.status).toBe(400);
    expect(await json<ErrorBody>(response)).toEqual({
      error: { code: "NOT_SELECT", message: `only a single SELECT statement is allowed (got ${got})` },
    });
    expect(await readdir(lake.dir)).toEqual(["curated"]);
  });

  it.each([
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM clicks WHERE user_id IN (SELECT column0 FROM read_csv('/etc/passwd', header = false))",
  ])("refuses to read outside the lake with 403: %s", async (sql) => {
    const response = await query({ sql });
    expect(response.status).toBe(403);
    const body = await json<ErrorBody>(response);
    expect(body.error.code).toBe("DENIED");
    expect(body.error.message).toContain('Cannot access file "/etc/passwd"');
  });

  it("cuts a result at INLET_QUERY_MAX_ROWS and says so", async () => {
    const body = await json<QueryBody>(await query({ sql: "SELECT range AS n FROM range(1000)" }));
    expect(body.rows).toHaveLength(50);
    expect(body).toMatchObject({ rowCount: 50, truncated: true });
  });

  it("stops a statement that runs past INLET_QUERY_TIMEOUT_MS with 504, then answers the next", async () => {
    const started = Date.now();
    const response = await query({ sql: SLOW });
    expect(response.status).toBe(504);
    expect(await json<ErrorBody>(response)).toEqual({
      error: {
        code: "TIMEOUT",
        message: "the statement ran longer than the time limit (500 ms) and was stopped",
      },
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await json<QueryBody>(await query({ sql: "SELECT 1 AS one" }))).rows).toEqual([{ one: 1 }]);
  });

  it("answers a bad statement with 400 and DuckDB's reason", async () => {
    const response = await query({ sql: "SELECT nope FROM clicks" });
    expect(response.status).toBe(400);
    const body = await json<ErrorBody>(response);
    expect(body.error.code).toBe("QUERY_FAILED");
    expect(body.error.message).toContain('Referenced column "nope" not found');
  });

  it("answers a malformed request with 400 saying what is expected", async () => {
    const response = await query({ query: "SELECT 1" });
    expect(response.status).toBe(400);
    const body = await json<ErrorBody>(response);
    expect(body.error.code).toBe("INVALID_REQUEST");
    expect(body.error.message).toContain('expected { "sql": "SELECT …"');
    expect((await query({ sql: "SELECT 1", format: "xml" })).status).toBe(400);
    expect((await query("{not json")).status).toBe(400);
  });

  it("sees a new commit on the next statement, and reads an older version when pinned", async () => {
    const count = async (body: object = {}) =>
      Number(
        (await json<QueryBody>(await query({ sql: "SELECT count(*) AS n FROM clicks", ...body }))).rows[0]?.n,
      );
    const before = await count();
    await lake.append([click(10), click(11)]);
    expect(await count()).toBe(before + 2);
    expect(await count({ version: { clicks: 0 } })).toBe(3);
    const missing = await query({ sql: "SELECT 1", version: { clicks: 99 } });
    expect(missing.status).toBe(404);
    expect((await json<ErrorBody>(missing)).error.code).toBe("UNKNOWN_VERSION");
  });

  it("lists datasets with rows counted from the log and freshness", async () => {
    const response = await fetch(`${service.url}/v1/datasets`);
    expect(response.status).toBe(200);
    const [dataset, ...others] = await json<SqlDataset[]>(response);
    const total = (await json<QueryBody>(await query({ sql: "SELECT count(*) AS n FROM clicks" }))).rows[0]
      ?.n;
    expect(others).toEqual([]);
    expect(dataset).toMatchObject({ name: "clicks", rows: total });
    expect(dataset?.version).toBeGreaterThanOrEqual(0);
    expect(dataset?.files).toBeGreaterThanOrEqual(1);
    expect(dataset?.bytes).toBeGreaterThan(0);
    expect(Date.parse(dataset?.newestIngestedAt ?? "")).toBeGreaterThan(T0);
    expect(Date.parse(dataset?.newestEventAt ?? "")).toBeGreaterThan(T0);
    expect(dataset?.freshnessMs).toBeGreaterThan(0);
  });

  it("describes one dataset with its columns, and answers 404 for an unknown one", async () => {
    const response = await fetch(`${service.url}/v1/datasets/clicks`);
    const dataset = await json<SqlDatasetDetail>(response);
    expect(dataset.name).toBe("clicks");
    expect(dataset.columns.map((c) => c.name)).toEqual([
      "ts",
      "user_id",
      "views",
      "note",
      "_event_id",
      "_ingested_at",
      "_trace_id",
      "_schema_version",
      "event_date",
    ]);
    expect(dataset.partitionColumns).toEqual(["event_date"]);
    const missing = await fetch(`${service.url}/v1/datasets/nope`);
    expect(missing.status).toBe(404);
    expect((await json<ErrorBody>(missing)).error.code).toBe("UNKNOWN_DATASET");
  });

  it("serves health and readiness", async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });
});

describe("query service with one statement at a time", () => {
  let lake: TestLake;
  let service: QueryService;

  beforeAll(async () => {
    lake = await createTestLake([click(1)]);
    service = createQueryService({
      config: loadConfig({
        INLET_LAKE_DIR: lake.dir,
        INLET_QUERY_PORT: "0",
        INLET_QUERY_HOST: "127.0.0.1",
        INLET_QUERY_MAX_CONCURRENT: "1",
        INLET_QUERY_TIMEOUT_MS: "20s",
      }),
      logger: createLogger({ service: "query", level: "silent" }),
    });
    await service.start();
  });
  afterAll(async () => {
    await service?.stop();
    await lake?.remove();
  });

  const post = (sql: string, signal?: AbortSignal) =>
    fetch(`${service.url}/v1/query`, { method: "POST", body: JSON.stringify({ sql }), signal });

  it("answers 503 with Retry-After while the slot is taken, and frees it when the client goes away", async () => {
    const client = new AbortController();
    const slow = post(SLOW, client.signal).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const busy = await post("SELECT 1");
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
    expect((await json<ErrorBody>(busy)).error.code).toBe("BUSY");

    client.abort();
    expect(await slow).toBeInstanceOf(Error);
    // Without the interrupt the slow statement would hold the only slot for 20 s.
    const started = Date.now();
    let status = 0;
    while (Date.now() - started < 5000) {
      status = (await post("SELECT 1")).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
  });
});
