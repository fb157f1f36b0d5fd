import { HttpError, type Route, readBody, sendJson, type TokenCheck } from "@inlet/runtime";
import type { CollectorMetrics } from "./collector-metrics.js";
import type { InflightLimiter } from "./inflight.js";
import { type Ingestor, Transport } from "./ingest.js";

/** What {@link ingestRoute} needs. */
export interface HttpIngressDeps {
  ingestor: Ingestor;
  limiter: InflightLimiter;
  metrics: CollectorMetrics;
  /** Largest body read, in bytes (a larger one gets 413 before it is buffered). */
  maxBodyBytes: number;
  /** Retry-After on a 503, in seconds. */
  retryAfterSeconds: number;
  /** The access tokens a request must name one of, covering its dataset; none: the ingress is open. */
  tokens?: TokenCheck;
}

/**
 * `POST /v1/events/:dataset`: a JSON object, a JSON array of objects, or NDJSON; `?results=errors`
 * lists only the events that were not accepted. Answers with the {@link Ingestor}'s status and body.
 * With `tokens`, a request without a token covering its dataset gets 401 or 403 before its body is
 * read.
 */
export function ingestRoute(deps: HttpIngressDeps): Route {
  const { ingestor, limiter, metrics } = deps;
  return {
    method: "POST",
    path: "/v1/events/:dataset",
    handler: async (req, res, params) => {
      let producer: string | undefined;
      if (deps.tokens !== undefined) {
        try {
          // Before the body is read: a caller without a token costs nothing but its headers.
          producer = deps.tokens.authorize(req.headers.authorization, params.dataset ?? "").name;
        } catch (error) {
          if (error instanceof HttpError) metrics.request(Transport.Http, error.status);
          req.resume();
          throw error;
        }
      }
      // The body is held while it is read, so it counts in flight from the start: its declared
      // length, or the most a body may be when it declares none.
      const reading = declaredBytes(req.headers["content-length"], deps.maxBodyBytes);
      if (limiter.full || !limiter.tryAcquire(0, reading)) {
        // Refuse before buffering the body: that is the memory being protected.
        metrics.request(Transport.Http, 503);
        sendJson(
          res,
          503,
          { error: { code: "OVERLOADED", message: limiter.refusal } },
          { "retry-after": String(deps.retryAfterSeconds) },
        );
        req.resume();
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(req, { limitBytes: deps.maxBodyBytes });
      } catch (error) {
        if (error instanceof HttpError) metrics.request(Transport.Http, error.status);
        throw error;
      } finally {
        // Handed over to the ingestor, which counts the body again before its first await.
        limiter.release(0, reading);
      }
      const answer = await ingestor.handle({
        transport: Transport.Http,
        dataset: params.dataset ?? "",
        body,
        contentType: req.headers["content-type"],
        errorsOnly: wantsErrorsOnly(req.url),
        traceparent: single(req.headers.traceparent),
        ...(producer === undefined ? {} : { producer }),
      });
      const headers =
        answer.retryAfterSeconds === undefined
          ? undefined
          : { "retry-after": String(answer.retryAfterSeconds) };
      sendJson(res, answer.status, answer.body, headers);
    },
  };
}

/** True when the query string says `results=errors`. */
export function wantsErrorsOnly(url: string | undefined): boolean {
  const query = url?.indexOf("?") ?? -1;
  if (url === undefined || query < 0) return false;
  return new URLSearchParams(url.slice(query + 1)).get("results") === "errors";
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The bytes a body will take: its `Content-Length` when it declares one within `max`, else `max`. */
export function declaredBytes(contentLength: string | undefined, max: number): number {
  if (contentLength === undefined || !/^\d{1,15}$/.test(contentLength)) return max;
  return Math.min(Number(contentLength), max);
}
