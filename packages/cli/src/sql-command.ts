import { SqlEngine, SqlEngineError, SqlEngineErrorCode, type SqlFormat } from "@inlet/lake";
import { CliError, CliErrorCode } from "./cli-error.js";
import { type CliIo, write } from "./cli-io.js";
import { OutputFormat } from "./output-format.js";
import { renderTable } from "./table.js";

/** Options of {@link runSql}. */
export interface SqlCommandOptions {
  lakeDir: string;
  sql: string;
  format: OutputFormat;
  maxRows: number;
  timeoutMs: number;
  versions?: Record<string, number>;
}

/**
 * `inlet sql`: runs one SELECT on a lake directory in this process, through the same sandboxed
 * engine as the query service (read-only, nothing outside the lake, row and time limits).
 */
export async function runSql(options: SqlCommandOptions, io: CliIo): Promise<void> {
  const engine = await openEngine(options);
  try {
    const queryOptions = { versions: options.versions };
    if (options.format === OutputFormat.Table) {
      const result = await engine.rows(options.sql, queryOptions);
      await write(io.stdout, renderTable(result.columns, result.rows));
      if (result.truncated) {
        await write(
          io.stderr,
          `(only the first ${options.maxRows} rows are shown; raise --max-rows for more)\n`,
        );
      }
      return;
    }
    const result = await engine.query(options.sql, options.format as SqlFormat, queryOptions);
    for await (const piece of result.text()) await write(io.stdout, piece);
    if (options.format === OutputFormat.Json) await write(io.stdout, "\n");
    if (result.truncated) {
      await write(
        io.stderr,
        `(only the first ${options.maxRows} rows are shown; raise --max-rows for more)\n`,
      );
    }
  } catch (error) {
    if (error instanceof SqlEngineError)
      throw new CliError(CliErrorCode.Failed, error.message, { cause: error });
    throw error;
  } finally {
    await engine.close();
  }
}

/** Opens the engine on the lake, or fails with a message naming the directory. */
export async function openEngine(options: {
  lakeDir: string;
  maxRows?: number;
  timeoutMs?: number;
}): Promise<SqlEngine> {
  try {
    return await SqlEngine.create({
      lakeDir: options.lakeDir,
      maxRows: options.maxRows,
      timeoutMs: options.timeoutMs,
    });
  } catch (error) {
    if (error instanceof SqlEngineError && error.code === SqlEngineErrorCode.NoLake) {
      throw new CliError(CliErrorCode.Failed, `${error.message} (set --lake or INLET_LAKE_DIR)`, {
        cause: error,
      });
    }
    throw error;
  }
}
