import { access } from "node:fs/promises";
import { join } from "node:path";
import { curatedTableDir, deltaLogDir, LakeError, LakeErrorCode } from "@inlet/lake";
import { CliError, CliErrorCode } from "./cli-error.js";

/** The directory of curated table `table` in the lake, or a CliError naming what is missing. */
export async function lakeTableDir(lakeDir: string, table: string): Promise<string> {
  let tableDir: string;
  try {
    tableDir = curatedTableDir(lakeDir, table);
  } catch (error) {
    if (error instanceof LakeError && error.code === LakeErrorCode.InvalidArgument)
      throw new CliError(CliErrorCode.Usage, error.message, { cause: error });
    throw error;
  }
  try {
    await access(deltaLogDir(tableDir));
  } catch (error) {
    throw new CliError(
      CliErrorCode.Failed,
      `the lake ${lakeDir} has no table "${table}" (no ${join(tableDir, "_delta_log")}; set --lake or INLET_LAKE_DIR)`,
      { cause: error },
    );
  }
  return tableDir;
}

/** A partition as its directory name reads: `event_date=2024-05-01/…`; `(table)` when unpartitioned. */
export function partitionLabel(values: Readonly<Record<string, string | null>>): string {
  const parts = Object.entries(values).map(([column, value]) => `${column}=${value ?? "NULL"}`);
  return parts.length === 0 ? "(table)" : parts.join("/");
}
