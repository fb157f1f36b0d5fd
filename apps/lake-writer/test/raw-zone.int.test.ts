import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DlqKind, DurableName, ensureConsumer, Header, publishFrame, StreamName } from "@inlet/bus";
import { createAvroType, formatSchemaId, SchemaErrorCode } from "@inlet/schema";
import { parsePrometheusText, prometheusKey } from "@inlet/telemetry";
import { uniqueName, waitFor } from "@inlet/testing";
import avsc from "avsc";
import { describe, expect } from "vitest";
import { ORDERS_V2, TRACE_ID, TRACEPARENT, harnessTest as test, testDatasets } from "./harness.js";

const ordersV2 = createAvroType(ORDERS_V2);
const visitsV1 = createAvroType(testDatasets()[1]!.versions[0]!.schema);

/** Every record of the finished raw zone files of a dataset. */
async function rawRecords(lakeDir: string, dataset: string): Promise<Record<string, unknown>[]> {
  const root = join(lakeDir, "raw", dataset);
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".avro")).sort();
  const records: Record<string, unknown>[] = [];
  for (const file of files) {
    await new Promise<void>((resolve, reject) => {
      avsc
        .createFileDecoder(join(root, file))
        .on("data", (record: Record<string, unknown>) => records.push(record))
        .on("end", resolve)
        .on("error", reject);
    });
  }
  return records;
}

