import { describe, expect, it } from "vitest";
import { freePort } from "../src/free-port.js";
import { startProcess } from "../src/managed-process.js";

// A tiny HTTP service: logs a line, answers 200 on /ready once it listens.
const SERVICE = `
const http = require("node:http");
console.log("booting");
http.createServer((req, res) => res.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => { console.log("bye"); process.exit(0); });
`;

describe("startProcess", () => {
  it("waits until the ready URL answers, keeps the output, and stops on SIGTERM", async () => {
    const port = await freePort();
    const proc = await startProcess("svc", {
      command: process.execPath,
      args: ["-e", SERVICE],
      env: { PORT: String(port) },
      readyUrl: `http://127.0.0.1:${port}/ready`,
      readyTimeoutMs: 10_000,
    });
    await proc.waitReady();
    expect(proc.url).toBe(`http://127.0.0.1:${port}`);
    expect(proc.logs()).toContain("booting");

    const status = await proc.stop();

    expect(status).toEqual({ code: 0, signal: null });
    expect(proc.logs()).toContain("bye");
  });

  it("kills a process that ignores SIGTERM after the stop timeout", async () => {
    const proc = await startProcess("stubborn", {
      command: process.execPath,
      args: ["-e", `process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000);`],
      stopTimeoutMs: 300,
    });
    await expect.poll(() => proc.logs()).toContain("up");

    const status = await proc.stop();

    expect(status.signal).toBe("SIGKILL");
  });

  it("fails waitReady with the logs when the process exits first", async () => {
    const port = await freePort();
    const proc = await startProcess("crashy", {
      command: process.execPath,
      args: ["-e", `console.error("missing config INLET_X"); process.exit(3);`],
      readyUrl: `http://127.0.0.1:${port}/ready`,
    });
    await expect(proc.waitReady()).rejects.toThrow(/code 3[\s\S]*missing config INLET_X/);
  });

  it("rejects when the command does not exist", async () => {
    await expect(startProcess("ghost", { command: "/nonexistent/bin" })).rejects.toMatchObject({
      code: "START_FAILED",
    });
  });
});
