import { compactTable, ParquetWriter } from "@inlet/lake";
import { type CliIo, write } from "./cli-io.js";
import { formatBytes } from "./datasets-command.js";
import { lakeTableDir, partitionLabel } from "./lake-table.js";
import { OutputFormat } from "./output-format.js";
import { renderTable } from "./table.js";

/** Options of {@link runCompact}. */
export interface CompactCommandOptions {
  lakeDir: string;
  table: string;
  /** Largest file to write, MiB. */
  targetMb: number;
  /** Fewest small files a partition needs to be compacted. */
  minFiles: number;
  format: OutputFormat;
}

/**
 * `inlet compact`: rewrites each partition's small files into large ones in one commit, safely
 * while a lake-writer keeps appending (no service needed).
 */
export async function runCompact(options: CompactCommandOptions, io: CliIo): Promise<void> {
  const tableDir = await lakeTableDir(options.lakeDir, options.table);
  const writer = await ParquetWriter.create();
  let result: Awaited<ReturnType<typeof compactTable>>;
  try {
    result = await compactTable({
      tableDir,
      writer,
      targetFileBytes: options.targetMb * 1024 * 1024,
      minFiles: options.minFiles,
      appId: "inlet-cli",
    });
  } finally {
    await writer.close();
  }
  if (options.format === OutputFormat.Json) {
    await write(io.stdout, `${JSON.stringify(result)}\n`);
    return;
  }
  if (result.partitions.length === 0) {
    await write(io.stdout, `nothing to compact: no partition has ${options.minFiles} or more small files\n`);
    return;
  }
  const columns = [
    { name: "partition", type: "VARCHAR" },
    { name: "files_removed", type: "BIGINT" },
    { name: "files_added", type: "BIGINT" },
    { name: "rows", type: "BIGINT" },
    { name: "size_before", type: "VARCHAR" },
    { name: "size_after", type: "VARCHAR" },
    { name: "status", type: "VARCHAR" },
  ];
  const rows = result.partitions.map((p) => [
    partitionLabel(p.partitionValues),
    String(p.removed),
    String(p.added),
    String(p.rows),
    formatBytes(p.bytesRemoved),
    formatBytes(p.bytesAdded),
    p.aborted === undefined ? "compacted" : `aborted: ${p.aborted}`,
  ]);
  await write(io.stdout, renderTable(columns, rows));
  await write(
    io.stdout,
    result.version === undefined
      ? "nothing committed\n"
      : `committed version ${result.version}: ${result.removed} files replaced by ${result.added}\n`,
  );
}
