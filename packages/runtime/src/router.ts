import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, HttpErrorCode } from "./http-error.js";

/** Path parameters of a matched route: `:name` segments by name, a trailing `*` as `"*"`. */
export type RouteParams = Readonly<Record<string, string>>;

/** Handles one request; a thrown {@link HttpError} is answered as JSON, anything else as a 500. */
export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: RouteParams,
) => void | Promise<void>;

/** A route an app adds to its service's HTTP server. */
export interface Route {
  /** The HTTP method, uppercase: `GET`, `POST`, … */
  method: string;
  /**
   * The path: exact (`/v1/query`), with `:name` segments (`/v1/events/:dataset`), or ending in `/*`
   * to match everything below (`/console/*`, the rest in `params["*"]`).
   */
  path: string;
  handler: RouteHandler;
}

type Segment = { literal: string } | { param: string };

interface CompiledRoute {
  route: Route;
  segments: Segment[];
  wildcard: boolean;
}

/** The result of {@link Router.match}: a handler and its params, or an error to answer. */
export type RouteMatch = { handler: RouteHandler; params: RouteParams } | { error: HttpError };

/** Matches a request's method and path against a fixed list of routes. */
export class Router {
  readonly #routes: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.#routes = routes.map(compile);
  }

  /** The route for `method` and `url` (query string ignored), or a 404/405/400 to answer. */
  match(method: string, url: string): RouteMatch {
    const query = url.indexOf("?");
    const parts = (query < 0 ? url : url.slice(0, query)).split("/");
    const allowed: string[] = [];
    for (const compiled of this.#routes) {
      const params = matchSegments(compiled, parts);
      if (params === undefined) continue;
      if (params instanceof HttpError) return { error: params };
      if (compiled.route.method === method) return { handler: compiled.route.handler, params };
      allowed.push(compiled.route.method);
    }
    if (allowed.length > 0) {
      return {
        error: new HttpError(
          405,
          HttpErrorCode.MethodNotAllowed,
          `${method} is not allowed here; use ${allowed.join(", ")}`,
          {
            headers: { allow: allowed.join(", ") },
          },
        ),
      };
    }
    const path = query < 0 ? url : url.slice(0, query);
    return { error: new HttpError(404, HttpErrorCode.NotFound, `no route for ${method} ${path}`) };
  }
}

function compile(route: Route): CompiledRoute {
  if (!route.path.startsWith("/")) throw new TypeError(`route path must start with "/": ${route.path}`);
  const wildcard = route.path.endsWith("/*");
  const path = wildcard ? route.path.slice(0, -2) : route.path;
  // "/a/:b" splits into ["", "a", ":b"]; the leading "" matches the leading "" of the request path.
  const segments = path
    .split("/")
    .map((s): Segment => (s.startsWith(":") && s.length > 1 ? { param: s.slice(1) } : { literal: s }));
  return { route: { ...route, method: route.method.toUpperCase() }, segments, wildcard };
}

/** The params when `parts` matches, undefined when not, a 400 when a segment is badly encoded. */
function matchSegments(
  compiled: CompiledRoute,
  parts: string[],
): Record<string, string> | HttpError | undefined {
  const { segments, wildcard } = compiled;
  if (wildcard ? parts.length <= segments.length : parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as Segment;
    const part = parts[i] as string;
    if ("literal" in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      if (part === "") return undefined;
      const value = decode(part);
      if (value === undefined) return badEncoding(part);
      params[segment.param] = value;
    }
  }
  if (wildcard) {
    const rest = parts.slice(segments.length).join("/");
    const value = decode(rest);
    if (value === undefined) return badEncoding(rest);
    params["*"] = value;
  }
  return params;
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function badEncoding(part: string): HttpError {
  return new HttpError(400, HttpErrorCode.BadRequest, `path segment "${part}" is not valid percent-encoding`);
}
