import { DurableName } from "@inlet/bus";
import { type CuratedRow, CuratedTable, ParquetWriter } from "@inlet/lake";
import { startNatsServer, waitFor } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { Harness, ORDERS_V2, type Order, harnessTest as test } from "./harness.js";

const durable = DurableName.lakeWriter("orders");

/** Publishes `frames` frames of `perFrame` orders, one after the other; resolves to the last sequence. */
async function publishMany(harness: Harness, frames: number, perFrame: number, pauseMs = 0): Promise<number> {
  let last = 0;
  for (let i = 0; i < frames; i++) {
    last = await harness.publishOrders(harness.orders(perFrame));
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return last;
}

async function expectExactly(harness: Harness, count: number): Promise<void> {
  const rows = await harness.rows();
  expect(rows).toHaveLength(count);
  expect(new Set(rows.map((r) => r._event_id)).size).toBe(count);
}

describe("exactly once", () => {
  test("a writer stopped mid-stream and a new one started lose nothing and duplicate nothing", async ({
    harness,
  }) => {
    const first = await harness.startWriter({ INLET_WRITER_FLUSH_MS: "100", INLET_WRITER_MAX_ROWS: "150" });
    const publishing = publishMany(harness, 300, 20, 2);
    await waitFor(() => first.curated.get("orders")!.committedSeq >= 60, {
      message: "the first writer at work",
    });
    await first.stop();
    const second = await harness.startWriter({ INLET_WRITER_FLUSH_MS: "100", INLET_WRITER_MAX_ROWS: "150" });
    const lastSeq = await publishing;
    await waitFor(() => second.curated.get("orders")!.committedSeq >= lastSeq, {
      timeoutMs: 20_000,
      message: "the second writer to catch up",
    });
    await second.stop();
    await expectExactly(harness, 6_000);
    expect(await harness.pending(durable)).toBe(0);
  });

  test("a writer that committed but died before acking skips the committed frames on restart", async ({
    harness,
  }) => {
    await harness.ensureCuratedConsumer("orders");
    const frames: Order[][] = [harness.orders(3), harness.orders(3), harness.orders(3), harness.orders(3)];
    const seqs: number[] = [];
    for (const frame of frames) seqs.push(await harness.publishOrders(frame));

    // The crashed writer: frames 1 and 2 are in the table (txn = seq of frame 2), none was acked.
    const parquet = await ParquetWriter.create();
    const table = await CuratedTable.open({
      lakeDir: harness.lakeDir,
      dataset: "orders",
      avroSchema: ORDERS_V2,
      schemaVersion: 2,
      eventTimeField: "ts",
      appId: durable,
      writer: parquet,
    });
    const rows: CuratedRow[] = frames.slice(0, 2).flatMap((frame) =>
      frame.map((o) => ({
        event: { ...o, coupon: null },
        eventId: `ev-${o.item}`,
        ingestedAt: o.ts + 500,
        traceId: "",
        schemaVersion: 2,
      })),
    );
    await table.append(rows, seqs[1]!);
    await parquet.close();
    expect(await harness.pending(durable)).toBe(0); // nothing delivered yet: all four wait

    const writer = await harness.startWriter();
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seqs[3]!, {
      message: "the restart commit",
    });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame acked" });
    await expectExactly(harness, 12);
  });

  test("a writer that died holding deliveries: the next one commits nothing past them until they return", async ({
    harness,
  }) => {
    const ackWaitMs = 2_000;
    await harness.ensureCuratedConsumer("orders", ackWaitMs);
    await publishMany(harness, 3, 4);

    // The dead writer: it fetched frames 1-3 and will never ack them; they come back after the ack wait.
    const consumer = await harness.bus.js.consumers.get(harness.stream(), durable);
    const held: JsMsg[] = [];
    for await (const msg of await consumer.fetch({ max_messages: 3, expires: 1_000 })) held.push(msg);
    expect(held.map((m) => m.seq)).toEqual([1, 2, 3]);

    const lastSeq = await publishMany(harness, 3, 4);
    const writer = await harness.startWriter({ INLET_WRITER_ACK_WAIT_MS: String(ackWaitMs) });
    // Frames 4-6 arrive at once; committing them now would put the txn past 1-3 and lose them.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(writer.curated.get("orders")!.committedSeq).toBe(0);

    await waitFor(() => writer.curated.get("orders")!.committedSeq >= lastSeq, { message: "the commit" });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame acked" });
    await expectExactly(harness, 24);
  });
});

describe("exactly once when a stage publishes a frame again under a new sequence", () => {
  test("keeps one copy of the same events, whether the first is committed or still buffered", async ({
    harness,
  }) => {
    // What a stage does after a nats-server crash lost both its input ack and the duplicate window.
    const writer = await harness.startWriter({ INLET_WRITER_FLUSH_MS: "300" });
    const first = harness.orders(5);
    const seq = await harness.publishOrders(first);
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the first commit" });

    const second = harness.orders(5);
    await harness.publishOrders(first); // committed already
    await harness.publishOrders(second);
    const lastSeq = await harness.publishOrders(second); // in the same batch as its twin
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame settled" });
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= lastSeq - 1, {
      message: "the second commit",
    });
    await expectExactly(harness, 10);
    const rows = await harness.rows();
    expect(rows.map((r) => r._event_id)).toEqual(
      [...first, ...second].map((o) => `ev-${o.item}`).sort((a, b) => (a < b ? -1 : 1)),
    );
  });
});

describe("exactly once across a NATS restart", () => {
  natsTest("loses and duplicates nothing when the server restarts mid-stream", async () => {
    const nats = await startNatsServer();
    const harness = await Harness.create(nats.url);
    try {
      const writer = await harness.startWriter({
        INLET_WRITER_FLUSH_MS: "100",
        INLET_WRITER_ACK_WAIT_MS: "3s",
      });
      const publishing = publishMany(harness, 200, 10, 2);
      await waitFor(() => writer.curated.get("orders")!.committedSeq >= 40, {
        message: "the writer at work",
      });
      await nats.restart();
      const lastSeq = await publishing;
      await waitFor(() => writer.curated.get("orders")!.committedSeq >= lastSeq, {
        timeoutMs: 30_000,
        message: "the writer to catch up after the restart",
      });
      await writer.stop();
      await expectExactly(harness, 2_000);
      expect(await harness.pending(durable)).toBe(0);
    } finally {
      await harness.close();
      await nats.stop();
    }
  });
});
