export { DEFAULT_QUERY_URL, runCli, USAGE } from "./cli.js";
export { CliError, CliErrorCode } from "./cli-error.js";
export type { CliIo } from "./cli-io.js";
export type { TableColumn } from "./table.js";
export { MAX_CELL_WIDTH, renderTable } from "./table.js";