describe("raw zone", () => {
  test("holds every ingest event as received, with its lineage", async ({ harness }) => {
    const writer = await harness.startWriter({ INLET_RAW_ENABLED: "true" });
    const sentOrders: string[] = [];
    const sentVisits: string[] = [];
    for (let frame = 0; frame < 20; frame++) {
      const orders = harness.orders(25);
      const dataset = frame % 2 === 0 ? "orders" : "visits";
      const type = dataset === "orders" ? ordersV2 : visitsV1;
      const events = orders.map((o) => ({
        id: `raw-${o.item}`,
        ingestedAt: o.ts + 500,
        payload: type.toBuffer(
          dataset === "orders" ? { coupon: null, ...o } : { ts: o.ts, page: `/${o.item}` },
        ),
      }));
      (dataset === "orders" ? sentOrders : sentVisits).push(...events.map((e) => e.id));
      await publishFrame(harness.bus.js, harness.subjects.ingest(dataset), {
        events,
        schemaId: formatSchemaId(dataset, dataset === "orders" ? 2 : 1),
        msgId: uniqueName("ingest"),
        traceparent: TRACEPARENT,
      });
    }
    await waitFor(
      async () => (await harness.pending(DurableName.RawWriter, harness.stream(StreamName.Ingest))) === 0,
      {
        message: "every ingest frame acked",
      },
    );
    await writer.stop();

    const records = await rawRecords(harness.lakeDir, "orders");
    expect(records.map((r) => r._event_id).sort()).toEqual([...sentOrders].sort());
    expect((await rawRecords(harness.lakeDir, "visits")).map((r) => r._event_id).sort()).toEqual(
      [...sentVisits].sort(),
    );
    expect(records[0]).toEqual({
      _event_id: sentOrders[0],
      _ingested_at: expect.any(Number),
      _trace_id: TRACE_ID,
      _schema: "orders@2",
      event: expect.objectContaining({ item: "item-0", coupon: null }),
    });
    const dirs = await readdir(join(harness.lakeDir, "raw", "orders"));
    expect(dirs).toEqual(["ingest_date=2024-03-01"]);
  });

  test("dead-letters a frame whose schema the registry does not know, and keeps the frames after it", async ({
    harness,
  }) => {
    const writer = await harness.startWriter({ INLET_RAW_ENABLED: "true" });
    const ingestedAt = Date.UTC(2024, 2, 1);
    const unknown = await publishFrame(harness.bus.js, harness.subjects.ingest("orders"), {
      events: [{ id: "raw-unknown", ingestedAt, payload: Buffer.from([2, 4, 6]) }],
      schemaId: "orders@9",
      msgId: uniqueName("ingest"),
    });
    const [order] = harness.orders(1);
    await publishFrame(harness.bus.js, harness.subjects.ingest("orders"), {
      events: [{ id: "raw-known", ingestedAt, payload: ordersV2.toBuffer({ coupon: null, ...order }) }],
      schemaId: formatSchemaId("orders", 2),
      msgId: uniqueName("ingest"),
    });
    await waitFor(
      async () => (await harness.pending(DurableName.RawWriter, harness.stream(StreamName.Ingest))) === 0,
      { message: "every ingest frame settled" },
    );
    await writer.stop();
    expect((await rawRecords(harness.lakeDir, "orders")).map((r) => r._event_id)).toEqual(["raw-known"]);

    const letter = await harness.firstDeadLetter();
    expect(letter?.subject).toBe(harness.subjects.dlq("lake-writer", "orders"));
    expect(letter?.headers?.get(Header.DlqKind)).toBe(DlqKind.Frame);
    expect(letter?.headers?.get(Header.SourceSeq)).toBe(String(unknown.seq));
    expect(letter?.headers?.get(Header.ErrorCode)).toBe(SchemaErrorCode.NotFound);
  });

  test("holds at most INLET_WRITER_MAX_BYTES of frames un-acked, acking them by the batch", async ({
    harness,
  }) => {
    const ingest = harness.stream(StreamName.Ingest);
    await ensureConsumer(harness.bus.jsm, ingest, { durable: DurableName.RawWriter, maxDeliver: -1 });
    const sent: string[] = [];
    let frameBytes = 0; // of every frame
    for (let frame = 0; frame < 60; frame++) {
      // Every frame the same size, so the byte bound is a frame count.
      const events = Array.from({ length: 40 }, (_, i) => {
        const item = `item-${String(frame * 40 + i).padStart(6, "0")}`;
        const ts = Date.UTC(2024, 2, 1) + frame * 40 + i;
        return {
          id: `bound-${item}`,
          ingestedAt: ts,
          payload: ordersV2.toBuffer({ ts, item, qty: 1, coupon: null }),
        };
      });
      sent.push(...events.map((e) => e.id));
      const ack = await publishFrame(harness.bus.js, harness.subjects.ingest("orders"), {
        events,
        schemaId: formatSchemaId("orders", 2),
        msgId: uniqueName("ingest"),
      });
      frameBytes = Math.max(
        frameBytes,
        (await harness.bus.jsm.streams.getMessage(ingest, { seq: ack.seq }))!.data.length,
      );
    }
    const maxBytes = 8 * frameBytes;
    const writer = await harness.startWriter({
      INLET_RAW_ENABLED: "true",
      INLET_RAW_FLUSH_MS: "50",
      INLET_WRITER_MAX_BYTES: String(maxBytes),
    });
    let mostHeld = 0;
    await waitFor(
      async () => {
        const info = await harness.bus.jsm.consumers.info(ingest, DurableName.RawWriter);
        mostHeld = Math.max(mostHeld, info.num_ack_pending);
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      { message: "every ingest frame acked", intervalMs: 5 },
    );
    await writer.stop();

    expect(mostHeld).toBeGreaterThan(1); // frames wait for their flush together
    // The writer holds at most 8 frames. The server's count may also include the last flushed
    // batch (half the bound: 4 frames), whose acks it has not processed yet when the next frames go
    // out: acks are not awaited, and a busy machine delays them (seen once in CI: 11).
    expect(mostHeld).toBeLessThanOrEqual(8 + 4);
    expect((await rawRecords(harness.lakeDir, "orders")).map((r) => r._event_id).sort()).toEqual(
      [...sent].sort(),
    );
  });

  test("with INLET_RAW_ENABLED=false deletes the raw-writer consumer, so INGEST keeps nothing for it", async ({
    harness,
  }) => {
    const ingest = harness.stream(StreamName.Ingest);
    await ensureConsumer(harness.bus.jsm, ingest, { durable: DurableName.RawWriter });
    await publishFrame(harness.bus.js, harness.subjects.ingest("orders"), {
      events: [
        {
          id: "kept",
          ingestedAt: Date.UTC(2024, 2, 1),
          payload: ordersV2.toBuffer({ coupon: null, ...harness.orders(1)[0]! }),
        },
      ],
      schemaId: formatSchemaId("orders", 2),
      msgId: uniqueName("ingest"),
    });
    expect((await harness.bus.jsm.streams.info(ingest)).state.messages).toBe(1);

    await harness.startWriter({ INLET_RAW_ENABLED: "false" });
    const names: string[] = [];
    for await (const info of harness.bus.jsm.consumers.list(ingest)) names.push(info.name);
    expect(names).toEqual([]);
    await waitFor(async () => (await harness.bus.jsm.streams.info(ingest)).state.messages === 0, {
      message: "INGEST released the frame",
    });
  });

  test("is ready once its consumers run, and shows what it committed in /metrics", async ({ harness }) => {
    const writer = await harness.startWriter({ INLET_RAW_ENABLED: "true" });
    const ready = await fetch(`${writer.url}/readyz`);
    expect(ready.status).toBe(200);

    const seq = await harness.publishOrders(harness.orders(4));
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commit" });
    const text = await (await fetch(`${writer.url}/metrics`)).text();
    const samples = parsePrometheusText(text);
    const rows = samples.get(
      prometheusKey("inlet_lake_writer_rows_committed_total", { dataset: "orders", zone: "curated" }),
    );
    expect(rows).toBeGreaterThanOrEqual(4);
    expect(text).toContain("inlet_lake_writer_flush_duration_bucket");
    expect(text).toMatch(/inlet_lake_writer_freshness\{dataset="orders",zone="curated"\} \d/);

    await writer.stop();
    await expect(fetch(`${writer.url}/readyz`)).rejects.toThrow();
  });
});
