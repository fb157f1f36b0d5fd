import { join } from "node:path";
import { click, createTestLake, type TestLake } from "@inlet/lake/testing";
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
});
