import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { click, createTestLake, type TestLake } from "@inlet/lake/testing";
import { newAccessToken } from "@inlet/runtime";
import { freePort, type ManagedProcess, startProcess } from "@inlet/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inlet } from "./run-inlet.js";

const QUERY_SERVICE = fileURLToPath(new URL("../../../apps/query/dist/main.js", import.meta.url));

describe("inlet", () => {
  let lake: TestLake;

  beforeAll(async () => {
    lake = await createTestLake([click(1), click(2, "two\nlines"), click(3, 'a "quote"'), click(12345)]);
  });
  afterAll(async () => {
    await lake?.remove();
  });

  describe("sql", () => {
    it("prints a table like DuckDB's CLI", async () => {
      const run = await inlet([
        "sql",
        "--lake",
        lake.dir,
        "SELECT user_id, views, note FROM clicks ORDER BY views",
      ]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(
        [
          "┌─────────┬────────┬────────────┐",
          "│ user_id │ views  │    note    │",
          "│ varchar │ bigint │  varchar   │",
          "├─────────┼────────┼────────────┤",
          "│ u1      │      1 │ NULL       │",
          "│ u2      │      2 │ two\\nlines │",
          '│ u3      │      3 │ a "quote"  │',
          "│ u12345  │  12345 │ NULL       │",
          "└─────────┴────────┴────────────┘",
          "",
        ].join("\n"),
      );
    });

    it("prints JSON, NDJSON and CSV", async () => {
      const sql = "SELECT views, note FROM clicks WHERE views < 4 ORDER BY views";
      const json = await inlet(["sql", "--lake", lake.dir, "--format", "json", sql]);
      expect(JSON.parse(json.stdout)).toMatchObject({
        columns: [
          { name: "views", type: "BIGINT" },
          { name: "note", type: "VARCHAR" },
        ],
        rows: [
          { views: 1, note: null },
          { views: 2, note: "two\nlines" },
          { views: 3, note: 'a "quote"' },
        ],
        rowCount: 3,
        truncated: false,
      });
      const ndjson = await inlet(["sql", "--lake", lake.dir, "-f", "ndjson", sql]);
      expect(
        ndjson.stdout
          .trimEnd()
          .split("\n")
          .map((line) => JSON.parse(line).views),
      ).toEqual([1, 2, 3]);
      const csv = await inlet(["sql", "--lake", lake.dir, "--format", "csv", sql]);
      expect(csv.stdout).toBe('views,note\n1,\n2,"two\nlines"\n3,"a ""quote"""\n');
    });

    it("reads the SQL from stdin and the lake from INLET_LAKE_DIR", async () => {
      const run = await inlet(["sql", "-f", "csv"], {
        stdin: "SELECT count(*) AS n FROM clicks",
        env: { INLET_LAKE_DIR: lake.dir },
      });
      expect(run.stdout).toBe("n\n4\n");
    });

    it("cuts the result at --max-rows and says so on stderr", async () => {
      const run = await inlet(["sql", "--lake", lake.dir, "--max-rows", "2", "-f", "csv", "FROM range(10)"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("range\n0\n1\n");
      expect(run.stderr).toContain("only the first 2 rows are shown");
    });

    it("refuses anything but one SELECT and exits 1", async () => {
      const copy = await inlet(["sql", "--lake", lake.dir, `COPY clicks TO '${join(lake.dir, "out.csv")}'`]);
      expect(copy.code).toBe(1);
      expect(copy.stdout).toBe("");
      expect(copy.stderr).toBe("inlet: only a single SELECT statement is allowed (got COPY)\n");
    });

    it("cannot read files outside the lake", async () => {
      const run = await inlet(["sql", "--lake", lake.dir, "SELECT * FROM read_csv('/etc/passwd')"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('Permission Error: Cannot access file "/etc/passwd"');
    });

    it("stops a statement at --timeout-ms", async () => {
      const slow = "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = 7";
      const run = await inlet(["sql", "--lake", lake.dir, "--timeout-ms", "300", slow]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        "inlet: the statement ran longer than the time limit (300 ms) and was stopped\n",
      );
    });

    it("names a missing lake directory", async () => {
      const run = await inlet(["sql", "--lake", join(lake.dir, "nope"), "SELECT 1"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `inlet: the lake directory ${join(lake.dir, "nope")} does not exist (set --lake or INLET_LAKE_DIR)\n`,
      );
    });
  });

  it("exits 2 with a hint on a usage error", async () => {
    const unknown = await inlet(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'inlet: unknown command "frobnicate"; expected one of sql, query, datasets, history, compact, vacuum, checkpoint, dlq, token\nrun `inlet --help` for usage\n',
    );
    const format = await inlet(["sql", "--lake", lake.dir, "--format", "xml", "SELECT 1"]);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--format must be one of table, json, ndjson, csv, got "xml"');
    const option = await inlet(["sql", "--nope"]);
    expect(option.code).toBe(2);
  });

  it("prints usage for --help", async () => {
    const run = await inlet(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: inlet <command> \[options\]/);
  });

  it("lists datasets from a lake directory", async () => {
    const run = await inlet(["datasets", "--lake", lake.dir, "--format", "json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject([{ name: "clicks", version: 0, files: 1, rows: 4 }]);
    const table = await inlet(["datasets", "--lake", lake.dir]);
    expect(table.stdout.split("\n")[1]).toMatch(
      /│\s+name\s+│\s+version\s+│\s+files\s+│\s+rows\s+│\s+size\s+│/,
    );
    expect(table.stdout).toMatch(/│ clicks {2}│\s+0 │\s+1 │\s+4 │ [\d.]+ kB\s+│ 2024-05-01T15:25:45.007Z │/);
  });

  describe("against the query service", () => {
    let service: ManagedProcess;

    beforeAll(async () => {
      const port = await freePort();
      service = await startProcess("query", {
        command: process.execPath,
        args: [QUERY_SERVICE],
        env: {
          INLET_LAKE_DIR: lake.dir,
          INLET_QUERY_PORT: String(port),
          INLET_QUERY_HOST: "127.0.0.1",
          INLET_LOG_LEVEL: "warn",
        },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
      });
      await service.waitReady();
    });
    afterAll(async () => {
      await service?.stop();
    });

    it("prints a query's answer as a table, keeping BIGINTs exact", async () => {
      const run = await inlet([
        "query",
        "--url",
        service.url ?? "",
        "SELECT views, 9007199254740993::BIGINT AS big FROM clicks WHERE views = 1",
      ]);
      expect(run.stderr).toBe("");
      expect(run.stdout).toBe(
        [
          "┌────────┬──────────────────┐",
          "│ views  │       big        │",
          "│ bigint │      bigint      │",
          "├────────┼──────────────────┤",
          "│      1 │ 9007199254740993 │",
          "└────────┴──────────────────┘",
          "",
        ].join("\n"),
      );
    });

    it("streams CSV from the service", async () => {
      const run = await inlet(["query", "-f", "csv", "SELECT views FROM clicks ORDER BY views"], {
        env: { INLET_QUERY_URL: service.url ?? "" },
      });
      expect(run.stdout).toBe("views\n1\n2\n3\n12345\n");
    });

    it("shows the service's refusal and exits 1", async () => {
      const run = await inlet(["query", "--url", service.url ?? "", "DROP VIEW clicks"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe("inlet: only a single SELECT statement is allowed (got DROP) (HTTP 400)\n");
    });

    it("lists datasets from the service", async () => {
      const run = await inlet(["datasets", "--url", service.url ?? "", "--format", "json"]);
      expect(JSON.parse(run.stdout)).toMatchObject([{ name: "clicks", rows: 4 }]);
    });

    it("says when the service cannot be reached", async () => {
      const run = await inlet(["query", "--url", `http://127.0.0.1:${await freePort()}`, "SELECT 1"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("is the query service running?");
    });
  });

  describe("against a query service that requires a token", () => {
    let service: ManagedProcess;
    let dir: string;
    const analyst = newAccessToken();

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "inlet-tokens-"));
      await writeFile(
        join(dir, "tokens.json"),
        JSON.stringify([{ name: "analyst", sha256: analyst.sha256, datasets: "*" }]),
      );
      const port = await freePort();
      service = await startProcess("query", {
        command: process.execPath,
        args: [QUERY_SERVICE],
        env: {
          INLET_LAKE_DIR: lake.dir,
          INLET_QUERY_PORT: String(port),
          INLET_QUERY_HOST: "127.0.0.1",
          INLET_LOG_LEVEL: "warn",
          INLET_QUERY_TOKENS_FILE: join(dir, "tokens.json"),
        },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
      });
      await service.waitReady();
    });
    afterAll(async () => {
      await service?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("sends the token from --token or INLET_QUERY_TOKEN, and says how when it has none", async () => {
      const url = service.url ?? "";
      const without = await inlet(["query", "--url", url, "SELECT 1 AS one"]);
      expect(without.code).toBe(1);
      expect(without.stderr).toBe(
        `inlet: ${url}/v1/query needs an access token: set INLET_QUERY_TOKEN or pass --token (HTTP 401)\n`,
      );
      const flag = await inlet([
        "query",
        "--url",
        url,
        "--token",
        analyst.token,
        "-f",
        "csv",
        "SELECT 1 AS one",
      ]);
      expect(flag.stdout).toBe("one\n1\n");
      const env = await inlet(["datasets", "--url", url, "--format", "json"], {
        env: { INLET_QUERY_TOKEN: analyst.token },
      });
      expect(JSON.parse(env.stdout)).toMatchObject([{ name: "clicks", rows: 4 }]);
    });
  });
});
