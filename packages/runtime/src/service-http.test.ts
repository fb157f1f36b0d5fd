import { request } from "node:http";
import { Writable } from "node:stream";
import { createLogger, initMetrics, type Metrics } from "@inlet/telemetry";
import { afterEach, describe, expect, it } from "vitest";
import { HttpError } from "./http-error.js";
import { sendJson } from "./json-response.js";
import { readBody, readJson } from "./read-body.js";
import type { Route } from "./router.js";
import { createServiceHttp, type ServiceHttp, type ServiceHttpOptions } from "./service-http.js";

const open: ServiceHttp[] = [];
let metrics: Metrics | undefined;
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await metrics?.shutdown();
  metrics = undefined;
});

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line !== "") lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: createLogger({ service: "test", destination: stream }), lines };
}

async function start(options: Partial<ServiceHttpOptions> = {}): Promise<ServiceHttp> {
  const http = await createServiceHttp({
    port: 0,
    host: "127.0.0.1",
    ready: () => true,
    logger: createLogger({ service: "test", level: "silent" }),
    ...options,
  });
  open.push(http);
  return http;
}

/** Sends a body in chunks without a Content-Length (chunked transfer), as a streaming client does. */
function postChunked(url: string, chunks: Buffer[]): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

const echo: Route = {
  method: "POST",
  path: "/v1/events/:dataset",
  handler: async (req, res, params) => {
    const body = await readJson(req, { limitBytes: 1000 });
    sendJson(res, 200, { dataset: params.dataset, body });
  },
};

