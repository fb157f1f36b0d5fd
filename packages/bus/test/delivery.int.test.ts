import { natsTest as test } from "@inlet/testing/vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { Delivery } from "../src/delivery.js";
import { publishFrame } from "../src/publisher.js";
import { ensureConsumer, StreamName } from "../src/streams.js";
import { makeEvents, openTestBus, type TestBus } from "./helpers.js";

async function fetchOne(t: TestBus, durable: string): Promise<JsMsg | undefined> {
  const consumer = await t.bus.js.consumers.get(t.stream(StreamName.Ingest), durable);
  for await (const msg of await consumer.fetch({ max_messages: 1, expires: 1_000 })) return msg;
  return undefined;
}

async function pending(t: TestBus, durable: string): Promise<{ ackPending: number; waiting: number }> {
  const info = await t.bus.jsm.consumers.info(t.stream(StreamName.Ingest), durable);
  return { ackPending: info.num_ack_pending, waiting: info.num_pending };
}

describe("Delivery", () => {
  test("acks, naks and terms a delivery without the message", async ({ nats }) => {
    const t = await openTestBus(nats);
    const durable = "delivery-test";
    await ensureConsumer(t.bus.jsm, t.stream(StreamName.Ingest), { durable, ackWaitMs: 30_000 });
    for (let i = 0; i < 2; i++) {
      await publishFrame(t.bus.js, t.subjects.ingest("clicks"), {
        events: makeEvents(1, `d${i}`),
        schemaId: "clicks@1",
        msgId: `delivery-${i}`,
      });
    }

    // -NAK: the first frame comes back at once, as a redelivery.
    const first = await fetchOne(t, durable);
    const delivery = new Delivery(t.bus.nc, first!);
    expect(delivery.seq).toBe(first!.seq);
    delivery.nak();
    const again = await fetchOne(t, durable);
    expect(again?.seq).toBe(first!.seq);
    expect(again?.redelivered).toBe(true);

    // +WPI leaves it pending; +ACK settles it, and a later answer changes nothing.
    const redelivery = new Delivery(t.bus.nc, again!);
    redelivery.working();
    await t.bus.nc.flush();
    expect(await pending(t, durable)).toEqual({ ackPending: 1, waiting: 1 });
    redelivery.ack();
    redelivery.nak();
    await t.bus.nc.flush();
    expect(await pending(t, durable)).toEqual({ ackPending: 0, waiting: 1 });

    // +TERM: the second frame is never delivered again.
    const second = await fetchOne(t, durable);
    new Delivery(t.bus.nc, second!).term();
    await t.bus.nc.flush();
    expect(await pending(t, durable)).toEqual({ ackPending: 0, waiting: 0 });
    expect(await fetchOne(t, durable)).toBeUndefined();
    await t.close();
  });
});
