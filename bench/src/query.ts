import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { ServiceName, serviceNodeFlags } from "@inlet/dev";
import { commitDelta, type DeltaAction } from "@inlet/lake";
import { freePort, startProcess } from "@inlet/testing";
import { count, type Phase } from "./progress.js";
import { QueryClient } from "./query-client.js";
import { sqlString } from "./sql.js";

/** The query figures: one group-by through the API and in-process, and a large JSON result. */
export interface QueryResult {
  rows: number;
  files: number;
  bytes: number;
  groupBySql: string;
  /** Median of the timed runs, ms. */
  apiMs: number;
  duckdbMs: number;
  apiRunsMs: number[];
  duckdbRunsMs: number[];
  jsonRows: number;
  jsonBytes: number;
  jsonMs: number;
  jsonRowsPerS: number;
}

/** The table's name in the lake (a dataset of the query service). */
export const QUERY_TABLE = "bench_clicks";
const ROWS_PER_FILE = 1_000_000;
const DAYS = 5;
const RUNS = 5;
const JSON_ROWS = 100_000;

const COUNTRIES = ["DE", "US", "FR", "GB", "NL", "ES", "IT", "SE", "PL", "BR", "JP"];
const PAGES = ["/", "/search", "/cart", "/checkout", "/account", "/help", "/blog/streaming-101", "/pricing"];
const REFERRERS = [
  "https://www.google.com/",
  "https://duckduckgo.com/",
  "https://news.ycombinator.com/",
  "https://www.reddit.com/r/dataengineering/",
  "https://t.co/",
  "https://www.linkedin.com/feed/",
];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];

/** The curated columns of clicks, as the lake-writer writes them (Delta types). */
const FIELDS: [string, string][] = [
  ["ts", "timestamp"],
  ["user_id", "string"],
  ["session_id", "string"],
  ["page", "string"],
  ["referrer", "string"],
  ["country", "string"],
  ["device", "string"],
  ["user_agent", "string"],
  ["duration_ms", "integer"],
  ["_event_id", "string"],
  ["_ingested_at", "timestamp"],
  ["_trace_id", "string"],
  ["_schema_version", "integer"],
  ["event_date", "date"],
];

const list = (values: readonly string[]) => `[${values.map(sqlString).join(", ")}]`;
const pick = (values: readonly string[], salt: number) =>
  `list_extract(${list(values)}, (hash(i * ${salt}) % ${values.length})::INTEGER + 1)`;

/**
 * Writes a clicks-shaped curated table of `rows` rows into a temporary lake (ZSTD Parquet, 1M rows a
 * file, five daily partitions, one Delta commit), starts the query service alone over it, and times
 * a group-by through `POST /v1/query` against the same statement in an in-process DuckDB reading the
 * same files (median of five runs each, interleaved, after a warm-up), then a 100k-row JSON result.
 */
