import { uniqueName } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { connectBus } from "../src/connect.js";
import { BusErrorCode } from "../src/errors.js";
import { ensureConsumer, ensureStreams, StreamName, streamName, streamSpecs } from "../src/streams.js";
import { messageCount, openTestBus } from "./helpers.js";

describe("ensureStreams", () => {
  test("creates the streams once, then leaves them alone", async ({ nats }) => {
    const bus = await connectBus({ servers: nats.url, name: "streams-test" });
    const prefix = uniqueName("t");
    const specs = streamSpecs({ prefix, maxBytes: { INGEST: 1 << 20 } });

    const first = await ensureStreams(bus.jsm, specs);
    const second = await ensureStreams(bus.jsm, specs);

    expect(Object.values(first)).toEqual(Array(6).fill("created"));
    expect(Object.values(second)).toEqual(Array(6).fill("unchanged"));
    const info = await bus.jsm.streams.info(streamName(StreamName.Ingest, prefix));
    expect(info.config).toMatchObject({
      subjects: [`${prefix}.ingest.*`],
      retention: "interest",
      discard: "new",
      max_bytes: 1 << 20,
      storage: "file",
      duplicate_window: 120_000_000_000,
    });
    await bus.close();
  });

  test("updates a stream whose limits changed", async ({ nats }) => {
    const bus = await connectBus({ servers: nats.url, name: "streams-test" });
    const prefix = uniqueName("t");
    await ensureStreams(bus.jsm, streamSpecs({ prefix, maxBytes: { INGEST: 1 << 20 } }));

    const actions = await ensureStreams(bus.jsm, streamSpecs({ prefix, maxBytes: { INGEST: 2 << 20 } }));

    expect(actions[`${prefix}_INGEST`]).toBe("updated");
    expect(actions[`${prefix}_DLQ`]).toBe("unchanged");
    expect((await bus.jsm.streams.info(`${prefix}_INGEST`)).config.max_bytes).toBe(2 << 20);
    await bus.close();
  });

  test("refuses to change a stream's retention in place", async ({ nats }) => {
    const bus = await connectBus({ servers: nats.url, name: "streams-test" });
    const prefix = uniqueName("t");
    const [ingest] = streamSpecs({ prefix });
    await ensureStreams(bus.jsm, [ingest!]);

    const error = await ensureStreams(bus.jsm, [{ ...ingest!, retention: "limits" }]).catch(
      (err: unknown) => err,
    );

    expect(error).toMatchObject({ name: "BusError", code: BusErrorCode.ConfigConflict });
    expect((error as Error).message).toMatch(/retention interest, wanted limits/);
    await bus.close();
  });
});

describe("ensureConsumer", () => {
  test("updates a consumer whose filters went from several to one, and back", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = t.stream(StreamName.Ingest);
    const [clicks, orders] = [t.subjects.ingest("clicks"), t.subjects.ingest("orders")];
    const spec = { durable: "processor", filterSubjects: [clicks, orders] };

    expect(await ensureConsumer(t.bus.jsm, stream, spec)).toBe("created");
    expect(await ensureConsumer(t.bus.jsm, stream, { ...spec, filterSubjects: [clicks] })).toBe("updated");
    let info = await t.bus.jsm.consumers.info(stream, "processor");
    expect([info.config.filter_subject, info.config.filter_subjects ?? []]).toEqual([clicks, []]);

    expect(await ensureConsumer(t.bus.jsm, stream, spec)).toBe("updated");
    info = await t.bus.jsm.consumers.info(stream, "processor");
    expect([info.config.filter_subject ?? "", info.config.filter_subjects]).toEqual(["", [clicks, orders]]);
    await t.close();
  });

  test("creates a durable pull consumer with explicit ack, then is idempotent", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = t.stream(StreamName.Ingest);
    const spec = { durable: "processor", filterSubjects: [t.subjects.ingest("clicks")], ackWaitMs: 5_000 };

    expect(await ensureConsumer(t.bus.jsm, stream, spec)).toBe("created");
    expect(await ensureConsumer(t.bus.jsm, stream, spec)).toBe("unchanged");
    expect(await ensureConsumer(t.bus.jsm, stream, { ...spec, maxAckPending: 50 })).toBe("updated");

    const info = await t.bus.jsm.consumers.info(stream, "processor");
    expect(info.config).toMatchObject({
      durable_name: "processor",
      ack_policy: "explicit",
      max_ack_pending: 50,
      ack_wait: 5_000_000_000,
      max_deliver: -1,
    });
    expect(info.config.deliver_subject).toBeUndefined();
    await t.close();
  });

  test("treats several filter subjects as the same consumer on a second run", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = t.stream(StreamName.Ingest);
    const spec = { durable: "two", filterSubjects: [t.subjects.ingest("a"), t.subjects.ingest("b")] };
    await ensureConsumer(t.bus.jsm, stream, spec);
    expect(await ensureConsumer(t.bus.jsm, stream, spec)).toBe("unchanged");
    expect(await ensureConsumer(t.bus.jsm, stream, { durable: "all" })).toBe("created");
    expect(await ensureConsumer(t.bus.jsm, stream, { durable: "all" })).toBe("unchanged");
    await t.close();
  });
});

describe("interest retention", () => {
  test("removes a message once every consumer has acked it", async ({ nats }) => {
    const t = await openTestBus(nats);
    const stream = t.stream(StreamName.Ingest);
    await ensureConsumer(t.bus.jsm, stream, { durable: "processor" });
    await ensureConsumer(t.bus.jsm, stream, { durable: "raw-writer" });
    await t.bus.js.publish(t.subjects.ingest("clicks"), "frame");

    const ackWith = async (durable: string) => {
      const consumer = await t.bus.js.consumers.get(stream, durable);
      const msg = await consumer.next({ expires: 2_000 });
      expect(msg).not.toBeNull();
      await msg!.ackAck();
    };

    await ackWith("processor");
    expect(await messageCount(t.bus.jsm, stream)).toBe(1);
    await ackWith("raw-writer");
    expect(await messageCount(t.bus.jsm, stream)).toBe(0);
    await t.close();
  });
});
