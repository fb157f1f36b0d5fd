import { parseArgs } from "node:util";
import { isDatasetName, isStage, Stage } from "@inlet/bus";
import { runCheckpoint } from "./checkpoint-command.js";
import { CliError, CliErrorCode } from "./cli-error.js";
import { type CliIo, readAll, write } from "./cli-io.js";
import { runCompact } from "./compact-command.js";
import { runDatasets } from "./datasets-command.js";
import { DEFAULT_LIST_LIMIT, DEFAULT_NATS_URL, runDlqList, runDlqReplay } from "./dlq-command.js";
import { runHistory } from "./history-command.js";
import { OutputFormat, parseOutputFormat, parsePositiveInt, parseVersions } from "./output-format.js";
import { runQuery } from "./query-command.js";
import { runSql } from "./sql-command.js";
import { parseTokenDatasets, runTokenNew } from "./token-command.js";
import { runVacuum } from "./vacuum-command.js";

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
      --token <token>    an access token, when the service requires one (default $INLET_QUERY_TOKEN)
      --format <f>       table (default), json, ndjson or csv
      --version <ds=n>   read a dataset at an older table version (repeatable)
  datasets             list datasets: version, files, rows, size, freshness
      --url <url>        ask the query service (the default; --token as for query)
      --lake <dir>       or read a lake directory directly
      --format <f>       table (default) or json

table maintenance, on a lake directory (no service needed; each also takes --lake and
--format table|json):
  history <table>      the table's commits, newest first
      --limit <n>        only the newest n
  compact <table>      rewrite each partition's small files into large ones, in one commit
      --target-mb <n>    largest file to write, MiB (default 128)
      --min-files <n>    fewest small files worth compacting in a partition (default 2)
  vacuum <table>       delete files the table no longer references, past the retention,
                       and the log before the newest checkpoint past the log retention
      --retention-hours <n>  keep anything younger (default 168, at least 1)
      --log-retention-days <n>  keep the log back this far (default the table's
                             delta.logRetentionDuration, else 30)
      --dry-run          list what would be deleted, delete nothing
  checkpoint <table>   write a Parquet checkpoint of the latest version

access tokens for the collector's HTTP ingest (INLET_COLLECTOR_TOKENS_FILE):
  token new            a new random token, printed once, and its entry for the token file
      --name <name>      who will hold it (in logs and refusals)
      --datasets <list>  the datasets it covers, comma-separated, or "*"
      --format <f>       table (default: text to read) or json

dead letters, on the bus (each also takes --format table|json):
  dlq list             dead letters in stream order: stage, dataset, code, reason, source
  dlq replay           send them back: a frame to the subject it came from, an event through
                       the collector (validated again); a replayed letter leaves the DLQ
                       once the lake's dead_letters table holds its copy
      --nats <url>       the NATS server (default $INLET_NATS_URL, else ${DEFAULT_NATS_URL})
      --stage <s>        only letters of this stage (collector, processor, enricher, lake-writer, cdc)
      --dataset <ds>     only letters of this dataset
      --code <code>      only letters with this error code
      --seq <n|a-b>      only the letter at DLQ sequence n, or those from a to b
      --limit <n>        at most n letters (list default ${DEFAULT_LIST_LIMIT}; replay default all)
      --dry-run          replay: say what would happen, send and delete nothing
      --keep             replay: keep replayed letters in the DLQ

