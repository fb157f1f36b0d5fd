import { startNatsServer, waitFor } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { headers } from "@nats-io/nats-core";
import { describe, expect } from "vitest";
import { runConsumer } from "../src/consumer.js";
import { DeadLetters } from "../src/dead-letter.js";
import { BusError, BusErrorCode, PoisonError, TransientError } from "../src/errors.js";
import { decodeFrame, type ReceivedFrame } from "../src/frame.js";
import { collectorFrameId, stageFrameId } from "../src/frame-id.js";
import { publishFrame } from "../src/publisher.js";
import { ensureConsumer, StreamName } from "../src/streams.js";
import { Stage } from "../src/subjects.js";
import { makeEvents, messageCount, openTestBus, storedMessages, type TestBus } from "./helpers.js";

const FAST_BACKOFF = { initialMs: 20, maxMs: 100 };

/** Publishes `n` one-event-or-more frames of dataset clicks to INGEST; returns their sequences. */
async function publishFrames(t: TestBus, n: number, eventsPerFrame = 2): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const events = makeEvents(eventsPerFrame, `f${i}`);
    const ack = await publishFrame(t.bus.js, t.subjects.ingest("clicks"), {
      events,
      schemaId: "clicks@1",
      msgId: collectorFrameId(
        "clicks",
        events.map((e) => e.id),
      ),
    });
    seqs.push(ack.seq);
  }
  return seqs;
}

async function setup(t: TestBus, ackWaitMs = 10_000): Promise<string> {
  const stream = t.stream(StreamName.Ingest);
  await ensureConsumer(t.bus.jsm, stream, { durable: "processor", ackWaitMs });
  return stream;
}

