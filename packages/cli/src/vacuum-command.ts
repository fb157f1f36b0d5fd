import { cleanupDeltaLog, vacuumTable } from "@inlet/lake";
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
  /** The log before the newest checkpoint older than this is deleted; default the table's own (30 days). */
  logRetentionDays?: number;
  dryRun: boolean;
  format: OutputFormat;
}

/**
 * `inlet vacuum`: deletes the table's files no snapshot needs any more (compacted away, or left by
 * a writer that crashed before committing) once older than the retention, then the log before the
 * newest checkpoint past the log retention (no service needed).
 */
export async function runVacuum(options: VacuumCommandOptions, io: CliIo): Promise<void> {
  const tableDir = await lakeTableDir(options.lakeDir, options.table);
  const result = await vacuumTable({
    tableDir,
    retentionMs: options.retentionHours * 3_600_000,
    dryRun: options.dryRun,
  });
  const log = await cleanupDeltaLog({
    tableDir,
    ...(options.logRetentionDays === undefined ? {} : { retentionMs: options.logRetentionDays * 86_400_000 }),
    dryRun: options.dryRun,
  });
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify({ ...result, log, dryRun: options.dryRun })}\n`);
    return;
  }
  for (const file of result.deleted) await write(io.stdout, `${file}\n`);
  const verb = options.dryRun ? "would delete" : "deleted";
  await write(
    io.stdout,
    `${verb} ${result.deleted.length} files (${formatBytes(result.bytesDeleted)}), kept ${result.kept}\n`,
  );
  if (log.skipped !== undefined) {
    await write(io.stdout, `log kept whole: ${log.skipped}\n`);
  } else if (log.deleted.length > 0) {
    for (const file of log.deleted) await write(io.stdout, `_delta_log/${file}\n`);
    await write(
      io.stdout,
      `${verb} ${log.deleted.length} log files (${formatBytes(log.bytesDeleted)}): the log begins at version ${log.keptFrom}\n`,
    );
  }
}
