import type { SqlDataset } from "@inlet/lake";
import { type CliIo, write } from "./cli-io.js";
import { bearer, request } from "./http-client.js";
import { OutputFormat } from "./output-format.js";
import { openEngine } from "./sql-command.js";
import { renderTable } from "./table.js";

/** Options of {@link runDatasets}: ask the service at `url`, or read the lake at `lakeDir` directly. */
export interface DatasetsCommandOptions {
  url?: string;
  lakeDir?: string;
  format: OutputFormat;
  /** An access token for a query service that requires one (`--token`, `INLET_QUERY_TOKEN`). */
  token?: string;
}

/** `inlet datasets`: every curated dataset with its version, size and freshness. */
export async function runDatasets(options: DatasetsCommandOptions, io: CliIo): Promise<void> {
  let datasets: SqlDataset[];
  if (options.lakeDir !== undefined) {
    const engine = await openEngine({ lakeDir: options.lakeDir });
    try {
      datasets = await engine.datasets();
    } finally {
      await engine.close();
    }
  } else {
    const url = new URL("/v1/datasets", options.url ?? "http://127.0.0.1:8082").href;
    datasets = (await (await request(url, { headers: bearer(options.token) })).json()) as SqlDataset[];
  }
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify(datasets)}\n`);
    return;
  }
  const columns = [
    { name: "name", type: "VARCHAR" },
    { name: "version", type: "BIGINT" },
    { name: "files", type: "BIGINT" },
    { name: "rows", type: "BIGINT" },
    { name: "size", type: "VARCHAR" },
    { name: "newest_ingested_at", type: "VARCHAR" },
    { name: "freshness", type: "VARCHAR" },
  ];
  const rows = datasets.map((d) => [
    d.name,
    String(d.version),
    String(d.files),
    String(d.rows),
    formatBytes(d.bytes),
    d.newestIngestedAt ?? null,
    d.freshnessMs === undefined ? null : formatDuration(d.freshnessMs),
  ]);
  await write(io.stdout, renderTable(columns, rows));
}

/** `1.5 MB`-style sizes (powers of 1000, as `ls -h --si`). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `850ms`, `12.3s`, `4m 10s`, `3h 5m`, `2d 4h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