The SQL may also come on stdin ("-" or nothing after the command).
`;

const COMMANDS = [
  "sql",
  "query",
  "datasets",
  "history",
  "compact",
  "vacuum",
  "checkpoint",
  "dlq",
  "token",
] as const;
const MAINTENANCE: readonly string[] = ["history", "compact", "vacuum", "checkpoint"];

/** Runs the `inlet` command line; returns the exit status (0 ok, 1 failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return (await dispatch(argv, io)) ?? 0;
  } catch (error) {
    await write(io.stderr, `inlet: ${error instanceof Error ? error.message : String(error)}\n`);
    const usage = error instanceof CliError && error.code === CliErrorCode.Usage;
    if (usage) await write(io.stderr, "run `inlet --help` for usage\n");
    return usage ? 2 : 1;
  }
}

// Resolves with an exit status when the command has one of its own (dlq replay).
async function dispatch(argv: readonly string[], io: CliIo): Promise<number | undefined> {
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
    command === "datasets" || command === "dlq" || command === "token" || MAINTENANCE.includes(command)
      ? [OutputFormat.Table, OutputFormat.Json]
      : undefined,
  );
  // An empty variable counts as unset, as in the services' configuration.
  const lakeDir = values.lake ?? (io.env.INLET_LAKE_DIR || "lake");
  const url = values.url ?? (io.env.INLET_QUERY_URL || DEFAULT_QUERY_URL);
  const token = values.token ?? (io.env.INLET_QUERY_TOKEN || undefined);
  if (command === "dlq") return dlq(positionals, values, format, io);
  if (command === "token") {
    if (positionals.length !== 1 || positionals[0] !== "new") {
      throw new CliError(
        CliErrorCode.Usage,
        "token takes new: inlet token new --name <name> --datasets <list>",
      );
    }
    const name = values.name;
    if (name === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw new CliError(CliErrorCode.Usage, "token new needs --name: 1-64 letters, digits, '.', '_' or '-'");
    }
    await runTokenNew({ name, datasets: parseTokenDatasets(values.datasets), format }, io);
    return;
  }
  if (MAINTENANCE.includes(command)) {
    if (positionals.length !== 1) {
      throw new CliError(
        CliErrorCode.Usage,
        `${command} takes one table name: inlet ${command} --lake <dir> <table>`,
      );
    }
    const table = { lakeDir, table: positionals[0] as string, format };
    switch (command) {
      case "history":
        await runHistory({ ...table, limit: optionalPositiveInt("limit", values.limit) }, io);
        return;
      case "compact":
        await runCompact(
          {
            ...table,
            targetMb: parsePositiveInt("target-mb", values["target-mb"], 128),
            minFiles: parseMinFiles(values["min-files"]),
          },
          io,
        );
        return;
      case "vacuum":
        await runVacuum(
          {
            ...table,
            retentionHours: parseRetentionHours(values["retention-hours"]),
            ...parseLogRetentionDays(values["log-retention-days"]),
            dryRun: values["dry-run"] === true,
          },
          io,
        );
        return;
      default:
        await runCheckpoint(table, io);
        return;
    }
  }
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
        {
          url,
          sql: await sqlText(positionals, io),
          format,
          versions: parseVersions(values.version),
          ...(token === undefined ? {} : { token }),
        },
        io,
      );
      return;
    default:
      if (positionals.length > 0) throw new CliError(CliErrorCode.Usage, "datasets takes no arguments");
      await runDatasets(
        values.lake !== undefined
          ? { lakeDir: values.lake, format }
          : { url, format, ...(token === undefined ? {} : { token }) },
        io,
      );
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
        limit: { type: "string" },
        "target-mb": { type: "string" },
        "min-files": { type: "string" },
        "retention-hours": { type: "string" },
        "log-retention-days": { type: "string" },
        "dry-run": { type: "boolean" },
        nats: { type: "string" },
        stage: { type: "string" },
        dataset: { type: "string" },
        code: { type: "string" },
        seq: { type: "string" },
        keep: { type: "boolean" },
        name: { type: "string" },
        datasets: { type: "string" },
        token: { type: "string" },
        // Advanced: streams and subjects under a prefix (tests, a shared server).
        prefix: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new CliError(CliErrorCode.Usage, (error as Error).message, { cause: error });
  }
}

/** `inlet dlq list|replay`: the subcommand and its filters, checked before connecting. */
async function dlq(
  positionals: readonly string[],
  values: ReturnType<typeof parse>["values"],
  format: OutputFormat,
  io: CliIo,
): Promise<number | undefined> {
  const [sub, ...extra] = positionals;
  if ((sub !== "list" && sub !== "replay") || extra.length > 0) {
    throw new CliError(CliErrorCode.Usage, "dlq takes list or replay: inlet dlq list|replay [options]");
  }
  if (values.stage !== undefined && !isStage(values.stage)) {
    throw new CliError(
      CliErrorCode.Usage,
      `unknown stage "${values.stage}"; expected one of ${Object.values(Stage).join(", ")}`,
    );
  }
  if (values.dataset !== undefined && !isDatasetName(values.dataset)) {
    throw new CliError(
      CliErrorCode.Usage,
      `--dataset must be a dataset name (lowercase letters, digits and _), got "${values.dataset}"`,
    );
  }
  if (sub === "list" && (values["dry-run"] || values.keep)) {
    throw new CliError(CliErrorCode.Usage, "--dry-run and --keep are options of dlq replay");
  }
  const options = {
    natsUrl: values.nats ?? (io.env.INLET_NATS_URL || DEFAULT_NATS_URL),
    prefix: values.prefix ?? "",
    format,
    stage: values.stage,
    dataset: values.dataset,
    code: values.code,
    ...parseSeqRange(values.seq),
    limit: optionalPositiveInt("limit", values.limit),
  };
  if (sub === "list") {
    await runDlqList(options, io);
    return undefined;
  }
  return runDlqReplay({ ...options, dryRun: values["dry-run"] === true, keep: values.keep === true }, io);
}

// `--seq 12` or `--seq 10-20`: DLQ stream sequences, both ends included.
function parseSeqRange(value: string | undefined): { fromSeq?: number; toSeq?: number } {
  if (value === undefined) return {};
  const match = /^(\d+)(?:-(\d+))?$/.exec(value);
  const from = Number(match?.[1]);
  const to = match?.[2] === undefined ? from : Number(match[2]);
  if (match === null || from < 1 || to < from) {
    throw new CliError(
      CliErrorCode.Usage,
      `--seq expects a sequence or a range, e.g. 12 or 10-20, got "${value}"`,
    );
  }
  return { fromSeq: from, toSeq: to };
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

function optionalPositiveInt(name: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : parsePositiveInt(name, value, 0);
}

function parseMinFiles(value: string | undefined): number {
  const minFiles = parsePositiveInt("min-files", value, 2);
  if (minFiles < 2) throw new CliError(CliErrorCode.Usage, `--min-files must be at least 2, got "${value}"`);
  return minFiles;
}

// The log's retention, days: the table's own when not given.
function parseLogRetentionDays(value: string | undefined): { logRetentionDays?: number } {
  if (value === undefined) return {};
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
    throw new CliError(CliErrorCode.Usage, `--log-retention-days must be a number above 0, got "${value}"`);
  }
  return { logRetentionDays: Number(value) };
}

// A retention under an hour could delete a file a running lake-writer is about to commit.
function parseRetentionHours(value: string | undefined): number {
  if (value === undefined) return 168;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) < 1) {
    throw new CliError(
      CliErrorCode.Usage,
      `--retention-hours must be a number of at least 1 (a shorter one could delete a file a writer is about to commit), got "${value}"`,
    );
  }
  return Number(value);
}
