import { mkdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  curatedTableDir,
  deltaCheckpointFileName,
  deltaCommitFileName,
  deltaFilePath,
  deltaLogDir,
  readDeltaSnapshot,
  tableHistory,
} from "@inlet/lake";
import { waitFor } from "@inlet/testing";
import { describe, expect } from "vitest";
import { harnessTest as test } from "./harness.js";

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(name) && line.includes('dataset="orders"'))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

describe("table maintenance", () => {
  test("compacts small files while the writer appends, and every event stays in the table once", async ({
    harness,
  }) => {
    const writer = await harness.startWriter({
      INLET_WRITER_FLUSH_MS: "50",
      INLET_WRITER_COMPACT_INTERVAL_MS: "300",
      INLET_WRITER_COMPACT_MIN_FILES: "4",
    });
    const tableDir = curatedTableDir(harness.lakeDir, "orders");
    // Two days of orders in frames of 10, a frame every few ms: a small file per flush and day.
    let lastSeq = 0;
    for (let i = 0; i < 200; i++) {
      lastSeq = await harness.publishOrders(
        harness.orders(10, i % 2 === 0 ? {} : { ts: Date.UTC(2024, 2, 2) }),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= lastSeq, { message: "every commit" });
    await waitFor(
      async () => (await tableHistory(tableDir)).filter((h) => h.operation === "OPTIMIZE").length >= 2,
      {
        message: "two compactions",
      },
    );
    const compactionsSeen = await metric(writer.url, "inlet_lake_writer_compaction_commits");
    await writer.stop();

    const rows = await harness.rows();
    expect(rows).toHaveLength(2_000);
    expect(new Set(rows.map((r) => r._event_id)).size).toBe(2_000);

    const history = (await tableHistory(tableDir)).reverse();
    const versions = (operation: string) =>
      history.filter((h) => h.operation === operation).map((h) => h.version);
    const optimize = versions("OPTIMIZE");
    const writes = versions("WRITE");
    // Compaction ran between appends, not after them.
    expect(writes.some((v) => v > optimize[0]!)).toBe(true);
    for (const v of optimize) {
      const entry = history[v]!;
      expect(entry.numRemovedFiles).toBeGreaterThanOrEqual(4);
      expect(entry.numFiles).toBeLessThan(entry.numRemovedFiles);
    }
    const snapshot = await readDeltaSnapshot(tableDir);
    const appended = history.reduce((n, h) => n + (h.operation === "WRITE" ? h.numFiles : 0), 0);
    expect(snapshot!.files.length).toBeLessThan(appended / 2);
    expect(compactionsSeen).toBeGreaterThanOrEqual(2);
    expect(compactionsSeen).toBeLessThanOrEqual(optimize.length);
  });

  test("vacuum deletes a crashed flush's orphan once it is older than the retention", async ({ harness }) => {
    const writer = await harness.startWriter({
      INLET_WRITER_VACUUM_INTERVAL_MS: "200",
      INLET_WRITER_VACUUM_RETENTION_MS: "1h",
    });
    const seq = await harness.publishOrders(harness.orders(5));
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commit" });

    // What a flush that died between writing its file and committing it leaves: one file two hours
    // old, one written a moment ago (it might still be about to be committed).
    const tableDir = curatedTableDir(harness.lakeDir, "orders");
    const partition = join(tableDir, "event_date=2024-03-01");
    await mkdir(partition, { recursive: true });
    const old = join(partition, "part-orphan-old.zstd.parquet");
    const young = join(partition, "part-orphan-young.zstd.parquet");
    await writeFile(old, "not committed");
    await writeFile(young, "not committed");
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);

    await waitFor(async () => !(await exists(old)), { message: "the old orphan vacuumed" });
    expect(await exists(young)).toBe(true);
    const snapshot = await readDeltaSnapshot(tableDir);
    for (const file of snapshot!.files) expect(await exists(deltaFilePath(tableDir, file.path))).toBe(true);
    expect(await harness.rows()).toHaveLength(5);
    expect(await metric(writer.url, "inlet_lake_writer_vacuum_files")).toBe(1);
  });

  test("vacuum also deletes the Delta log before the newest checkpoint past the log retention", async ({
    harness,
  }) => {
    const writer = await harness.startWriter({
      INLET_WRITER_MAX_ROWS: "5",
      INLET_WRITER_FLUSH_MS: "1m",
      INLET_WRITER_VACUUM_INTERVAL_MS: "200",
    });
    // Eleven commits (versions 0 to 10), a checkpoint at 10.
    let seq = 0;
    for (let i = 0; i < 11; i++) seq = await harness.publishOrders(harness.orders(5));
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commits" });
    const tableDir = curatedTableDir(harness.lakeDir, "orders");
    const logDir = deltaLogDir(tableDir);
    await waitFor(async () => exists(join(logDir, deltaCheckpointFileName(10))), {
      message: "the checkpoint",
    });

    // Forty days on, past the 30 days a table keeps its log by default.
    const fortyDaysAgo = new Date(Date.now() - 40 * 86_400_000);
    for (let v = 0; v <= 10; v++)
      await utimes(join(logDir, deltaCommitFileName(v)), fortyDaysAgo, fortyDaysAgo);

    await waitFor(async () => !(await exists(join(logDir, deltaCommitFileName(0)))), {
      message: "the old commits cleaned up",
    });
    for (let v = 0; v <= 9; v++) expect(await exists(join(logDir, deltaCommitFileName(v)))).toBe(false);
    expect(await exists(join(logDir, deltaCommitFileName(10)))).toBe(true);
    expect(await harness.rows()).toHaveLength(55);
    expect(await metric(writer.url, "inlet_lake_writer_log_cleanup_files")).toBe(10);
  });
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
