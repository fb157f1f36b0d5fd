import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@inlet/telemetry";
import { HttpError, HttpErrorCode } from "./http-error.js";
import { sendError, sendJson } from "./json-response.js";
import { DEFAULT_MAX_BODY_BYTES, payloadTooLarge } from "./read-body.js";
import { type Route, Router } from "./router.js";

/** Options of {@link createServiceHttp}. */
export interface ServiceHttpOptions {
  /** TCP port; 0 picks a free one (see {@link ServiceHttp.port}). */
  port: number;
  /** Interface to listen on, default `0.0.0.0`. */
  host?: string;
  /** The app's own routes; `/healthz`, `/readyz` and `/metrics` are built in and come first. */
  routes?: readonly Route[];
  /**
   * Whether the service can take work now (connected, streams present, not stopping). False, or a
   * thrown error whose message becomes the reason, answers `/readyz` with 503.
   */
  ready: () => boolean | Promise<boolean>;
  /** Serves `GET /metrics` (e.g. `initMetrics(…).handler`); without it `/metrics` is a 404. */
  metricsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  logger: Logger;
  /**
   * Requests declaring a larger Content-Length get a 413 before any route runs; default 1 MiB.
   * Routes reading a body pass the same limit to `readBody`, which also counts what arrives.
   */
  maxBodyBytes?: number;
  /** How long {@link ServiceHttp.close} waits for requests in flight before cutting them, ms; default 5000. */
  closeTimeoutMs?: number;
}

/** A service's HTTP server, listening. */
export interface ServiceHttp {
  /** The node:http server, for tests and upgrades. */
  readonly server: Server;
  /** The port it listens on (the chosen one when the option was 0). */
  readonly port: number;
  /** `http://<host>:<port>`, with 127.0.0.1 for a wildcard host. */
  readonly url: string;
  /** Stops accepting connections, lets requests in flight finish (up to `closeTimeoutMs`), then resolves. */
  close(): Promise<void>;
}

/**
 * Starts a service's HTTP server on node:http: `GET /healthz` (200 while the process runs),
 * `GET /readyz` (200 when `ready()`, else 503 with the reason), `GET /metrics`, then the app's
 * routes. Unknown paths get a JSON 404; errors are always `{ "error": { "code", "message" } }`.
 */
export async function createServiceHttp(options: ServiceHttpOptions): Promise<ServiceHttp> {
  const { logger, ready, metricsHandler } = options;
  const host = options.host ?? "0.0.0.0";
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;

  const builtIn: Route[] = [
    { method: "GET", path: "/healthz", handler: (_req, res) => sendJson(res, 200, { status: "ok" }) },
    {
      method: "GET",
      path: "/readyz",
      handler: async (_req, res) => {
        let reason = "service is not ready";
        try {
          if (await ready()) {
            sendJson(res, 200, { status: "ready" });
            return;
          }
        } catch (error) {
          reason = error instanceof Error ? error.message : String(error);
        }
        sendJson(res, 503, { status: "not ready", reason });
      },
    },
    {
      method: "GET",
      path: "/metrics",
      handler: (req, res) => {
        if (metricsHandler === undefined) {
          throw new HttpError(404, HttpErrorCode.NotFound, "this service exports no metrics");
        }
        metricsHandler(req, res);
      },
    },
  ];
  const router = new Router([...builtIn, ...(options.routes ?? [])]);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const match = router.match(req.method ?? "GET", req.url ?? "/");
      if ("error" in match) throw match.error;
      const declared = req.headers["content-length"];
      if (declared !== undefined && Number(declared) > maxBodyBytes) throw payloadTooLarge(maxBodyBytes);
      await match.handler(req, res, match.params);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      if (status >= 500) logger.error({ err: error, method: req.method, url: req.url }, "request failed");
      if (res.headersSent) {
        // Too late for an error body: cut the response so the client sees it is incomplete.
        res.destroy(error instanceof Error ? error : undefined);
      } else {
        sendError(res, error);
      }
    }
  };

  // Responses in flight, so close() can tell their clients not to reuse the connection.
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const server = createServer((req, res) => {
    if (closing) res.setHeader("connection", "close");
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;

  let closed: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://${urlHost}:${port}`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
        const timer = setTimeout(() => server.closeAllConnections(), closeTimeoutMs);
        // close() ends idle keep-alive connections at once and waits for the busy ones.
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closed;
    },
  };
}
