import { startNatsServer, uniqueName } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { BusErrorCode } from "../src/errors.js";
import { collectorFrameId } from "../src/frame-id.js";
import { publishFrame } from "../src/publisher.js";
import { ensureConsumer, StreamName } from "../src/streams.js";
import { makeEvents, messageCount, openTestBus } from "./helpers.js";

describe("publishFrame", () => {
  test("stores a frame once when it is published twice with the same id", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = t.stream(StreamName.Ingest);
    await ensureConsumer(t.bus.jsm, stream, { durable: "processor" });
    const events = makeEvents(3);
    const frame = {
      events,
      schemaId: "clicks@1",
      msgId: collectorFrameId(
        "clicks",
        events.map((e) => e.id),
      ),
    };

    const first = await publishFrame(t.bus.js, t.subjects.ingest("clicks"), frame);
    const second = await publishFrame(t.bus.js, t.subjects.ingest("clicks"), frame);

    expect(first.duplicate).toBe(false);
    expect(second).toMatchObject({ duplicate: true, seq: first.seq, stream });
    expect(await messageCount(t.bus.jsm, stream)).toBe(1);
    const stored = await t.bus.jsm.streams.getMessage(stream, { seq: first.seq });
    expect(stored?.header.get("Inlet-Schema")).toBe("clicks@1");
    expect(stored?.header.get("Inlet-Count")).toBe("3");
    expect(stored?.header.get("Nats-Msg-Id")).toBe(frame.msgId);
    await t.close();
  });

  test("throws STREAM_FULL when the stream is full, and keeps what it accepted", async ({ nats }) => {
    const t = await openTestBus(nats, { INGEST: 8 * 1024 });
    const stream = t.stream(StreamName.Ingest);
    await ensureConsumer(t.bus.jsm, stream, { durable: "processor" });
    let accepted = 0;
    let error: unknown;
    for (let i = 0; i < 50 && error === undefined; i++) {
      const events = makeEvents(1, `full${i}`, 1_000);
      try {
        await publishFrame(t.bus.js, t.subjects.ingest("clicks"), {
          events,
          schemaId: "clicks@1",
          msgId: `m${i}`,
        });
        accepted++;
      } catch (err) {
        error = err;
      }
    }
    expect(error).toMatchObject({ name: "BusError", code: BusErrorCode.StreamFull });
    expect(accepted).toBeGreaterThan(0);
    expect(await messageCount(t.bus.jsm, stream)).toBe(accepted);
    await t.close();
  });

  test("gives up with PUBLISH_TIMEOUT when no stream takes the subject", async ({ nats }) => {
    const t = await openTestBus(nats);
    const error = await publishFrame(
      t.bus.js,
      `${uniqueName("nowhere")}.ingest.clicks`,
      { events: makeEvents(1), schemaId: "clicks@1", msgId: "x" },
      { timeoutMs: 500 },
    ).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: BusErrorCode.PublishTimeout });
    expect((error as Error).message).toMatch(/no responders/);
    await t.close();
  });

  test("refuses a frame larger than the server's max payload", async ({ nats }) => {
    const t = await openTestBus(nats);
    const events = makeEvents(1, "big", 2 * 1024 * 1024);
    const error = await publishFrame(t.bus.js, t.subjects.ingest("clicks"), {
      events,
      schemaId: "clicks@1",
      msgId: "big",
    }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: BusErrorCode.MessageTooLarge });
    await t.close();
  });
});

describe("publishFrame across a server restart", () => {
  test("retries until the server is back, then lands the frame once", async () => {
    const server = await startNatsServer();
    try {
      const t = await openTestBus(server);
      const stream = t.stream(StreamName.Ingest);
      await ensureConsumer(t.bus.jsm, stream, { durable: "processor" });
      await server.kill("SIGKILL");

      const publishing = publishFrame(
        t.bus.js,
        t.subjects.ingest("clicks"),
        { events: makeEvents(2), schemaId: "clicks@1", msgId: "during-outage" },
        { timeoutMs: 20_000, attemptTimeoutMs: 1_000 },
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await server.restart();
      const ack = await publishing;

      expect(ack.seq).toBe(1);
      expect(await messageCount(t.bus.jsm, stream)).toBe(1);
      await t.close();
    } finally {
      await server.stop();
    }
  });
});