export async function measureQuery(
  rootDir: string,
  rows: number,
  phase: Phase,
  options: { profileDir?: string; env?: Record<string, string> } = {},
): Promise<QueryResult> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-bench-query-"));
  const lakeDir = join(dir, "lake");
  const tableDir = join(lakeDir, "curated", QUERY_TABLE);
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const files = await writeTable(conn, tableDir, rows, phase);
    const bytes = files.reduce((n, f) => n + f.size, 0);

    phase.update("starting the query service");
    const port = await freePort();
    if (options.profileDir !== undefined) await mkdir(options.profileDir, { recursive: true });
    const service = await startProcess("query", {
      command: process.execPath,
      args: [...serviceNodeFlags(ServiceName.Query), join(rootDir, "apps", "query", "dist", "main.js")],
      cwd: rootDir,
      env: {
        INLET_LAKE_DIR: lakeDir,
        INLET_QUERY_PORT: String(port),
        INLET_QUERY_HOST: "127.0.0.1",
        INLET_QUERY_MAX_ROWS: String(JSON_ROWS),
        INLET_LOG_LEVEL: "warn",
        ...(options.profileDir === undefined
          ? {}
          : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${options.profileDir}` }),
        ...options.env,
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 60_000,
    });
    const api = new QueryClient(`http://127.0.0.1:${port}`);
    try {
      await service.waitReady();
      const groupBy = (from: string) =>
        `SELECT country, device, count(*) AS n, avg(duration_ms) AS avg_duration_ms FROM ${from} ` +
        "GROUP BY country, device ORDER BY country, device";
      const inProcess = groupBy(
        `read_parquet([${files.map((f) => sqlString(join(tableDir, f.path))).join(", ")}])`,
      );
      const viaApi = groupBy(QUERY_TABLE);

      const timeDuck = async () => {
        const started = performance.now();
        const reader = await conn.runAndReadAll(inProcess);
        const ms = performance.now() - started;
        if (reader.getRows().length === 0) throw new Error("the in-process group-by returned no rows");
        return ms;
      };
      const timeApi = async () => {
        const answer = await api.query(viaApi);
        if (answer.status !== 200) {
          throw new Error(`the group-by answered ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
        }
        return answer.ms;
      };
      phase.update("group-by: warm-up");
      await timeDuck();
      await timeApi();
      const duckdbRunsMs: number[] = [];
      const apiRunsMs: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        phase.update(`group-by over ${count(rows)} rows: run ${r + 1}/${RUNS}`);
        duckdbRunsMs.push(await timeDuck());
        apiRunsMs.push(await timeApi());
      }

      const jsonSql = `SELECT * FROM ${QUERY_TABLE} LIMIT ${JSON_ROWS}`;
      phase.update("100k-row JSON: warm-up");
      const first = await api.query(jsonSql, "json");
      const firstText = first.body.toString("utf8");
      if (first.status !== 200)
        throw new Error(`the JSON query answered ${first.status}: ${firstText.slice(0, 300)}`);
      const jsonRows = (JSON.parse(firstText) as { rows: unknown[] }).rows.length;
      const jsonRunsMs: number[] = [];
      for (let r = 0; r < 3; r++) {
        phase.update(`100k-row JSON: run ${r + 1}/3`);
        jsonRunsMs.push((await api.query(jsonSql, "json")).ms);
      }
      const jsonMs = median(jsonRunsMs);
      return {
        rows,
        files: files.length,
        bytes,
        groupBySql: viaApi,
        apiMs: round1(median(apiRunsMs)),
        duckdbMs: round1(median(duckdbRunsMs)),
        apiRunsMs: apiRunsMs.map(round1),
        duckdbRunsMs: duckdbRunsMs.map(round1),
        jsonRows,
        jsonBytes: first.body.byteLength,
        jsonMs: round1(jsonMs),
        jsonRowsPerS: Math.round(jsonRows / (jsonMs / 1000)),
      };
    } finally {
      api.close();
      await service.stop();
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

interface WrittenFile {
  path: string;
  date: string;
  rows: number;
  size: number;
}

// One COPY per file from range(); then a single Delta commit adding them all.
async function writeTable(
  conn: Awaited<ReturnType<DuckDBInstance["connect"]>>,
  tableDir: string,
  rows: number,
  phase: Phase,
): Promise<WrittenFile[]> {
  const fileCount = Math.max(1, Math.ceil(rows / ROWS_PER_FILE));
  const day0 = Math.floor(Date.now() / 86_400_000) - DAYS;
  const files: WrittenFile[] = [];
  for (let f = 0; f < fileCount; f++) {
    const start = f * ROWS_PER_FILE;
    const end = Math.min(rows, start + ROWS_PER_FILE);
    const day = day0 + (f % DAYS);
    const date = new Date(day * 86_400_000).toISOString().slice(0, 10);
    const path = `event_date=${date}/part-${String(f).padStart(5, "0")}.parquet`;
    await mkdir(join(tableDir, `event_date=${date}`), { recursive: true });
    phase.update(`writing ${count(rows)} rows: file ${f + 1}/${fileCount}`);
    const dayMs = day * 86_400_000;
    await conn.run(
      `COPY (SELECT
         make_timestamptz((${dayMs} + (i % 86400000)) * 1000) AS ts,
         'u-' || lpad(((hash(i * 3) % 20000) + 1)::VARCHAR, 6, '0') AS user_id,
         's-' || substr(md5(i::VARCHAR), 1, 16) AS session_id,
         CASE WHEN hash(i * 5) % 10 < 4 THEN '/products/' || ((hash(i * 7) % 5000) + 1)::VARCHAR ELSE ${pick(PAGES, 11)} END AS page,
         CASE WHEN hash(i * 13) % 10 < 4 THEN NULL ELSE ${pick(REFERRERS, 17)} END AS referrer,
         ${pick(COUNTRIES, 19)} AS country,
         ${pick(["desktop", "mobile", "tablet"], 23)} AS device,
         ${pick(AGENTS, 29)} AS user_agent,
         ((hash(i * 31) % 600000) + 1)::INTEGER AS duration_ms,
         gen_random_uuid()::VARCHAR AS _event_id,
         make_timestamptz((${dayMs} + (i % 86400000) + 500) * 1000) AS _ingested_at,
         md5((i // 1000)::VARCHAR) AS _trace_id,
         1::INTEGER AS _schema_version
       FROM range(${start}, ${end}) t(i))
       TO ${sqlString(join(tableDir, path))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    files.push({ path, date, rows: end - start, size: (await stat(join(tableDir, path))).size });
  }
  const now = Date.now();
  const actions: DeltaAction[] = [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: crypto.randomUUID(),
        name: QUERY_TABLE,
        format: { provider: "parquet", options: {} },
        schemaString: JSON.stringify({
          type: "struct",
          fields: FIELDS.map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
        }),
        partitionColumns: ["event_date"],
        configuration: {},
        createdTime: now,
      },
    },
    ...files.map(
      (f): DeltaAction => ({
        add: {
          path: f.path,
          partitionValues: { event_date: f.date },
          size: f.size,
          modificationTime: now,
          dataChange: true,
          stats: { numRecords: f.rows },
        },
      }),
    ),
    { commitInfo: { timestamp: now, operation: "WRITE", engineInfo: "inlet-bench" } },
  ];
  await commitDelta(tableDir, 0, actions);
  return files;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
