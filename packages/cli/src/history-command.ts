import { tableHistory } from "@inlet/lake";
import { type CliIo, write } from "./cli-io.js";
import { lakeTableDir } from "./lake-table.js";
import { OutputFormat } from "./output-format.js";
import { renderTable } from "./table.js";

/** Options of {@link runHistory}. */
export interface HistoryCommandOptions {
  lakeDir: string;
  table: string;
  /** The newest this many commits; all when absent. */
  limit?: number;
  format: OutputFormat;
}

/** `inlet history`: a table's commits, newest first, read from its Delta log (no service needed). */
export async function runHistory(options: HistoryCommandOptions, io: CliIo): Promise<void> {
  const tableDir = await lakeTableDir(options.lakeDir, options.table);
  const history = await tableHistory(tableDir, { limit: options.limit });
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify(history)}\n`);
    return;
  }
  const columns = [
    { name: "version", type: "BIGINT" },
    { name: "timestamp", type: "VARCHAR" },
    { name: "operation", type: "VARCHAR" },
    { name: "files_added", type: "BIGINT" },
    { name: "files_removed", type: "BIGINT" },
    { name: "rows_added", type: "BIGINT" },
    { name: "txn", type: "VARCHAR" },
    { name: "parameters", type: "VARCHAR" },
  ];
  const rows = history.map((h) => [
    String(h.version),
    new Date(h.timestamp).toISOString(),
    h.operation,
    String(h.numFiles),
    String(h.numRemovedFiles),
    h.numRecords === undefined ? null : String(h.numRecords),
    h.txns === undefined ? null : h.txns.map((t) => `${t.appId}=${t.version}`).join(", "),
    h.operationParameters === undefined ? null : JSON.stringify(h.operationParameters),
  ]);
  await write(io.stdout, renderTable(columns, rows));
}
