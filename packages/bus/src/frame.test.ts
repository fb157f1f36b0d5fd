import type { JsMsg } from "@nats-io/jetstream";
import avsc from "avsc";
import { describe, expect, it } from "vitest";
import { BusErrorCode, FrameError } from "./errors.js";
import {
  chunkEvents,
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  FRAME_SCHEMA,
  type FrameEvent,
  type FrameHead,
  frameContentId,
  frameHeaders,
  walkFrame,
  walkFrameBody,
} from "./frame.js";
import { collectorFrameId } from "./frame-id.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function event(i: number, payloadBytes = 8): FrameEvent {
  return {
    id: `evt-${i}`,
    ingestedAt: 1_767_225_600_000 + i,
    payload: new Uint8Array(payloadBytes).fill(i % 256),
  };
}

function plain(events: FrameEvent[]): Array<{ id: string; ingestedAt: number; payload: number[] }> {
  return events.map((e) => ({ id: e.id, ingestedAt: e.ingestedAt, payload: [...e.payload] }));
}

describe("encodeFrame / decodeFrame", () => {
  it("round-trips events, including empty payloads and non-ASCII ids", () => {
    const events = [event(1), { id: "é-ü-✓", ingestedAt: 0, payload: bytes() }, event(3, 1_000)];
    expect(plain(decodeFrame(encodeFrame(events)))).toEqual(plain(events));
  });

  it("writes exactly the Avro binary of the contract's schema", () => {
    const events = [event(1), event(2)];
    const type = avsc.Type.forSchema(FRAME_SCHEMA as unknown as avsc.Schema);
    const decoded = type.fromBuffer(Buffer.from(encodeFrame(events))) as { events: FrameEvent[] };
    expect(plain(decoded.events)).toEqual(plain(events));
  });

  it("writes the same bytes as avsc, for varint edges, multi-byte ids and large frames", () => {
    const type = avsc.Type.forSchema(FRAME_SCHEMA as unknown as avsc.Schema);
    const edges = [0, 1, -1, 63, 64, -64, -65, 2 ** 31, -(2 ** 31), 2 ** 52, -(2 ** 52)];
    const events: FrameEvent[] = edges.map((ingestedAt, i) => ({
      id: i % 2 === 0 ? `evt-${i}` : `é-${"✓".repeat(i * 20)}`,
      ingestedAt,
      payload: new Uint8Array(i * 37).fill(i),
    }));
    for (let i = 0; i < 1_000; i++) events.push(event(i, 200));
    for (const frame of [[], events.slice(0, 1), events]) {
      const expected = type.toBuffer({
        events: frame.map((e) => ({ ...e, payload: Buffer.from(e.payload) })),
      });
      expect(Buffer.from(encodeFrame(frame)).equals(expected)).toBe(true);
    }
  });

  it("refuses an ingest time that is not an integer within ±2^52, as avsc does", () => {
    for (const ingestedAt of [1.5, Number.NaN, 2 ** 52 + 1, -(2 ** 52) - 1]) {
      expect(() => encodeFrame([{ ...event(1), ingestedAt }])).toThrow(TypeError);
    }
  });

  it("reads arrays written in several blocks, with and without block sizes", () => {
    // A one-event frame is [count 1][event][end 0]; take the event's bytes out of it.
    const item = (e: FrameEvent): number[] => [...encodeFrame([e])].slice(1, -1);
    const a = item(event(1));
    const b = item(event(2));
    // Block of -1 item (zigzag 0x01) followed by its byte size, then a block of 1 (0x02), then 0.
    const body = bytes(0x01, a.length * 2, ...a, 0x02, ...b, 0x00);
    expect(plain(decodeFrame(body))).toEqual(plain([event(1), event(2)]));
  });

  it.each([
    ["an empty body", bytes()],
    ["a truncated event", encodeFrame([event(1)]).slice(0, 6)],
    ["trailing bytes", bytes(...encodeFrame([event(1)]), 0x07)],
    // avsc itself would loop on these until the heap runs out.
    ["a block claiming 100 million events", bytes(0x80, 0x84, 0xaf, 0x5f, 0x00)],
    ["a block claiming 2^40 events", bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00)],
    ["a varint that never ends", new Uint8Array(20).fill(0xff)],
    ["text", new TextEncoder().encode('{"not":"avro"}')],
  ])("refuses %s as BAD_FRAME", (_name, body) => {
    expect(() => decodeFrame(body)).toThrow(
      expect.objectContaining({ name: "FrameError", code: "BAD_FRAME" }),
    );
  });
});

