import { vacuumTable } from "@inlet/lake";
import { type CliIo, write } from "./cli-io.js";
import { formatBytes } from "./datasets-command.js";
import { lakeTableDir } from "./lake-table.js";
import { OutputFormat } from "./output-format.js";

/** Options of {@link runVacuum}. */
export interface VacuumCommandOptions {
  lakeDir: string;
  table: string;
  /** Unreferenced files younger than this many hours are kept. */
  retentionHours: number;
  dryRun: boolean;
  format: OutputFormat;
}

/**
 * `inlet vacuum`: deletes the table's files no snapshot needs any more (compacted away, or left by
 * a writer that crashed before committing) once older than the retention (no service needed).
 */
export async function runVacuum(options: VacuumCommandOptions, io: CliIo): Promise<void> {
  const tableDir = await lakeTableDir(options.lakeDir, options.table);
  const result = await vacuumTable({
    tableDir,
    retentionMs: options.retentionHours * 3_600_000,
    dryRun: options.dryRun,
  });
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify({ ...result, dryRun: options.dryRun })}\n`);
    return;
  }
  for (const file of result.deleted) await write(io.stdout, `${file}\n`);
  const verb = options.dryRun ? "would delete" : "deleted";
  await write(
    io.stdout,
    `${verb} ${result.deleted.length} files (${formatBytes(result.bytesDeleted)}), kept ${result.kept}\n`,
  );
}
