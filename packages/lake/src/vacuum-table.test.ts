import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AvroSchema } from "./avro-columns.js";
import { compactTable } from "./compact-table.js";
import { CuratedTable } from "./curated-table.js";
import { readDeltaSnapshot } from "./delta-log.js";
import { LakeError } from "./errors.js";
import { ParquetWriter } from "./parquet-writer.js";
import { SqlEngine } from "./sql-engine.js";
import { vacuumTable } from "./vacuum-table.js";

const schema = {
  type: "record",
  name: "clicks",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "n", type: "long" },
  ],
} as AvroSchema;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 4, 1, 12);

describe("vacuumTable", () => {
  let lakeDir: string;
  let tableDir: string;
  let writer: ParquetWriter;

  beforeAll(async () => {
    writer = await ParquetWriter.create({ threads: 1 });
  });
  afterAll(async () => {
    await writer.close();
  });
  beforeEach(async () => {
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-vacuum-"));
    tableDir = join(lakeDir, "curated", "clicks");
  });
  afterEach(async () => {
    await rm(lakeDir, { recursive: true, force: true });
  });

  // 6 commits of one file each, compacted into one: 6 removed files and 1 live one.
  async function compactedTable(): Promise<{ before: number }> {
    const table = await CuratedTable.open({
      lakeDir,
      dataset: "clicks",
      avroSchema: schema,
      schemaVersion: 1,
      eventTimeField: "ts",
      appId: "lake-writer-clicks",
      writer,
    });
    for (let i = 0; i < 6; i++) {
      await table.append(
        [{ event: { ts: T0 + i, n: i }, eventId: `e${i}`, ingestedAt: T0, traceId: "", schemaVersion: 1 }],
        i + 1,
      );
    }
    const before = table.snapshot!.version;
    await compactTable({ tableDir, writer });
    return { before };
  }

  const ageAll = async (dir: string, ms: number) => {
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), ms / 1000, ms / 1000);
    }
  };
  const partition = () => join(tableDir, "event_date=2024-05-01");

  it("deletes removed files and crashed writers' orphans past the retention, nothing referenced", async () => {
    const { before } = await compactedTable();
    const orphan = join(partition(), `part-${randomUUID()}.zstd.parquet`);
    const temp = join(partition(), `.part-${randomUUID()}.zstd.parquet.${randomUUID()}.tmp`);
    await writeFile(orphan, "written, never committed");
    await writeFile(temp, "a write cut short");
    await writeFile(join(partition(), ".keep"), "hidden: not ours to delete");
    await mkdir(join(tableDir, "_side"));
    await writeFile(join(tableDir, "_side", "notes.parquet"), "in a hidden directory");
    const log = await readdir(join(tableDir, "_delta_log"));
    // Everything was written "now"; ten days later, the removes are older than 7 days too.
    await ageAll(tableDir, Date.now() - 10 * DAY);
    const engine = await SqlEngine.create({ lakeDir });
    try {
      const rows = (await engine.rows("SELECT * FROM clicks ORDER BY ALL")).rows;
      // Dry run first: the list, nothing gone.
      const later = Date.now() + 8 * DAY;
      const dry = await vacuumTable({ tableDir, dryRun: true, now: later });
      expect(dry.deleted).toHaveLength(8);
      expect(await readdir(partition())).toHaveLength(10);

      const result = await vacuumTable({ tableDir, now: later });
      expect(result.deleted).toEqual(dry.deleted);
      expect(result.deleted).toContain(`event_date=2024-05-01/${orphan.split("/").at(-1)}`);
      expect(result.deleted).toContain(`event_date=2024-05-01/${temp.split("/").at(-1)}`);
      expect(result.kept).toBe(1);
      expect(result.bytesDeleted).toBeGreaterThan(0);
      const live = (await readDeltaSnapshot(tableDir))!.files.map((f) => f.path.split("/").at(-1));
      expect((await readdir(partition())).sort()).toEqual([".keep", ...live].sort());
      expect(await readdir(join(tableDir, "_side"))).toEqual(["notes.parquet"]);
      expect(await readdir(join(tableDir, "_delta_log"))).toEqual(log);
      expect((await engine.rows("SELECT * FROM clicks ORDER BY ALL")).rows).toEqual(rows);
      // The version before compaction read the files vacuum deleted: time travel there fails now.
      await expect(engine.rows("SELECT * FROM clicks", { versions: { clicks: before } })).rejects.toThrow();
    } finally {
      await engine.close();
    }
  });

  it("keeps files younger than the retention and files removed less than the retention ago", async () => {
    await compactedTable();
    const orphan = join(partition(), `part-${randomUUID()}.zstd.parquet`);
    await writeFile(orphan, "an in-flight writer's file, about to be committed");
    // The removed files were written long ago, but removed just now: kept for readers of older versions.
    await ageAll(tableDir, Date.now() - 30 * DAY);
    await utimes(orphan, new Date(), new Date());
    const result = await vacuumTable({ tableDir });
    expect(result).toEqual({ deleted: [], bytesDeleted: 0, kept: 8 });
    // A retention shorter than the file's age and the remove's age deletes them.
    const short = await vacuumTable({ tableDir, retentionMs: 0, now: Date.now() + 1000 });
    expect(short.deleted).toHaveLength(7);
    expect(short.kept).toBe(1);
  });

  it("refuses a directory that is not a delta table", async () => {
    await mkdir(tableDir, { recursive: true });
    await expect(vacuumTable({ tableDir })).rejects.toBeInstanceOf(LakeError);
    await expect(vacuumTable({ tableDir, retentionMs: -1 })).rejects.toThrow(/retentionMs/);
  });
});
