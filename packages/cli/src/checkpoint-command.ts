import { readDeltaSnapshot, writeCheckpoint } from "@inlet/lake";
import { CliError, CliErrorCode } from "./cli-error.js";
import { type CliIo, write } from "./cli-io.js";
import { lakeTableDir } from "./lake-table.js";
import { OutputFormat } from "./output-format.js";

/** Options of {@link runCheckpoint}. */
export interface CheckpointCommandOptions {
  lakeDir: string;
  table: string;
  format: OutputFormat;
}

/** `inlet checkpoint`: writes a Parquet checkpoint of the table's latest version (no service needed). */
export async function runCheckpoint(options: CheckpointCommandOptions, io: CliIo): Promise<void> {
  const tableDir = await lakeTableDir(options.lakeDir, options.table);
  const snapshot = await readDeltaSnapshot(tableDir);
  if (snapshot === undefined) {
    throw new CliError(CliErrorCode.Failed, `table "${options.table}" has no readable version`);
  }
  const written = await writeCheckpoint(tableDir, snapshot);
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify(written)}\n`);
    return;
  }
  await write(
    io.stdout,
    written.created
      ? `checkpoint at version ${written.version}: ${written.size} actions, ${snapshot.files.length} files\n`
      : `version ${written.version} already has a checkpoint\n`,
  );
}
