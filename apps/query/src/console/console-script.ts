// The web console's script. The page is served as one script made of these functions' source
// (`consoleScript()`), so each function stands alone: it may call the others by name, but uses no
// import and no module-level value. The pure ones are unit-tested (console-script.test.ts).

/**
 * The little of the DOM the console touches, declared here rather than with TypeScript's `dom`
 * library, whose globals would change `fetch`'s and streams' types for the rest of the workspace.
 */
interface ConsoleElement {
  innerHTML: string;
  textContent: string | null;
  value: string;
  addEventListener(type: string, listener: (event: ConsoleEvent) => void): void;
}

interface ConsoleEvent {
  key?: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  target: { closest(selector: string): { dataset: Record<string, string | undefined> } | null } | null;
  preventDefault(): void;
}

interface ConsoleDocument {
  getElementById(id: string): ConsoleElement | null;
}

interface ConsoleStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** A dataset as `GET /v1/datasets` lists it (the fields the console shows). */
export interface ConsoleDataset {
  name: string;
  version: number;
  files: number;
  rows: number;
  bytes: number;
  freshnessMs?: number;
  newestIngestedAt?: string;
  error?: string;
}

/** A JSON answer of `POST /v1/query`. */
export interface ConsoleResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
  elapsedMs: number;
}

/** Text made safe to place in HTML. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Bytes in B, kB, MB or GB (powers of 1,000). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** An age in ms as people say it: `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`; `–` when unknown. */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Rows per second committed to a dataset between two reads of `/v1/datasets` (`at` in ms); 0 when
 * the table lost rows (compaction does not, a vacuum of a recreated table may) or no time passed.
 */
export function rowsPerSecond(
  previous: { rows: number; at: number },
  next: { rows: number; at: number },
): number {
  const seconds = (next.at - previous.at) / 1000;
  if (seconds <= 0 || next.rows < previous.rows) return 0;
  return (next.rows - previous.rows) / seconds;
}

/**
 * Rows per second over the last `windowMs` of `samples` (oldest first): a lake commits in bursts
 * (a flush every few seconds), so a rate between two reads 2 s apart jumps between 0 and a peak.
 */
export function recentRate(
  samples: readonly { rows: number; at: number }[],
  windowMs = 30_000,
): number | undefined {
  if (samples.length < 2) return undefined;
  const last = samples[samples.length - 1]!;
  const first = samples.find((sample) => last.at - sample.at <= windowMs) ?? last;
  return first === last ? rowsPerSecond(samples[samples.length - 2]!, last) : rowsPerSecond(first, last);
}

/** An SVG sparkline of `values` (newest last), scaled to the largest; empty for none. */
export function sparkline(values: readonly number[], width = 120, height = 24): string {
  if (values.length < 2) return "";
  const top = Math.max(...values, 1);
  const step = width / (values.length - 1);
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / top) * (height - 2)).toFixed(1)}`)
    .join(" ");
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-hidden="true"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${points}"/></svg>`;
}

/** How fresh a dataset is, as a CSS class: `fresh` under 30 s, `stale` under 10 min, else `old`. */
export function freshnessClass(ms: number | undefined): string {
  if (ms === undefined) return "old";
  if (ms < 30_000) return "fresh";
  return ms < 600_000 ? "stale" : "old";
}

/** The datasets as table rows, with each one's recent rows/s and the history of its rate. */
export function renderDatasets(
  datasets: readonly ConsoleDataset[],
  rates: Readonly<Record<string, readonly number[]>>,
  current: Readonly<Record<string, number | undefined>>,
): string {
  if (datasets.length === 0)
    return '<tr><td colspan="8" class="muted">The lake holds no dataset yet.</td></tr>';
  return datasets
    .map((d) => {
      const history = rates[d.name] ?? [];
      const now = current[d.name];
      const name = escapeHtml(d.name);
      return (
        `<tr data-dataset="${name}"><td><a href="#" data-query="${name}">${name}</a>` +
        (d.error === undefined ? "" : ` <span class="error" title="${escapeHtml(d.error)}">⚠</span>`) +
        `</td><td class="num">${formatCount(d.rows)}</td>` +
        `<td class="num">${now === undefined ? "–" : formatCount(now)}</td>` +
        `<td>${sparkline(history)}</td>` +
        `<td class="num ${freshnessClass(d.freshnessMs)}">${formatAge(d.freshnessMs)}</td>` +
        `<td class="num">${formatCount(d.files)}</td><td class="num">${formatBytes(d.bytes)}</td>` +
        `<td class="num">${d.version}</td></tr>`
      );
    })
    .join("");
}

