import type { ServerResponse } from "node:http";
import type { Route } from "@inlet/runtime";
import { consoleScript } from "./console-script.js";

/** Where the console's script is served. */
export const CONSOLE_SCRIPT_PATH = "/console/console.js";

// Only this origin's script and API; inline styles, no inline script, no frames.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The console's page: the layout; `console.js` fills it from the API. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inlet console</title>
<style>
  :root { color-scheme: light dark; --muted: #888; --fresh: #2a9d5b; --stale: #c98a00; --old: #c0392b; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem; }
  header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
  h1 { font-size: 1.3rem; margin: 0; }
  h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #8883; white-space: nowrap; }
  th { font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.null { color: var(--muted); font-style: italic; }
  .muted { color: var(--muted); }
  .error { color: var(--old); }
  .fresh { color: var(--fresh); } .stale { color: var(--stale); } .old { color: var(--old); }
  .scroll { overflow: auto; max-height: 60vh; }
  textarea { width: 100%; box-sizing: border-box; font: 13px/1.4 ui-monospace, monospace; min-height: 7rem; }
  button { font: inherit; padding: .3rem 1rem; margin-top: .4rem; }
  #total { font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>Inlet</h1>
  <span id="total"></span>
  <span id="updated" class="muted">connecting…</span>
</header>
<h2>Datasets</h2>
<table>
  <thead><tr><th>dataset</th><th class="num">rows</th><th class="num">rows/s</th><th>last 2 min</th>
  <th class="num">freshness</th><th class="num">files</th><th class="num">size</th><th class="num">version</th></tr></thead>
  <tbody id="datasets"></tbody>
</table>
<h2>SQL</h2>
<textarea id="sql" spellcheck="false" aria-label="SQL statement"></textarea>
<div><button id="run" type="button">Run</button> <span class="muted">Ctrl+Enter · one SELECT over the lake's datasets</span></div>
<div id="result"></div>
<h2>Dead letters</h2>
<div id="dead-letters"><p class="muted">None in the lake.</p></div>
<script type="module" src="${CONSOLE_SCRIPT_PATH}"></script>
</body>
</html>
`;

function send(res: ServerResponse, contentType: string, body: string): void {
  res.writeHead(200, {
    "content-type": contentType,
    "cache-control": "no-cache",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

/** `GET /` and `GET /console`: the web console; `GET /console/console.js`: its script. */
export function consoleRoutes(): Route[] {
  const script = consoleScript();
  const page = (_req: unknown, res: ServerResponse) => send(res, "text/html; charset=utf-8", CONSOLE_HTML);
  return [
    { method: "GET", path: "/", handler: page },
    { method: "GET", path: "/console", handler: page },
    {
      method: "GET",
      path: CONSOLE_SCRIPT_PATH,
      handler: (_req, res) => send(res, "text/javascript; charset=utf-8", script),
    },
  ];
}
