import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DlqKind, DurableName, Header, publishFrame } from "@inlet/bus";
import { curatedTableDir, deltaCommitFileName, deltaLogDir } from "@inlet/lake";
import { createAvroType, SchemaErrorCode } from "@inlet/schema";
import { uniqueName, waitFor } from "@inlet/testing";
import { describe, expect } from "vitest";
import { PAYMENTS_V1, TRACE_ID, TRACEPARENT, harnessTest as test } from "./harness.js";

const durable = DurableName.lakeWriter("orders");

describe("curated writer", () => {
  test("writes the frames published to curated.<ds> as exactly those rows, with lineage", async ({
    harness,
  }) => {
    const writer = await harness.startWriter();
    const first = harness.orders(3);
    const second = harness.orders(2, { coupon: "SPRING" });
    await harness.publishOrders(first, { traceparent: TRACEPARENT });
    const lastSeq = await harness.publishOrders(second);

    await waitFor(() => writer.curated.get("orders")!.committedSeq >= lastSeq, { message: "the commit" });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame acked" });

    const rows = await harness.rows();
    expect(rows).toHaveLength(5);
    expect(rows[0]).toEqual({
      ts: new Date("2024-03-01T00:00:00Z"),
      item: "item-0",
      qty: 0,
      coupon: null,
      _event_id: "ev-item-0",
      _ingested_at: new Date("2024-03-01T00:00:00.500Z"),
      _trace_id: TRACE_ID,
      _schema_version: 2,
      event_date: new Date("2024-03-01T00:00:00Z"),
    });
    expect(rows.map((r) => r._event_id)).toEqual([
      "ev-item-0",
      "ev-item-1",
      "ev-item-2",
      "ev-item-3",
      "ev-item-4",
    ]);
    expect(rows.filter((r) => r.coupon === "SPRING")).toHaveLength(2);
    expect(rows[4]?._trace_id).toBeNull();

    // The commit carries the consumer's txn: appId = consumer name, version = last stream sequence.
    const tableDir = curatedTableDir(harness.lakeDir, "orders");
    const log = await readFile(join(deltaLogDir(tableDir), deltaCommitFileName(0)), "utf8");
    const txns = log
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { txn?: { appId: string; version: number } })
      .filter((a) => a.txn !== undefined);
    expect(txns.map((a) => a.txn)).toEqual([expect.objectContaining({ appId: durable, version: lastSeq })]);
  });

  test("writes Avro decimals as exact DECIMAL columns, past what a double holds", async ({ harness }) => {
    const writer = await harness.startWriter({ INLET_WRITER_DATASETS: "payments" });
    const type = createAvroType(PAYMENTS_V1);
    const ts = Date.UTC(2024, 2, 1);
    const payments = [
      { amount: "123456789012345678901234567890123456.78", rate: "0.000001" },
      { amount: "0.10", rate: null },
      { amount: "-0.20", rate: "-999999.999999" },
    ];
    const { seq } = await publishFrame(harness.bus.js, harness.subjects.curated("payments"), {
      events: payments.map((p, i) => ({
        id: `pay-${i}`,
        ingestedAt: ts,
        payload: type.toBuffer({ ts, ...p }),
      })),
      schemaId: "payments@1",
      msgId: uniqueName("frame"),
    });
    await waitFor(() => (writer.curated.get("payments")?.committedSeq ?? 0) >= seq, {
      message: "the commit",
    });

    const rows = await harness.rows(
      "payments",
      "_event_id",
      "_event_id, typeof(amount) AS amount_type, typeof(rate) AS rate_type, amount::VARCHAR AS amount, rate::VARCHAR AS rate",
    );
    expect(rows).toEqual(
      payments.map((p, i) => ({
        _event_id: `pay-${i}`,
        amount_type: "DECIMAL(38,2)",
        rate_type: "DECIMAL(12,6)",
        ...p,
      })),
    );
    // Sums stay exact: 0.10 - 0.20 in doubles is -0.1 only by rounding.
    const [sum] = await harness.rows("payments", "1", "sum(amount)::VARCHAR AS total");
    expect(sum).toEqual({ total: "123456789012345678901234567890123456.68" });
  });

  test("flushes by the row bound before the interval, and the rest on stop", async ({ harness }) => {
    const writer = await harness.startWriter({ INLET_WRITER_MAX_ROWS: "10", INLET_WRITER_FLUSH_MS: "1m" });
    let lastSeq = 0;
    for (let i = 0; i < 5; i++) lastSeq = await harness.publishOrders(harness.orders(5));

    // 25 rows in frames of 5: the bound of 10 flushes twice; 5 rows wait for the interval.
    await waitFor(async () => (await harness.rows()).length === 20, { message: "two row-bound flushes" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await harness.rows()).toHaveLength(20);
    expect(await harness.pending(durable)).toBe(1);

    await writer.stop();
    const rows = await harness.rows();
    expect(rows).toHaveLength(25);
    expect(new Set(rows.map((r) => r._event_id)).size).toBe(25);
    expect(await harness.pending(durable)).toBe(0);
    expect(writer.curated.get("orders")?.committedSeq).toBe(lastSeq);
  });

  test("flushes by the interval when the bounds are not reached", async ({ harness }) => {
    const writer = await harness.startWriter({ INLET_WRITER_FLUSH_MS: "300" });
    const started = Date.now();
    const seq = await harness.publishOrders(harness.orders(3));
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the interval flush" });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5_000);
    expect(await harness.rows()).toHaveLength(3);
  });

  test("writes events of an older schema version under the newest schema, missing fields null", async ({
    harness,
  }) => {
    const writer = await harness.startWriter();
    await harness.publishOrders(harness.orders(2), { version: 1 });
    const seq = await harness.publishOrders(harness.orders(1, { coupon: "X" }), { version: 2 });
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commit" });
    const rows = await harness.rows();
    expect(rows.map((r) => [r.coupon, r._schema_version])).toEqual([
      [null, 1],
      [null, 1],
      ["X", 2],
    ]);
  });

  test("dead-letters an event the lake cannot store and writes the rest of its frame", async ({
    harness,
  }) => {
    const writer = await harness.startWriter();
    const good = harness.orders(2);
    const bad = harness.orders(1, { ts: 9_000_000_000_000_000 });
    const seq = await harness.publishOrders([good[0]!, bad[0]!, good[1]!]);
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commit" });
    expect((await harness.rows()).map((r) => r._event_id)).toEqual([
      `ev-${good[0]!.item}`,
      `ev-${good[1]!.item}`,
    ]);

    const letter = await harness.firstDeadLetter();
    expect(letter?.subject).toBe(harness.subjects.dlq("lake-writer", "orders"));
    expect(letter?.headers?.get(Header.DlqKind)).toBe(DlqKind.Event);
    expect(letter?.headers?.get(Header.EventId)).toBe(`ev-${bad[0]!.item}`);
    expect(letter?.json<{ field: string; reason: string }>()).toMatchObject({
      field: "ts",
      reason: expect.stringMatching(/^dataset "orders": field "ts" expected a timestamp/),
    });
  });

  test("dead-letters a frame that cannot be decoded, whole, and terminates it", async ({ harness }) => {
    const writer = await harness.startWriter();
    const { headers } = await import("@nats-io/nats-core");
    const h = headers();
    h.set(Header.Schema, "orders@2");
    h.set(Header.Count, "3");
    h.set(Header.MsgId, "garbage-frame");
    const bad = await harness.bus.js.publish(harness.subjects.curated("orders"), new Uint8Array([1, 2, 3]), {
      headers: h,
    });
    const seq = await harness.publishOrders(harness.orders(1));
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commit" });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame settled" });
    expect(await harness.rows()).toHaveLength(1);

    const letter = await harness.firstDeadLetter();
    expect(letter?.headers?.get(Header.DlqKind)).toBe(DlqKind.Frame);
    expect(letter?.headers?.get(Header.SourceSeq)).toBe(String(bad.seq));
    expect([...(letter?.data ?? [])]).toEqual([1, 2, 3]);
  });

  test("dead-letters a frame whose schema the registry does not know, and writes the frames after it", async ({
    harness,
  }) => {
    const writer = await harness.startWriter();
    const unknown = await publishFrame(harness.bus.js, harness.subjects.curated("orders"), {
      events: [{ id: "ev-unknown", ingestedAt: Date.UTC(2024, 2, 1), payload: Buffer.from([2, 4, 6]) }],
      schemaId: "orders@9",
      msgId: uniqueName("frame"),
    });
    const seq = await harness.publishOrders(harness.orders(1));
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the commit" });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "every frame settled" });
    expect(await harness.rows()).toHaveLength(1);

    const letter = await harness.firstDeadLetter();
    expect(letter?.subject).toBe(harness.subjects.dlq("lake-writer", "orders"));
    expect(letter?.headers?.get(Header.DlqKind)).toBe(DlqKind.Frame);
    expect(letter?.headers?.get(Header.SourceSeq)).toBe(String(unknown.seq));
    expect(letter?.headers?.get(Header.ErrorCode)).toBe(SchemaErrorCode.NotFound);
    expect(letter?.headers?.get(Header.Error)).toBe("schema orders@9 is not registered");
  });

  test("retries a failed flush with the same batch and acks nothing until it commits", async ({
    harness,
  }) => {
    const writer = await harness.startWriter();
    // A file where the partition directory must go: every Parquet write fails until it is removed.
    const tableDir = curatedTableDir(harness.lakeDir, "orders");
    const blocker = join(tableDir, "event_date=2024-03-01");
    await mkdir(tableDir, { recursive: true });
    await writeFile(blocker, "");
    const seq = await harness.publishOrders(harness.orders(3));

    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(writer.curated.get("orders")?.committedSeq).toBe(0);
    expect(await harness.pending(durable)).toBe(1);

    await rm(blocker);
    await waitFor(() => writer.curated.get("orders")!.committedSeq >= seq, { message: "the retried commit" });
    await waitFor(async () => (await harness.pending(durable)) === 0, { message: "the frame acked" });
    const rows = await harness.rows();
    expect(rows.map((r) => r._event_id)).toHaveLength(3);
  });
});
