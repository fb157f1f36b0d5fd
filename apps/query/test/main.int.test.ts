import { fileURLToPath } from "node:url";
import { click, createTestLake, type TestLake } from "@inlet/lake/testing";
import { freePort, startProcess } from "@inlet/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

describe("query service process", () => {
  let lake: TestLake;

  beforeAll(async () => {
    lake = await createTestLake([click(1), click(2)]);
  });
  afterAll(async () => {
    await lake?.remove();
  });

  it("exits 1 listing every bad setting", async () => {
    const child = await startProcess("query", {
      command: process.execPath,
      args: [MAIN],
      env: { INLET_QUERY_PORT: "http", INLET_QUERY_MAX_ROWS: "-5" },
    });
    expect(await child.exited).toEqual({ code: 1, signal: null });
    expect(child.logs()).toContain('INLET_QUERY_PORT: expected a TCP port (0-65535), got "http"');
    expect(child.logs()).toContain("INLET_QUERY_MAX_ROWS: expected an integer");
  });

  it("serves queries, then stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const child = await startProcess("query", {
      command: process.execPath,
      args: [MAIN],
      env: { INLET_LAKE_DIR: lake.dir, INLET_QUERY_PORT: String(port), INLET_QUERY_HOST: "127.0.0.1" },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    try {
      await child.waitReady();
      const response = await fetch(`${child.url}/v1/query`, {
        method: "POST",
        body: JSON.stringify({ sql: "SELECT count(*) AS n FROM clicks" }),
      });
      expect(((await response.json()) as { rows: unknown[] }).rows).toEqual([{ n: 2 }]);
      const metrics = await (await fetch(`${child.url}/metrics`)).text();
      expect(metrics).toMatch(/inlet_query_statements_total\{[^}]*outcome="ok"[^}]*\} 1/);
    } finally {
      expect(await child.stop()).toEqual({ code: 0, signal: null });
    }
    expect(child.logs()).toContain('"msg":"service stopped"');
  });
});
