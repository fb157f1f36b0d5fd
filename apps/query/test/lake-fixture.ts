import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AvroSchema, type CuratedRow, CuratedTable, ParquetWriter } from "@inlet/lake";

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

/** Click `i`: event time T0 + i s, ingested 7 ms later. */
export function click(i: number, note: string | null = null): CuratedRow {
  return {
    event: { ts: T0 + i * 1000, user_id: `u${i}`, views: i, note },
    eventId: `e${i}`,
    ingestedAt: T0 + i * 1000 + 7,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    schemaVersion: 1,
  };
}

/** A temporary lake with a curated `clicks` Delta table written by the lake's own writer. */
export interface TestLake {
  dir: string;
  /** Commits `rows` as the next Delta version. */
  append(rows: CuratedRow[]): Promise<void>;
  remove(): Promise<void>;
}

/** Creates a temporary lake whose `clicks` table holds `rows` (version 0). */
export async function createTestLake(rows: CuratedRow[]): Promise<TestLake> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-query-lake-"));
  const writer = await ParquetWriter.create({ threads: 1 });
  const table = await CuratedTable.open({
    lakeDir: dir,
    dataset: "clicks",
    avroSchema: CLICKS_SCHEMA,
    schemaVersion: 1,
    eventTimeField: "ts",
    appId: "lake-writer-clicks",
    writer,
  });
  let seq = 0;
  const append = async (batch: CuratedRow[]) => {
    await table.append(batch, ++seq);
  };
  await append(rows);
  return {
    dir,
    append,
    async remove() {
      await writer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
