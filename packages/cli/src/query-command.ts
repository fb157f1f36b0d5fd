import { type CliIo, write } from "./cli-io.js";
import { bearer, cellOf, parseJsonExact, request } from "./http-client.js";
import { OutputFormat } from "./output-format.js";
import { renderTable } from "./table.js";

/** Options of {@link runQuery}. */
export interface QueryCommandOptions {
  /** The query service, e.g. `http://127.0.0.1:8082`. */
  url: string;
  sql: string;
  format: OutputFormat;
  versions?: Record<string, number>;
  /** An access token for a query service that requires one (`--token`, `INLET_QUERY_TOKEN`). */
  token?: string;
}

interface JsonResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  truncated: unknown;
}

/** `inlet query`: sends one SELECT to the query service and prints the answer. */
export async function runQuery(options: QueryCommandOptions, io: CliIo): Promise<void> {
  const table = options.format === OutputFormat.Table;
  const response = await request(new URL("/v1/query", options.url).href, {
    method: "POST",
    headers: { "content-type": "application/json", ...bearer(options.token) },
    body: JSON.stringify({
      sql: options.sql,
      format: table ? OutputFormat.Json : options.format,
      version: options.versions,
    }),
  });
  if (!table) {
    // Streamed as the service sends it.
    if (response.body !== null) for await (const chunk of response.body) await write(io.stdout, chunk);
    if (options.format === OutputFormat.Json) await write(io.stdout, "\n");
    return;
  }
  const result = parseJsonExact(await response.text()) as JsonResult;
  const rows = result.rows.map((row) => result.columns.map((column) => cellOf(row[column.name])));
  await write(io.stdout, renderTable(result.columns, rows));
  if (String(result.truncated) === "true") {
    await write(io.stderr, `(only the first ${rows.length} rows are shown: the service's row limit)\n`);
  }
}
