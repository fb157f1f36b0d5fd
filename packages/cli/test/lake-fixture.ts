import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AvroSchema, type CuratedRow, CuratedTable, ParquetWriter } from "@inlet/lake";

const CLICKS_SCHEMA = {
  type: "record",
  name: "clicks",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "user_id", type: "string" },
    { name: "views", type: "long" },
    { name: "note", type: ["null", "string"], default: null },
  ],
} as AvroSchema;

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Click `i`: event time 2024-05-01T12:00:00Z + i s, `views` = i. */
export function click(i: number, note: string | null = null): CuratedRow {
  return {
    event: { ts: T0 + i * 1000, user_id: `u${i}`, views: i, note },
    eventId: `e${i}`,
    ingestedAt: T0 + i * 1000 + 7,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    schemaVersion: 1,
  };
}

/** Creates a temporary lake whose curated `clicks` table holds `rows`, written by the lake's own writer. */
export async function createTestLake(rows: CuratedRow[]): Promise<{ dir: string; remove(): Promise<void> }> {
  return createBatchedTestLake([rows]);
}

/** Like {@link createTestLake}, one commit (and one small file per event date) per batch; txn version = batch number. */
export async function createBatchedTestLake(
  batches: CuratedRow[][],
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-cli-lake-"));
  const writer = await ParquetWriter.create({ threads: 1 });
  try {
    const table = await CuratedTable.open({
      lakeDir: dir,
      dataset: "clicks",
      avroSchema: CLICKS_SCHEMA,
      schemaVersion: 1,
      eventTimeField: "ts",
      appId: "lake-writer-clicks",
      writer,
    });
    for (const [i, rows] of batches.entries()) await table.append(rows, i + 1);
  } finally {
    await writer.close();
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
