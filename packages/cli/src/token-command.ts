import { isDatasetName } from "@inlet/bus";
import { CliError, CliErrorCode } from "./cli-error.js";
import { type CliIo, write } from "./cli-io.js";
import { OutputFormat } from "./output-format.js";

/** Options of {@link runTokenNew}. */
export interface TokenNewOptions {
  /** Who will hold the token: in the collector's logs, spans and refusals. */
  name: string;
  /** The datasets it covers, or `"*"`. */
  datasets: readonly string[] | "*";
  format: OutputFormat;
}

/** Reads `--datasets a,b` (or `*`) into what a token file's entry holds; throws a usage error. */
export function parseTokenDatasets(value: string | undefined): readonly string[] | "*" {
  if (value === undefined) {
    throw new CliError(
      CliErrorCode.Usage,
      'token new needs --datasets: dataset names, comma-separated, or "*"',
    );
  }
  if (value.trim() === "*") return "*";
  const datasets = value.split(",").map((d) => d.trim());
  const bad = datasets.find((d) => !isDatasetName(d));
  if (bad !== undefined) {
    throw new CliError(CliErrorCode.Usage, `--datasets: "${bad}" is not a dataset name`);
  }
  return datasets;
}

/**
 * `inlet token new`: a new random access token, printed once, and the entry that grants it to add
 * to the collector's token file (which keeps the token's SHA-256, never the token).
 */
export async function runTokenNew(options: TokenNewOptions, io: CliIo): Promise<void> {
  // Loaded here only: the runtime package brings the services' HTTP shell along.
  const { newAccessToken } = await import("@inlet/runtime");
  const { token, sha256 } = newAccessToken();
  const entry = { name: options.name, sha256, datasets: options.datasets };
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify({ token, entry })}\n`);
    return;
  }
  await write(
    io.stdout,
    `token for "${options.name}" (shown this once: give it to the producer, keep it secret):\n` +
      `  ${token}\n` +
      "add this entry to the token file's array (INLET_COLLECTOR_TOKENS_FILE):\n" +
      `  ${JSON.stringify(entry)}\n` +
      `producers send it as: Authorization: Bearer ${token.slice(0, 10)}…\n`,
  );
}