describe("runConsumer", () => {
  test("acks each frame once its handler resolves, and the stream lets it go", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    const seqs = await publishFrames(t, 10);
    const seen: ReceivedFrame[] = [];

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      handle: async (frame) => {
        seen.push(frame);
      },
    });
    await waitFor(async () => (await messageCount(t.bus.jsm, stream)) === 0, { message: "INGEST to empty" });
    await consumer.stop();

    expect(seen.map((f) => f.seq).sort((a, b) => a - b)).toEqual(seqs);
    expect(seen[0]).toMatchObject({ dataset: "clicks", schemaId: "clicks@1", deliveryCount: 1 });
    expect(decodeFrame(seen[0]!.body).map((e) => e.id)).toEqual(["f0-0", "f0-1"]);
    expect(await messageCount(t.bus.jsm, t.stream(StreamName.Dlq))).toBe(0);
    await t.close();
  });

  test("naks a transient failure and handles the frame on a later delivery", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    await publishFrames(t, 1);
    const deliveries: number[] = [];

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      backoff: FAST_BACKOFF,
      handle: async (frame) => {
        deliveries.push(frame.deliveryCount);
        if (frame.deliveryCount < 3) throw new TransientError("schema registry unreachable");
      },
    });
    await waitFor(async () => (await messageCount(t.bus.jsm, stream)) === 0, { message: "INGEST to empty" });
    await consumer.stop();

    expect(deliveries).toEqual([1, 2, 3]);
    expect(await messageCount(t.bus.jsm, t.stream(StreamName.Dlq))).toBe(0);
    await t.close();
  });

  test("dead-letters a poison frame with the reason and the original bytes, then terms it", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    const [seq] = await publishFrames(t, 1, 3);
    const original = await t.bus.jsm.streams.getMessage(stream, { seq: seq! });
    let calls = 0;

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      handle: async () => {
        calls++;
        throw new PoisonError("schema clicks@1 is unknown", { code: "SCHEMA_NOT_FOUND" });
      },
    });
    const dlq = t.stream(StreamName.Dlq);
    await waitFor(async () => (await messageCount(t.bus.jsm, dlq)) === 1, { message: "a dead letter" });
    await waitFor(async () => (await messageCount(t.bus.jsm, stream)) === 0, { message: "INGEST to empty" });
    await consumer.stop();

    expect(calls).toBe(1);
    const [letter] = await storedMessages(t.bus.jsm, dlq);
    expect(letter!.subject).toBe(t.subjects.dlq(Stage.Processor, "clicks"));
    const h = letter!.header;
    expect(h.get("Inlet-DLQ-Kind")).toBe("frame");
    expect(h.get("Inlet-Error")).toBe("schema clicks@1 is unknown");
    expect(h.get("Inlet-Error-Code")).toBe("SCHEMA_NOT_FOUND");
    expect(h.get("Inlet-Stage")).toBe("processor");
    expect(h.get("Inlet-Dataset")).toBe("clicks");
    expect(h.get("Inlet-Source-Subject")).toBe(t.subjects.ingest("clicks"));
    expect(h.get("Inlet-Source-Seq")).toBe(String(seq));
    expect(h.get("Inlet-Source-Msg-Id")).toBe(original!.header.get("Nats-Msg-Id"));
    expect(h.get("Inlet-Schema")).toBe("clicks@1");
    expect(h.get("Inlet-Count")).toBe("3");
    expect(Buffer.from(letter!.data).equals(Buffer.from(original!.data))).toBe(true);
    expect(decodeFrame(letter!.data).map((e) => e.id)).toEqual(["f0-0", "f0-1", "f0-2"]);
    await t.close();
  });

  test("dead-letters an unreadable frame as BAD_FRAME without calling the handler", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    const h = headers();
    h.set("Inlet-Schema", "clicks@1");
    h.set("Inlet-Count", "5");
    const garbage = Uint8Array.from([0x80, 0x84, 0xaf, 0x5f, 0x00, 0x13, 0x37]);
    await t.bus.js.publish(t.subjects.ingest("clicks"), garbage, { headers: h });
    let calls = 0;

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      handle: async () => {
        calls++;
      },
    });
    const dlq = t.stream(StreamName.Dlq);
    await waitFor(async () => (await messageCount(t.bus.jsm, dlq)) === 1, { message: "a dead letter" });
    await consumer.stop();

    expect(calls).toBe(0);
    const [letter] = await storedMessages(t.bus.jsm, dlq);
    expect(letter!.header.get("Inlet-Error-Code")).toBe(BusErrorCode.BadFrame);
    expect(letter!.header.get("Inlet-Error")).toMatch(/bad frame on .*ingest\.clicks/);
    expect([...letter!.data]).toEqual([...garbage]);
    await t.close();
  });

  test("dead-letters a frame that fails on every one of maxAttempts deliveries", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    await publishFrames(t, 1);
    let calls = 0;

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      maxAttempts: 3,
      backoff: FAST_BACKOFF,
      handle: async () => {
        calls++;
        throw new Error("enrichment table missing");
      },
    });
    const dlq = t.stream(StreamName.Dlq);
    await waitFor(async () => (await messageCount(t.bus.jsm, dlq)) === 1, { message: "a dead letter" });
    await consumer.stop();

    expect(calls).toBe(3);
    const [letter] = await storedMessages(t.bus.jsm, dlq);
    expect(letter!.header.get("Inlet-Error-Code")).toBe(BusErrorCode.MaxDeliveries);
    expect(letter!.header.get("Inlet-Error")).toBe(
      "failed 3 deliveries; last error: enrichment table missing",
    );
    await t.close();
  });

  test("waits out a full downstream stream without dead-lettering the frame", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    await publishFrames(t, 1);
    let calls = 0;

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      maxAttempts: 2,
      backoff: FAST_BACKOFF,
      handle: async () => {
        calls++;
        if (calls <= 4) throw new BusError("stream for processed.clicks is full", BusErrorCode.StreamFull);
      },
    });
    await waitFor(async () => (await messageCount(t.bus.jsm, stream)) === 0, { message: "INGEST to empty" });
    await consumer.stop();

    expect(calls).toBe(5);
    expect(await messageCount(t.bus.jsm, t.stream(StreamName.Dlq))).toBe(0);
    await t.close();
  });

  test("handles at most `concurrency` frames at once", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    await publishFrames(t, 20);
    let running = 0;
    let most = 0;
    let handled = 0;

    const consumer = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
      concurrency: 3,
      batch: { maxMessages: 10 },
      handle: async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
        handled++;
      },
    });
    await waitFor(() => handled === 20, { message: "20 frames handled" });
    await consumer.stop();

    expect(most).toBe(3);
    await t.close();
  });

  test("stop() lets in-flight frames finish and be acked, and hands back the rest", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = await setup(t);
    const seqs = await publishFrames(t, 6);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: number[] = [];
    const deadLetters = new DeadLetters(t.bus.js, { subjects: t.subjects });

    const first = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters,
      concurrency: 2,
      batch: { maxMessages: 4 },
      handle: async (frame) => {
        started.push(frame.seq);
        await gate;
      },
    });
    await waitFor(() => started.length === 2, { message: "two frames in flight" });
    let stopped = false;
    const stopping = first.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release();
    await stopping;

    const rest: number[] = [];
    const second = await runConsumer({
      js: t.bus.js,
      stream,
      durable: "processor",
      stage: Stage.Processor,
      deadLetters,
      handle: async (frame) => {
        rest.push(frame.seq);
      },
    });
    await waitFor(() => rest.length === 4, { message: "the other four frames", timeoutMs: 15_000 });
    await second.stop();

    expect(started).toHaveLength(2);
    expect([...started, ...rest].sort((a, b) => a - b)).toEqual(seqs);
    expect(await messageCount(t.bus.jsm, stream)).toBe(0);
    await t.close();
  });
});

