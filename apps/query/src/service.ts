import { mkdir } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SqlEngine } from "@inlet/lake";
import {
  type AccessTokenFile,
  createServiceHttp,
  loadAccessTokens,
  type Route,
  type ServiceHttp,
  type TokenCheck,
} from "@inlet/runtime";
import { type Logger, type Meter, type Tracer, trace } from "@inlet/telemetry";
import type { QueryConfig } from "./config.js";
import { consoleRoutes } from "./console/console-routes.js";
import { readEventTimeFields } from "./event-time-fields.js";
import { createQueryMetrics } from "./query-metrics.js";
import { queryRoutes } from "./query-routes.js";

/** What {@link createQueryService} needs. */
export interface QueryServiceDeps {
  config: QueryConfig;
  logger: Logger;
  /** Default: the global tracer provider's `inlet-query` tracer. */
  tracer?: Tracer;
  /** Where the service's instruments go; without it nothing is measured. */
  meter?: Meter;
  /** Serves `GET /metrics`. */
  metricsHandler?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** The query service: HTTP around a sandboxed {@link SqlEngine} over the lake. */
export interface QueryService {
  /** Opens DuckDB over the lake and starts listening. */
  start(): Promise<void>;
  /** Stops listening, lets statements in flight finish (up to 5 s), then closes DuckDB. */
  stop(): Promise<void>;
  /** `http://host:port` once started. */
  readonly url: string;
}

/** Builds the query service from its dependencies; nothing runs until `start()`. */
export function createQueryService(deps: QueryServiceDeps): QueryService {
  const { config, logger } = deps;
  let engine: SqlEngine | undefined;
  let http: ServiceHttp | undefined;
  let tokens: AccessTokenFile | undefined;
  let stopping = false;

  return {
    get url(): string {
      if (http === undefined) throw new Error("the query service is not started");
      return http.url;
    },

    async start() {
      // A fresh deployment may start before the lake-writer made the lake; an existing (even
      // read-only) directory is left as it is.
      await mkdir(config.INLET_LAKE_DIR, { recursive: true });
      engine = await SqlEngine.create({
        lakeDir: config.INLET_LAKE_DIR,
        maxRows: config.INLET_QUERY_MAX_ROWS,
        timeoutMs: config.INLET_QUERY_TIMEOUT_MS,
        maxConcurrent: config.INLET_QUERY_MAX_CONCURRENT,
        memoryLimit: config.INLET_QUERY_MEMORY_LIMIT,
        threads: config.INLET_QUERY_THREADS,
        tempDirectory: config.INLET_QUERY_TEMP_DIR,
        eventTimeFields: await readEventTimeFields(config.INLET_CONFIG_DIR, logger),
      });
      try {
        const check = await loadAccessTokens(config.INLET_QUERY_TOKENS_FILE, {
          variable: "INLET_QUERY_TOKENS_FILE",
          endpoint: "the query API",
          logger,
        });
        tokens = check;
        const api = queryRoutes({
          engine,
          logger,
          tracer: deps.tracer ?? trace.getTracer("inlet-query"),
          metrics: deps.meter === undefined ? undefined : createQueryMetrics(deps.meter),
        });
        http = await createServiceHttp({
          port: config.INLET_QUERY_PORT,
          host: config.INLET_QUERY_HOST,
          // The console's page and script hold no data: only the API they call needs a token.
          routes: [
            ...(check === undefined ? api : api.map((route) => guarded(route, check))),
            ...consoleRoutes(),
          ],
          ready: () => !stopping && engine !== undefined,
          metricsHandler: deps.metricsHandler,
          logger,
        });
      } catch (error) {
        tokens?.close();
        await engine.close();
        throw error;
      }
      logger.info({ url: http.url, lakeDir: engine.lakeDir }, "query service listening");
    },

    async stop() {
      stopping = true;
      await http?.close();
      tokens?.close();
      await engine?.close();
    },
  };
}

// `route`, answering 401 or 403 before its handler runs unless the request's token covers every
// dataset: any SQL may read any of them.
function guarded(route: Route, tokens: TokenCheck): Route {
  return {
    ...route,
    handler: (req, res, params) => {
      try {
        tokens.authorize(req.headers.authorization, "*");
      } catch (error) {
        req.resume();
        throw error;
      }
      return route.handler(req, res, params);
    },
  };
}
