import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { DeltaLogError, LakeErrorCode } from "./errors.js";
import { quoteString } from "./sql.js";

/**
 * The rows of a Parquet checkpoint (one file, or every part of a multi-part one) as parsed JSON
 * objects shaped like log lines (`{"add": {…}, "remove": null, …}`), read with DuckDB: each row is
 * turned into JSON inside SQL. Uses `connection` when given, else a private in-memory DuckDB.
 */
export async function readCheckpointRows(
  files: readonly string[],
  connection?: DuckDBConnection,
): Promise<unknown[]> {
  if (connection !== undefined) return query(connection, files);
  const instance = await DuckDBInstance.create(":memory:");
  const own = await instance.connect();
  try {
    return await query(own, files);
  } finally {
    own.closeSync();
    instance.closeSync();
  }
}

async function query(connection: DuckDBConnection, files: readonly string[]): Promise<unknown[]> {
  const list = files.map(quoteString).join(", ");
  let rows: unknown[][];
  try {
    const reader = await connection.runAndReadAll(
      `SELECT to_json(checkpoint)::VARCHAR FROM read_parquet([${list}], union_by_name = true, hive_partitioning = false) AS checkpoint`,
    );
    rows = reader.getRows();
  } catch (cause) {
    throw new DeltaLogError(`cannot read delta checkpoint ${files.join(", ")}`, LakeErrorCode.CorruptLog, {
      cause,
    });
  }
  return rows.map((row) => JSON.parse(String(row[0])));
}