describe("createServiceHttp built-in endpoints", () => {
  it("answers /healthz with 200 ok", async () => {
    const http = await start();
    const res = await fetch(`${http.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("answers /readyz from ready(): 200, then 503 with a reason once not ready", async () => {
    let state: boolean | Error = true;
    const http = await start({
      ready: async () => {
        if (state instanceof Error) throw state;
        return state;
      },
    });
    expect((await fetch(`${http.url}/readyz`)).status).toBe(200);
    state = false;
    const notReady = await fetch(`${http.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: "not ready", reason: "service is not ready" });
    state = new Error("nats disconnected");
    expect(await (await fetch(`${http.url}/readyz`)).json()).toEqual({
      status: "not ready",
      reason: "nats disconnected",
    });
  });

  it("serves /metrics from the metrics handler, and a JSON 404 without one", async () => {
    metrics = initMetrics("test");
    metrics.meter.createCounter("inlet.requests").add(2);
    const withMetrics = await start({ metricsHandler: metrics.handler });
    const res = await fetch(`${withMetrics.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("inlet_requests_total 2");

    const without = await start();
    const missing = await fetch(`${without.url}/metrics`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { code: "NOT_FOUND", message: "this service exports no metrics" },
    });
  });
});

describe("createServiceHttp routing", () => {
  it("answers an unknown path with a JSON 404", async () => {
    const http = await start();
    const res = await fetch(`${http.url}/nope?x=1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "no route for GET /nope" } });
  });

  it("answers a known path with the wrong method with 405 and Allow", async () => {
    const http = await start({ routes: [echo] });
    const res = await fetch(`${http.url}/v1/events/clicks`, { method: "PUT", body: "{}" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
  });

  it("passes decoded path parameters and the query string is ignored for matching", async () => {
    const http = await start({ routes: [echo] });
    const res = await fetch(`${http.url}/v1/events/sensor%5Freadings?sync=1`, {
      method: "POST",
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ dataset: "sensor_readings", body: { a: 1 } });
    expect((await fetch(`${http.url}/v1/events/`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await fetch(`${http.url}/v1/events/a/b`, { method: "POST", body: "{}" })).status).toBe(404);
    const bad = await fetch(`${http.url}/v1/events/%E0%A4%A`, { method: "POST", body: "{}" });
    expect(bad.status).toBe(400);
  });

  it("matches a trailing /* route with the rest of the path", async () => {
    const http = await start({
      routes: [
        { method: "GET", path: "/console/*", handler: (_req, res, params) => sendJson(res, 200, params) },
      ],
    });
    expect(await (await fetch(`${http.url}/console/assets/app.js`)).json()).toEqual({ "*": "assets/app.js" });
    expect((await fetch(`${http.url}/console`)).status).toBe(404);
  });

  it("answers a thrown HttpError with its status, code, message and headers", async () => {
    const http = await start({
      routes: [
        {
          method: "GET",
          path: "/busy",
          handler: () => {
            throw new HttpError(503, "BACKPRESSURE", "stream INGEST is full; retry later", {
              headers: { "retry-after": "1" },
            });
          },
        },
      ],
    });
    const res = await fetch(`${http.url}/busy`);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({
      error: { code: "BACKPRESSURE", message: "stream INGEST is full; retry later" },
    });
  });

  it("answers an unexpected failure with a 500 that hides the message, and logs it with its cause", async () => {
    const { logger, lines } = captureLogger();
    const http = await start({
      logger,
      routes: [
        {
          method: "GET",
          path: "/crash",
          handler: async () => {
            throw new Error("secret internals", { cause: new Error("root cause") });
          },
        },
      ],
    });
    const res = await fetch(`${http.url}/crash`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    const line = lines.find((l) => l.msg === "request failed");
    expect(line).toMatchObject({ level: "error", url: "/crash", err: { message: "secret internals" } });
    expect(line).toMatchObject({ err: { cause: { message: "root cause" } } });
  });
});

describe("request bodies", () => {
  it("refuses a declared Content-Length over maxBodyBytes with 413 before the route runs", async () => {
    let ran = false;
    const http = await start({
      maxBodyBytes: 100,
      routes: [
        {
          method: "POST",
          path: "/in",
          handler: (_req, res) => {
            ran = true;
            sendJson(res, 200, {});
          },
        },
      ],
    });
    const res = await fetch(`${http.url}/in`, { method: "POST", body: "x".repeat(101) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(ran).toBe(false);
    expect((await fetch(`${http.url}/in`, { method: "POST", body: "x".repeat(100) })).status).toBe(200);
  });

  it("refuses a chunked body once the bytes received pass readBody's limit", async () => {
    const http = await start({ routes: [echo] });
    const res = await postChunked(`${http.url}/v1/events/clicks`, [
      Buffer.alloc(600, 0x20),
      Buffer.alloc(600, 0x20),
    ]);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      error: {
        code: "PAYLOAD_TOO_LARGE",
        message: "request body is larger than 1000 bytes; send smaller batches",
      },
    });
    const ok = await postChunked(`${http.url}/v1/events/clicks`, [Buffer.from('{"a":'), Buffer.from("2}")]);
    expect(ok).toEqual({ status: 200, body: { dataset: "clicks", body: { a: 2 } } });
  });

  it("answers a body that is not JSON with 400 INVALID_JSON", async () => {
    const http = await start({ routes: [echo] });
    const res = await fetch(`${http.url}/v1/events/clicks`, { method: "POST", body: "{nope" });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("INVALID_JSON");
    expect(error.message).toMatch(/^request body is not valid JSON: /);
  });

  it("reads a body of exactly the limit, across many chunks", async () => {
    const http = await start({
      routes: [
        {
          method: "POST",
          path: "/raw",
          handler: async (req, res) =>
            sendJson(res, 200, { bytes: (await readBody(req, { limitBytes: 4096 })).length }),
        },
      ],
    });
    const chunks = Array.from({ length: 16 }, () => Buffer.alloc(256, 0x61));
    expect(await postChunked(`${http.url}/raw`, chunks)).toEqual({ status: 200, body: { bytes: 4096 } });
  });
});

describe("close", () => {
  it("lets a request in flight finish, then refuses new connections", async () => {
    let release: () => void = () => {};
    const started = new Promise<void>((resolveStarted) => {
      release = resolveStarted;
    });
    let finish: () => void = () => {};
    const http = await start({
      routes: [
        {
          method: "GET",
          path: "/slow",
          handler: async (_req, res) => {
            release();
            await new Promise<void>((resolve) => {
              finish = resolve;
            });
            sendJson(res, 200, { done: true });
          },
        },
      ],
    });
    const pending = fetch(`${http.url}/slow`);
    await started;
    const closed = http.close();
    finish();
    const res = await pending;
    expect(await res.json()).toEqual({ done: true });
    await closed;
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow();
  });

  it("fails to start when the port is taken", async () => {
    const first = await start();
    await expect(start({ port: first.port })).rejects.toMatchObject({ code: "EADDRINUSE" });
  });
});