describe("walkFrame / frameContentId", () => {
  it("walks every event in place: id bytes, ingest time, payload bytes", () => {
    const events = [event(1), { id: "é-ü-✓", ingestedAt: 0, payload: bytes() }, event(3, 1_000)];
    const body = Buffer.from(encodeFrame(events));
    const seen: { id: string; ingestedAt: number; payload: number[] }[] = [];
    const count = walkFrame(body, (id, ingestedAt, start, end) => {
      seen.push({
        id: body.toString("utf8", id.start, id.end),
        ingestedAt,
        payload: [...body.subarray(start, end)],
      });
    });
    expect(count).toBe(3);
    expect(seen).toEqual(plain(events));
  });

  it("is the collector's frame id of the body's event ids, however many and long", () => {
    const events = Array.from({ length: 1_000 }, (_, i) => ({
      ...event(i),
      id: `${"x".repeat(i % 90)}-${i}-é`,
    }));
    const body = encodeFrame(events);
    expect(frameContentId("clicks", body)).toBe(
      collectorFrameId(
        "clicks",
        events.map((e) => e.id),
      ),
    );
    expect(frameContentId("clicks", encodeFrame([event(7)]))).toBe(collectorFrameId("clicks", ["evt-7"]));
  });

  it("refuses what decodeFrame refuses", () => {
    expect(() => frameContentId("clicks", bytes(...encodeFrame([event(1)]), 0x07))).toThrow(
      expect.objectContaining({ name: "FrameError", code: "BAD_FRAME" }),
    );
    expect(() => walkFrame(bytes(0x80, 0x84, 0xaf, 0x5f, 0x00), () => {})).toThrow(
      expect.objectContaining({ name: "FrameError", code: "BAD_FRAME" }),
    );
  });
});

describe("walkFrameBody", () => {
  // Only the subject and sequence of the message are read, to name it in errors.
  const msg = { subject: "curated.clicks", seq: 7 } as unknown as JsMsg;
  const head = (body: Uint8Array, count: number): FrameHead => ({
    dataset: "clicks",
    schemaId: "clicks@1",
    count,
    traceparent: undefined,
    msgId: undefined,
    body,
    subject: msg.subject,
    seq: 7,
    deliveryCount: 1,
  });

  it("walks a body holding the events its head counts, and hands it back as a Buffer", () => {
    const body = encodeFrame([event(1), event(2)]);
    const seen: number[] = [];
    const buf = walkFrameBody(msg, head(body, 2), (_id, ingestedAt) => seen.push(ingestedAt));
    expect(seen).toEqual([event(1).ingestedAt, event(2).ingestedAt]);
    expect(Buffer.isBuffer(buf) && buf.equals(Buffer.from(body))).toBe(true);
  });

  it("refuses a body with another count than its head, never visiting past the head's", () => {
    const body = encodeFrame([event(1), event(2), event(3)]);
    let visits = 0;
    expect(() => walkFrameBody(msg, head(body, 2), () => visits++)).toThrow(
      "bad frame on curated.clicks (seq 7): Inlet-Count says 2 events, the body has 3",
    );
    expect(visits).toBe(2);
    expect(() => walkFrameBody(msg, head(body, 4), () => {})).toThrow("the body has 3");
  });

  it("refuses a head count the body cannot hold, and a malformed body, as BAD_FRAME", () => {
    expect(() => walkFrameBody(msg, head(encodeFrame([event(1)]), 1_000_000), () => {})).toThrow(
      expect.objectContaining({ code: "BAD_FRAME", message: expect.stringContaining("the body is") }),
    );
    expect(() => walkFrameBody(msg, head(bytes(0x80, 0x84, 0xaf, 0x5f, 0x00), 1), () => {})).toThrow(
      expect.objectContaining({
        code: "BAD_FRAME",
        message: expect.stringContaining("curated.clicks (seq 7)"),
      }),
    );
  });
});

describe("chunkEvents", () => {
  it("splits by event count, keeping order", () => {
    const events = Array.from({ length: 2_500 }, (_, i) => event(i));
    const chunks = chunkEvents(events);
    expect(chunks.map((c) => c.length)).toEqual([1_000, 1_000, 500]);
    expect(chunks.flat()).toEqual(events);
  });

  it("splits by bytes so every encoded frame fits maxBytes", () => {
    const events = Array.from({ length: 300 }, (_, i) => event(i, 10_000 + i));
    const chunks = chunkEvents(events, { maxBytes: 100_000 });
    expect(chunks.length).toBeGreaterThan(30);
    for (const chunk of chunks) expect(encodeFrame(chunk).byteLength).toBeLessThanOrEqual(100_000);
    expect(chunks.flat()).toEqual(events);
  });

  it("keeps default frames under the server's 1 MiB max payload", () => {
    const events = Array.from({ length: 200 }, (_, i) => event(i, 50_000));
    for (const chunk of chunkEvents(events)) {
      expect(encodeFrame(chunk).byteLength).toBeLessThanOrEqual(DEFAULT_MAX_FRAME_BYTES);
    }
  });

  it("refuses an event too large for any frame", () => {
    const huge = event(1, 200);
    expect(() => chunkEvents([event(0), huge], { maxBytes: 100 })).toThrow(FrameError);
    expect(() => chunkEvents([huge], { maxBytes: 100 })).toThrow(
      expect.objectContaining({ code: BusErrorCode.EventTooLarge }),
    );
  });

  it("returns no chunks for no events", () => {
    expect(chunkEvents([])).toEqual([]);
  });
});

describe("frameHeaders", () => {
  it("sets the frame headers of the contract", () => {
    const h = frameHeaders({ msgId: "clicks:abc", schemaId: "clicks@2", count: 3, traceparent: "00-a-b-01" });
    expect(h.get("Nats-Msg-Id")).toBe("clicks:abc");
    expect(h.get("Inlet-Schema")).toBe("clicks@2");
    expect(h.get("Inlet-Count")).toBe("3");
    expect(h.get("traceparent")).toBe("00-a-b-01");
    expect(frameHeaders({ msgId: "x", schemaId: "clicks@1", count: 0 }).has("traceparent")).toBe(false);
  });
});
