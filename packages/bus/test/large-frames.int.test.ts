import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { decodeFrame, type FrameEvent } from "../src/frame.js";
import { publishFrame } from "../src/publisher.js";
import { ensureConsumer, StreamName } from "../src/streams.js";
import { makeEvents, openTestBus } from "./helpers.js";

describe("a frame larger than a socket read", () => {
  // nats-core is patched (patches/@nats-io__nats-core@3.4.0.patch): a message that spans socket
  // reads goes into one buffer of its announced size, not a buffer grown by doubling as the reads
  // arrive. Unpatched, this frame's buffer is about 1.5 times its size.
  test("arrives whole, in a buffer of its own size", async ({ nats }) => {
    const t = await openTestBus(nats);
    try {
      const durable = "large-frames";
      await ensureConsumer(t.bus.jsm, t.stream(StreamName.Ingest), { durable, ackWaitMs: 30_000 });
      // About 600 KB: ten socket reads of 64 KiB.
      const events = makeEvents(600, "large", 1_000);
      await publishFrame(t.bus.js, t.subjects.ingest("clicks"), {
        events,
        schemaId: "clicks@1",
        msgId: "large-0",
      });
      const consumer = await t.bus.js.consumers.get(t.stream(StreamName.Ingest), durable);
      const received = [];
      for await (const msg of await consumer.fetch({ max_messages: 1, expires: 2_000 })) received.push(msg);
      expect(received).toHaveLength(1);
      const { data } = received[0]!;
      const plain = (e: FrameEvent) => ({ ...e, payload: Buffer.from(e.payload).toString("base64") });
      expect(decodeFrame(data).map(plain)).toEqual(events.map(plain));
      // The buffer holds the headers and the payload, nothing more.
      expect(data.byteOffset + data.byteLength).toBe(data.buffer.byteLength);
      expect(data.buffer.byteLength - data.byteLength).toBeLessThan(4_096);
    } finally {
      await t.close();
    }
  });
});