describe("runConsumer across a NATS restart", () => {
  test("resumes after the server restarts, and hands every frame on exactly once", async () => {
    const server = await startNatsServer();
    try {
      const t = await openTestBus(server);
      // An ack sent as the server goes down can be lost; the frame then comes back after the ack wait.
      const ingest = await setup(t, 3_000);
      const processed = t.stream(StreamName.Processed);
      await ensureConsumer(t.bus.jsm, processed, { durable: "enricher" });
      const total = 300;
      await publishFrames(t, total, 1);
      const handled = new Set<number>();
      let handledCount = 0;

      const consumer = await runConsumer({
        js: t.bus.js,
        stream: ingest,
        durable: "processor",
        stage: Stage.Processor,
        deadLetters: new DeadLetters(t.bus.js, { subjects: t.subjects }),
        concurrency: 8,
        maxAttempts: 100,
        backoff: FAST_BACKOFF,
        handle: async (frame) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          await publishFrame(
            t.bus.js,
            t.subjects.processed(frame.dataset),
            {
              events: decodeFrame(frame.body),
              schemaId: frame.schemaId,
              msgId: stageFrameId(Stage.Processor, frame.dataset, frame.seq),
            },
            { attemptTimeoutMs: 1_000 },
          );
          handled.add(frame.seq);
          handledCount++;
        },
      });
      await waitFor(() => handled.size >= 60, { message: "a fifth of the frames handled" });
      await server.restart();
      await waitFor(async () => (await messageCount(t.bus.jsm, ingest).catch(() => -1)) === 0, {
        message: "INGEST to drain after the restart",
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      await consumer.stop();

      expect(handled.size).toBe(total);
      // Handled more than once is allowed (an ack lost in the restart); stored more than once is not.
      expect(handledCount).toBeGreaterThanOrEqual(total);
      const out = await storedMessages(t.bus.jsm, processed);
      expect(out).toHaveLength(total);
      const eventIds = new Set(out.flatMap((m) => decodeFrame(m.data).map((e) => e.id)));
      expect(eventIds.size).toBe(total);
      expect(await messageCount(t.bus.jsm, t.stream(StreamName.Dlq))).toBe(0);
      await t.close();
    } finally {
      await server.stop();
    }
  });
});