/** A cell's value as text: JSON for objects and lists, empty for null. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** A query's answer as an HTML table, with what it cost. */
export function renderResult(result: ConsoleResult): string {
  const head = result.columns
    .map((c) => `<th title="${escapeHtml(c.type)}">${escapeHtml(c.name)}</th>`)
    .join("");
  const body = result.rows
    .map(
      (row) =>
        `<tr>${result.columns
          .map((c) => {
            const value = row[c.name];
            const cls = typeof value === "number" ? ' class="num"' : value === null ? ' class="null"' : "";
            return `<td${cls}>${value === null ? "NULL" : escapeHtml(cellText(value))}</td>`;
          })
          .join("")}</tr>`,
    )
    .join("");
  const status =
    `${formatCount(result.rowCount)} row${result.rowCount === 1 ? "" : "s"} in ${formatCount(result.elapsedMs)} ms` +
    (result.truncated ? " · cut at the service's row limit" : "");
  return `<p class="muted">${status}</p><div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** The statement the console runs when a dataset's name is clicked. */
export function datasetQuery(name: string): string {
  return `SELECT *\nFROM ${name}\nORDER BY _ingested_at DESC\nLIMIT 100`;
}

/**
 * Starts the console in the page: polls the datasets, runs statements, shows dead letters.
 * Returns what stops its polling.
 */
export function startConsole(): () => void {
  const page = (globalThis as unknown as { document: ConsoleDocument }).document;
  const byId = (id: string) => page.getElementById(id)!;
  const sql = byId("sql");
  // Per dataset, the last two minutes of reads (every 2 s) and the rate between each two.
  const samples: Record<string, { rows: number; at: number }[]> = {};
  const history: Record<string, number[]> = {};
  let hasDeadLetters = false;

  // With INLET_QUERY_TOKENS_FILE the API wants a bearer token: asked for once, kept for the tab.
  const session = (globalThis as unknown as { sessionStorage: ConsoleStorage }).sessionStorage;
  const ask = (message: string) =>
    (globalThis as unknown as { prompt(message: string): string | null }).prompt(message);
  let declined = false;

  async function call(path: string, body?: unknown): Promise<unknown> {
    const send = () => {
      const token = session.getItem("inlet-token");
      return fetch(path, {
        method: body === undefined ? "GET" : "POST",
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    };
    let response = await send();
    if (response.status === 401 && !declined) {
      const token = ask("This Inlet query service needs an access token (inlet token new):")?.trim();
      if (token) {
        session.setItem("inlet-token", token);
        response = await send();
      } else {
        // Not asked again by the polls, only when a statement is run.
        declined = true;
      }
    }
    const answer = (await response.json()) as { error?: { code: string; message: string } };
    if (!response.ok) {
      const error = answer.error ?? { code: String(response.status), message: response.statusText };
      throw new Error(`${error.code}: ${error.message}`);
    }
    return answer;
  }

  async function pollDatasets(): Promise<void> {
    try {
      const datasets = (await call("/v1/datasets")) as ConsoleDataset[];
      const at = Date.now();
      const current: Record<string, number | undefined> = {};
      let total = 0;
      for (const d of datasets) {
        const seen = samples[d.name] ?? [];
        seen.push({ rows: d.rows, at });
        if (seen.length > 61) seen.shift();
        samples[d.name] = seen;
        if (seen.length >= 2) {
          const rates = history[d.name] ?? [];
          rates.push(rowsPerSecond(seen[seen.length - 2]!, seen[seen.length - 1]!));
          if (rates.length > 60) rates.shift();
          history[d.name] = rates;
        }
        current[d.name] = recentRate(seen);
        if (d.name !== "dead_letters") total += current[d.name] ?? 0;
      }
      hasDeadLetters = datasets.some((d) => d.name === "dead_letters");
      byId("datasets").innerHTML = renderDatasets(datasets, history, current);
      byId("total").textContent = `${formatCount(total)} rows/s into the lake`;
      byId("updated").textContent = `updated ${new Date(at).toLocaleTimeString()}`;
      if (sql.value === "" && datasets.length > 0) sql.value = datasetQuery(datasets[0]!.name);
    } catch (error) {
      byId("updated").textContent = `cannot read the datasets: ${(error as Error).message}`;
    }
  }

  async function run(statement: string, target: string): Promise<void> {
    const out = byId(target);
    out.innerHTML = '<p class="muted">running…</p>';
    declined = false;
    try {
      out.innerHTML = renderResult((await call("/v1/query", { sql: statement })) as ConsoleResult);
    } catch (error) {
      out.innerHTML = `<p class="error">${escapeHtml((error as Error).message)}</p>`;
    }
  }

  async function pollDeadLetters(): Promise<void> {
    if (!hasDeadLetters) return;
    await run(
      "SELECT stage, dataset, code, count(*) AS letters, max(dead_lettered_at) AS latest\n" +
        "FROM dead_letters GROUP BY ALL ORDER BY letters DESC LIMIT 20",
      "dead-letters",
    );
  }

  byId("run").addEventListener("click", () => void run(sql.value, "result"));
  sql.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void run(sql.value, "result");
    }
  });
  byId("datasets").addEventListener("click", (event) => {
    const name = event.target?.closest("a")?.dataset.query;
    if (name === undefined) return;
    event.preventDefault();
    sql.value = datasetQuery(name);
    void run(sql.value, "result");
  });
  void pollDatasets().then(() => pollDeadLetters());
  const timers = [
    setInterval(() => void pollDatasets(), 2_000),
    setInterval(() => void pollDeadLetters(), 10_000),
  ];
  return () => {
    for (const timer of timers) clearInterval(timer);
  };
}

/** The console's script: every function above, then the call that starts it. */
export function consoleScript(): string {
  const parts = [
    escapeHtml,
    formatCount,
    formatBytes,
    formatAge,
    rowsPerSecond,
    recentRate,
    sparkline,
    freshnessClass,
    renderDatasets,
    cellText,
    renderResult,
    datasetQuery,
    startConsole,
  ].map((f) => f.toString());
  return `"use strict";\n${parts.join("\n\n")}\n\nstartConsole();\n`;
}
