import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { click, createTestLake, type TestLake } from "@inlet/lake/testing";
import { newAccessToken } from "@inlet/runtime";
import { createLogger } from "@inlet/telemetry";
import { findRepoRoot, waitFor } from "@inlet/testing";
import { Browser } from "happy-dom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { CONSOLE_SCRIPT_PATH } from "../src/console/console-routes.js";
import { createQueryService, type QueryService } from "../src/service.js";

describe("the web console", () => {
  let lake: TestLake;
  let service: QueryService;
  let browser: Browser;

  beforeAll(async () => {
    lake = await createTestLake([click(1), click(2), click(3, "<b>bold</b>")]);
    service = createQueryService({
      config: loadConfig({
        INLET_LAKE_DIR: lake.dir,
        INLET_QUERY_PORT: "0",
        INLET_QUERY_HOST: "127.0.0.1",
        INLET_CONFIG_DIR: join(findRepoRoot() ?? ".", "config"),
      }),
      logger: createLogger({ service: "query", level: "silent" }),
    });
    await service.start();
    // happy-dom runs no script unless told to: this page's is the code under test.
    browser = new Browser({
      settings: {
        enableJavaScriptEvaluation: true,
        disableJavaScriptFileLoading: false,
        // Only the service under test's own page and script run in it.
        suppressInsecureJavaScriptEnvironmentWarning: true,
      },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await lake?.remove();
  });

  it("serves the page and its script under a policy that allows only this origin", async () => {
    for (const path of ["/", "/console"]) {
      const page = await fetch(`${service.url}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await page.text()).toContain(`<script type="module" src="${CONSOLE_SCRIPT_PATH}">`);
    }
    const script = await fetch(`${service.url}${CONSOLE_SCRIPT_PATH}`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await script.text()).toContain("function startConsole()");
  });

  it("runs in a browser: lists the datasets and answers SQL typed into it", async () => {
    const page = browser.newPage();
    // Not waitUntilComplete(): the console polls for as long as it is open.
    await page.goto(`${service.url}/`);
    const document = page.mainFrame.document;
    await waitFor(() => document.querySelector('[data-dataset="clicks"]') !== null, {
      timeoutMs: 10_000,
      message: "the datasets table shows clicks",
    });
    const row = document.querySelector('[data-dataset="clicks"]')!;
    expect(row.querySelectorAll("td")[1]?.textContent).toBe("3");
    // With no statement typed yet, the first dataset's newest rows are offered.
    const sql = document.getElementById("sql") as unknown as { value: string };
    expect(sql.value).toContain("FROM clicks");

    sql.value = "SELECT note FROM clicks WHERE note IS NOT NULL";
    (document.getElementById("run") as unknown as { click(): void }).click();
    await waitFor(() => document.querySelector("#result table") !== null, { timeoutMs: 10_000 });
    const result = document.getElementById("result")!;
    expect(result.textContent).toContain("1 row in");
    // The value is shown as text, not parsed as markup.
    expect(result.querySelector("td")?.textContent).toBe("<b>bold</b>");
    expect(result.querySelector("b")).toBeNull();

    sql.value = "SELECT nope FROM clicks";
    (document.getElementById("run") as unknown as { click(): void }).click();
    await waitFor(() => document.querySelector("#result .error") !== null, { timeoutMs: 10_000 });
    expect(document.querySelector("#result .error")?.textContent).toMatch(/^QUERY_FAILED: .*nope/);
    await page.close();
  });

  it("with a token file, asks for a token once and sends it with every call; the page itself is open", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inlet-tokens-"));
    const analyst = newAccessToken();
    const ingest = newAccessToken();
    await writeFile(
      join(dir, "tokens.json"),
      JSON.stringify([
        { name: "analyst", sha256: analyst.sha256, datasets: "*" },
        { name: "pos", sha256: ingest.sha256, datasets: ["clicks"] },
      ]),
    );
    const guarded = createQueryService({
      config: loadConfig({
        INLET_LAKE_DIR: lake.dir,
        INLET_QUERY_PORT: "0",
        INLET_QUERY_HOST: "127.0.0.1",
        INLET_CONFIG_DIR: join(findRepoRoot() ?? ".", "config"),
        INLET_QUERY_TOKENS_FILE: join(dir, "tokens.json"),
      }),
      logger: createLogger({ service: "query", level: "silent" }),
    });
    await guarded.start();
    try {
      const query = (authorization?: string) =>
        fetch(`${guarded.url}/v1/query`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
          body: JSON.stringify({ sql: "SELECT count(*)::INTEGER AS n FROM clicks" }),
        });
      const missing = await query();
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="inlet"');
      expect((await fetch(`${guarded.url}/v1/datasets`)).status).toBe(401);
      // Any SQL may read any dataset: a token limited to some cannot query.
      const limited = await query(`Bearer ${ingest.token}`);
      expect(limited.status).toBe(403);
      expect(((await limited.json()) as { error: { message: string } }).error.message).toContain(
        'token "pos" does not cover every dataset ("*")',
      );
      const ok = await query(`Bearer ${analyst.token}`);
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { rows: unknown[] }).rows).toEqual([{ n: 3 }]);
      expect((await fetch(`${guarded.url}/`)).status).toBe(200);
      expect((await fetch(`${guarded.url}${CONSOLE_SCRIPT_PATH}`)).status).toBe(200);

      // Dismissed, the question is not asked again by the polls; running a statement asks again,
      // and the token is then kept for the tab and sent with every call.
      const page = browser.newPage();
      await page.goto(`${guarded.url}/`);
      const window = page.mainFrame.window as unknown as { prompt(message: string): string | null };
      const asked: string[] = [];
      let answer: string | null = null;
      window.prompt = (message) => {
        asked.push(message);
        return answer;
      };
      const document = page.mainFrame.document;
      await waitFor(() => asked.length === 1, { timeoutMs: 10_000, message: "the console asks for a token" });
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(asked).toHaveLength(1);
      answer = analyst.token;
      (document.getElementById("sql") as unknown as { value: string }).value = "SELECT 1 AS one";
      (document.getElementById("run") as unknown as { click(): void }).click();
      await waitFor(() => document.querySelector("#result table") !== null, { timeoutMs: 10_000 });
      await waitFor(() => document.querySelector('[data-dataset="clicks"]') !== null, {
        timeoutMs: 10_000,
        message: "the datasets table shows clicks",
      });
      expect(asked).toEqual([
        "This Inlet query service needs an access token (inlet token new):",
        "This Inlet query service needs an access token (inlet token new):",
      ]);
      expect(page.mainFrame.window.sessionStorage.getItem("inlet-token")).toBe(analyst.token);
      await page.close();
    } finally {
      await guarded.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
