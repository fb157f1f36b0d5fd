import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { type SqlEngine, SqlEngineError, SqlEngineErrorCode, type SqlResult } from "@inlet/lake";
import { HttpError, type Route, readBody, sendJson } from "@inlet/runtime";
import { type Logger, SpanKind, type Tracer, withSpan } from "@inlet/telemetry";
import type { QueryMetrics } from "./query-metrics.js";
import { FORMAT_CONTENT_TYPE, MAX_SQL_LENGTH, parseQueryRequest } from "./query-request.js";

/** What the query routes need. */
export interface QueryRoutesDeps {
  engine: SqlEngine;
  logger: Logger;
  tracer: Tracer;
  metrics?: QueryMetrics;
}

/** HTTP status of each engine error. */
const STATUS: Readonly<Record<SqlEngineErrorCode, number>> = {
  NOT_SELECT: 400,
  QUERY_FAILED: 400,
  DENIED: 403,
  UNKNOWN_DATASET: 404,
  UNKNOWN_VERSION: 404,
  TIMEOUT: 504,
  BUSY: 503,
  CLOSED: 503,
  NO_LAKE: 503,
  // The client is gone; nobody reads this status.
  CANCELLED: 499,
};

/** Trailers sent after a streamed result: they are known only once the last row is out. */
const ROW_COUNT_TRAILER = "Inlet-Row-Count";
const TRUNCATED_TRAILER = "Inlet-Truncated";

/** The engine's error as the HTTP error answered to the client. */
export function httpErrorOf(error: SqlEngineError): HttpError {
  const headers: Record<string, string> =
    error.code === SqlEngineErrorCode.Busy ? { "retry-after": "1" } : {};
  return new HttpError(STATUS[error.code], error.code, error.message, { cause: error, headers });
}

/**
 * `POST /v1/query` (one SELECT, answered as JSON, NDJSON or CSV, streamed as DuckDB renders it),
 * `GET /v1/datasets` and `GET /v1/datasets/:name`.
 */
export function queryRoutes(deps: QueryRoutesDeps): Route[] {
  const { engine, logger, tracer, metrics } = deps;

  const answer = async (res: ServerResponse, result: SqlResult, signal: AbortSignal): Promise<void> => {
    res.writeHead(200, {
      "content-type": FORMAT_CONTENT_TYPE[result.format],
      "cache-control": "no-store",
      trailer: `${ROW_COUNT_TRAILER}, ${TRUNCATED_TRAILER}`,
    });
    // UTF-8 bytes as DuckDB rendered them: nothing is decoded to a string and encoded again.
    for await (const piece of result.bytes()) {
      if (!res.write(piece)) await once(res, "drain", { signal });
    }
    res.addTrailers({
      [ROW_COUNT_TRAILER]: String(result.rowCount),
      [TRUNCATED_TRAILER]: String(result.truncated),
    });
    res.end();
  };

  return [
    {
      method: "POST",
      path: "/v1/query",
      handler: async (req, res) => {
        const started = performance.now();
        // Room for the SQL text plus JSON escaping and the other fields.
        const body = await readBody(req, { limitBytes: MAX_SQL_LENGTH * 4 + 4096 });
        const request = parseQueryRequest(body, req.headers["content-type"], req.headers.accept);
        // The client going away interrupts the statement.
        const gone = new AbortController();
        res.once("close", () => {
          if (!res.writableFinished) gone.abort();
        });
        await withSpan(
          tracer,
          "query",
          {
            kind: SpanKind.SERVER,
            attributes: { "db.system.name": "duckdb", "inlet.query.format": request.format },
          },
          async (span) => {
            let result: SqlResult | undefined;
            try {
              result = await engine.query(request.sql, request.format, {
                versions: request.versions,
                signal: gone.signal,
              });
              await answer(res, result, gone.signal);
              span.setAttribute("db.response.returned_rows", result.rowCount);
              metrics?.query("ok", request.format);
              metrics?.rows(result.rowCount);
              logger.debug(
                { rows: result.rowCount, truncated: result.truncated, elapsedMs: result.elapsedMs },
                "query answered",
              );
            } catch (error) {
              if (gone.signal.aborted) {
                // The client left: nobody is there to answer.
                metrics?.query(SqlEngineErrorCode.Cancelled, request.format);
                return;
              }
              if (!(error instanceof SqlEngineError)) throw error;
              metrics?.query(error.code, request.format);
              logger.info({ code: error.code, reason: error.message }, "query refused");
              throw httpErrorOf(error);
            } finally {
              result?.close();
              metrics?.duration((performance.now() - started) / 1000);
            }
          },
        );
      },
    },
    {
      method: "GET",
      path: "/v1/datasets",
      handler: async (_req, res) => {
        sendJson(res, 200, await engine.datasets());
      },
    },
    {
      method: "GET",
      path: "/v1/datasets/:name",
      handler: async (_req, res, params) => {
        const name = params.name ?? "";
        const dataset = await engine.dataset(name);
        if (dataset === undefined) {
          throw new HttpError(404, SqlEngineErrorCode.UnknownDataset, `the lake has no dataset "${name}"`);
        }
        sendJson(res, 200, dataset);
      },
    },
  ];
}
