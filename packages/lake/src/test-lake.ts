import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AvroSchema } from "./avro-columns.js";
import { type CuratedRow, CuratedTable } from "./curated-table.js";
import { ParquetWriter } from "./parquet-writer.js";

// Test support, exported as `@inlet/lake/testing`: a small curated `clicks` table written by the
// lake's own writer, for the tests of what reads the lake (the SQL engine, the query service, the CLI).

/** The `clicks` schema the tests write: a timestamp, a string, a long and a nullable string. */
export const CLICKS_SCHEMA = {
  type: "record",
  name: "clicks",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "user_id", type: "string" },
    { name: "views", type: "long" },
    { name: "note", type: ["null", "string"], default: null },
  ],
} as AvroSchema;

/** 2024-05-01T12:00:00Z, the event time of click 0. */
export const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Click `i`: event time T0 + i s, ingested 7 ms later, `user_id` `u<i>`, `views` i, id `e<i>`. */
export function click(i: number, note: string | null = null): CuratedRow {
  return {
    event: { ts: T0 + i * 1000, user_id: `u${i}`, views: i, note },
    eventId: `e${i}`,
    ingestedAt: T0 + i * 1000 + 7,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    schemaVersion: 1,
  };
}

/**
 * Opens the curated `clicks` table of `lakeDir` (created if absent) as the lake-writer would, with
 * a checkpoint every `checkpointInterval` commits (Delta's 10 by default).
 */
export function openClicksTable(
  lakeDir: string,
  writer: ParquetWriter,
  options: { checkpointInterval?: number } = {},
): Promise<CuratedTable> {
  return CuratedTable.open({
    lakeDir,
    dataset: "clicks",
    avroSchema: CLICKS_SCHEMA,
    schemaVersion: 1,
    eventTimeField: "ts",
    appId: "lake-writer-clicks",
    writer,
    ...options,
  });
}

/** A temporary lake with a curated `clicks` table. */
export interface TestLake {
  readonly dir: string;
  /** Commits `rows` as the table's next version (one small file per event date). */
  append(rows: CuratedRow[]): Promise<void>;
  /** Closes the lake's writer and removes the directory. */
  remove(): Promise<void>;
}

/**
 * Creates a temporary lake whose `clicks` table holds each of `batches` as one commit, in order
 * (the commits' transaction versions count from 1).
 */
export async function createTestLake(...batches: CuratedRow[][]): Promise<TestLake> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-test-lake-"));
  const writer = await ParquetWriter.create({ threads: 1 });
  const remove = async () => {
    await writer.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const table = await openClicksTable(dir, writer);
    let seq = 0;
    const append = async (rows: CuratedRow[]) => {
      await table.append(rows, ++seq);
    };
    for (const rows of batches) await append(rows);
    return { dir, append, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
