import { randomUUID } from "node:crypto";
import { DuckDBInstance } from "@duckdb/node-api";
import { DurableName } from "@inlet/bus";
import { curatedTableDir, deltaFilePath, quoteString, readDeltaSnapshot, tableHistory } from "@inlet/lake";
import { waitFor } from "@inlet/testing";
import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { type Harness, type Order, harnessTest as test } from "./harness.js";

const durable = DurableName.lakeWriter("orders");
const TARGET = 32 * 1024;
const DAY = Date.UTC(2024, 2, 1);

/** Orders of one day with random items (and so random event ids): about 30 bytes a row in Parquet. */
function randomOrders(count: number): Order[] {
  return Array.from({ length: count }, (_, i) => ({ ts: DAY + i, item: randomUUID(), qty: i % 7 }));
}

/** The live data files of the orders table: size and rows. */
async function liveFiles(harness: Harness): Promise<{ path: string; size: number; rows: number }[]> {
  const snapshot = await readDeltaSnapshot(curatedTableDir(harness.lakeDir, "orders"));
  return (snapshot?.files ?? []).map((f) => ({
    path: deltaFilePath(snapshot!.tableDir, f.path),
    size: f.size,
    rows: f.stats?.numRecords ?? 0,
  }));
}

async function expectExactly(harness: Harness, count: number): Promise<void> {
  const rows = await harness.rows();
  expect(rows).toHaveLength(count);
  expect(new Set(rows.map((r) => r._event_id)).size).toBe(count);
}

describe("file sizing", () => {
  test("rolls a file when a partition's rows reach the target size", async ({ harness }) => {
    // Only the target can start a flush: the interval is a minute away and the other bounds far.
    const writer = await harness.startWriter({
      INLET_WRITER_TARGET_FILE_BYTES: String(TARGET),
      INLET_WRITER_FLUSH_MS: "1m",
    });
    let lastSeq = 0;
    for (let i = 0; i < 60; i++) lastSeq = await harness.publishOrders(randomOrders(100));

    await waitFor(async () => (await liveFiles(harness)).length >= 3, { message: "files rolled by size" });
    await writer.stop();
    expect(writer.curated.get("orders")?.committedSeq).toBe(lastSeq);
    await expectExactly(harness, 6_000);

    const files = await liveFiles(harness);
    // The first file is sized by the Avro payload (larger than Parquet), later ones by what the
    // table's files weigh: every file but the one flushed at stop comes near the target.
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expect(file.size).toBeLessThanOrEqual(TARGET * 1.25);
    const full = files.slice(1, -1);
    for (const file of full) expect(file.size).toBeGreaterThan(TARGET * 0.5);
  });

  test("splits a batch that grew past the target at the gate into several commits", async ({ harness }) => {
    const ackWaitMs = 2_000;
    await harness.ensureCuratedConsumer("orders", ackWaitMs);
    for (let i = 0; i < 2; i++) await harness.publishOrders(randomOrders(100));
    // A dead writer holds the first two frames: the next writer's gate stays closed until they
    // come back, and its batch grows meanwhile.
    const consumer = await harness.bus.js.consumers.get(harness.stream(), durable);
    const held: JsMsg[] = [];
    for await (const msg of await consumer.fetch({ max_messages: 2, expires: 1_000 })) held.push(msg);
    expect(held).toHaveLength(2);
    let lastSeq = 0;
    for (let i = 0; i < 40; i++) lastSeq = await harness.publishOrders(randomOrders(100));

    const writer = await harness.startWriter({
      INLET_WRITER_TARGET_FILE_BYTES: String(TARGET),
      INLET_WRITER_ACK_WAIT_MS: String(ackWaitMs),
    });
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= lastSeq, { message: "the commits" });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame acked" });
    await expectExactly(harness, 4_200);

    const history = (await tableHistory(curatedTableDir(harness.lakeDir, "orders"))).reverse();
    expect(history.length).toBeGreaterThanOrEqual(3);
    // Each commit carries the txn of its own last frame, rising: a crash between them keeps a prefix.
    const txns = history.map((h) => h.txns?.[0]?.version ?? 0);
    expect(txns).toEqual([...txns].sort((a, b) => a - b));
    expect(txns.at(-1)).toBe(lastSeq);
    for (const file of await liveFiles(harness)) expect(file.size).toBeLessThanOrEqual(TARGET * 1.25);
  });

  test("writes row groups of 122,880 rows where a file is big enough", async ({ harness }) => {
    const writer = await harness.startWriter({
      INLET_WRITER_MAX_ROWS: "300000",
      INLET_WRITER_MAX_BYTES: String(256 * 1024 * 1024),
      INLET_WRITER_MAX_ACK_PENDING: "2000",
      INLET_WRITER_FLUSH_MS: "1m",
    });
    let lastSeq = 0;
    for (let i = 0; i < 250; i++) lastSeq = await harness.publishOrders(harness.orders(1_000, { ts: DAY }));
    await writer.stop();
    expect(writer.curated.get("orders")?.committedSeq).toBe(lastSeq);

    const [file, ...others] = await liveFiles(harness);
    expect(others).toHaveLength(0);
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(${quoteString(file!.path)}) ORDER BY 1`,
      );
      expect(reader.getRows().map((r) => Number(r[1]))).toEqual([122_880, 122_880, 4_240]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
