import { parseArgs } from "node:util";
import { CliError, CliErrorCode } from "./cli-error.js";
import { type CliIo, readAll, write } from "./cli-io.js";
import { runDatasets } from "./datasets-command.js";
import { OutputFormat, parseOutputFormat, parsePositiveInt, parseVersions } from "./output-format.js";
import { runQuery } from "./query-command.js";
import { runSql } from "./sql-command.js";

/** The query service the CLI talks to when neither `--url` nor `INLET_QUERY_URL` says otherwise. */
export const DEFAULT_QUERY_URL = "http://127.0.0.1:8082";

/** The help text of `inlet --help`. */
export const USAGE = `usage: inlet <command> [options]

commands:
  sql "<select>"       run one SELECT on a lake directory, in this process (no service needed)
      --lake <dir>       the lake (default $INLET_LAKE_DIR, else ./lake)
      --format <f>       table (default), json, ndjson or csv
      --max-rows <n>     cut the result after n rows (default 100000)
      --timeout-ms <n>   stop the statement after n ms (default 30000)
      --version <ds=n>   read a dataset at an older table version (repeatable)
  query "<select>"     run one SELECT on the query service
      --url <url>        the service (default $INLET_QUERY_URL, else ${DEFAULT_QUERY_URL})
      --format <f>       table (default), json, ndjson or csv
      --version <ds=n>   read a dataset at an older table version (repeatable)
  datasets             list datasets: version, files, rows, size, freshness
      --url <url>        ask the query service (the default)
      --lake <dir>       or read a lake directory directly
      --format <f>       table (default) or json

The SQL may also come on stdin ("-" or nothing after the command).
`;

const COMMANDS = ["sql", "query", "datasets"] as const;

/** Runs the `inlet` command line; returns the exit status (0 ok, 1 failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await dispatch(argv, io);
    return 0;
  } catch (error) {
    await write(io.stderr, `inlet: ${error instanceof Error ? error.message : String(error)}\n`);
    const usage = error instanceof CliError && error.code === CliErrorCode.Usage;
    if (usage) await write(io.stderr, "run `inlet --help` for usage\n");
    return usage ? 2 : 1;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    await write(io.stdout, USAGE);
    return;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CliError(
      CliErrorCode.Usage,
      `unknown command "${command}"; expected one of ${COMMANDS.join(", ")}`,
    );
  }
  const { values, positionals } = parse(rest);
  if (values.help) {
    await write(io.stdout, USAGE);
    return;
  }
  const format = parseOutputFormat(
    values.format,
    command === "datasets" ? [OutputFormat.Table, OutputFormat.Json] : undefined,
  );
  // An empty variable counts as unset, as in the services' configuration.
  const lakeDir = values.lake ?? (io.env.INLET_LAKE_DIR || "lake");
  const url = values.url ?? (io.env.INLET_QUERY_URL || DEFAULT_QUERY_URL);
  switch (command) {
    case "sql":
      await runSql(
        {
          lakeDir,
          sql: await sqlText(positionals, io),
          format,
          maxRows: parsePositiveInt("max-rows", values["max-rows"], 100_000),
          timeoutMs: parsePositiveInt("timeout-ms", values["timeout-ms"], 30_000),
          versions: parseVersions(values.version),
        },
        io,
      );
      return;
    case "query":
      await runQuery(
        { url, sql: await sqlText(positionals, io), format, versions: parseVersions(values.version) },
        io,
      );
      return;
    default:
      if (positionals.length > 0) throw new CliError(CliErrorCode.Usage, "datasets takes no arguments");
      await runDatasets(values.lake !== undefined ? { lakeDir: values.lake, format } : { url, format }, io);
  }
}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        lake: { type: "string" },
        url: { type: "string" },
        format: { type: "string", short: "f" },
        "max-rows": { type: "string" },
        "timeout-ms": { type: "string" },
        version: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new CliError(CliErrorCode.Usage, (error as Error).message, { cause: error });
  }
}

/** The SQL: the arguments joined by spaces, or stdin when there are none (or just `-`). */
async function sqlText(positionals: readonly string[], io: CliIo): Promise<string> {
  const fromStdin = positionals.length === 0 || (positionals.length === 1 && positionals[0] === "-");
  if (fromStdin && io.stdin.isTTY)
    throw new CliError(CliErrorCode.Usage, 'give a statement: inlet sql "SELECT …"');
  const sql = fromStdin ? await readAll(io.stdin) : positionals.join(" ");
  if (sql.trim() === "") throw new CliError(CliErrorCode.Usage, 'give a statement: inlet sql "SELECT …"');
  return sql;
}
