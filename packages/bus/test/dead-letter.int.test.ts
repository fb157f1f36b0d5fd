import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { DeadLetters } from "../src/dead-letter.js";
import { StreamName } from "../src/streams.js";
import { Stage } from "../src/subjects.js";
import { messageCount, openTestBus, storedMessages } from "./helpers.js";

describe("DeadLetters.event", () => {
  test("files a rejected event with the reason in headers and body", async ({ nats }) => {
    const t = await openTestBus(nats);
    const dlq = new DeadLetters(t.bus.js, { subjects: t.subjects });

    const ack = await dlq.event({
      stage: Stage.Processor,
      dataset: "clicks",
      code: "TYPE_MISMATCH",
      reason: 'dataset "clicks": field "amount" expected double, got "12,5"',
      field: "amount",
      expected: "double",
      got: "12,5",
      eventId: "evt-1",
      event: { amount: "12,5", user: "u1" },
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });

    const stored = await t.bus.jsm.streams.getMessage(t.stream(StreamName.Dlq), { seq: ack.seq });
    expect(stored?.subject).toBe(t.subjects.dlq(Stage.Processor, "clicks"));
    const h = stored!.header;
    expect(h.get("Inlet-DLQ-Kind")).toBe("event");
    expect(h.get("Inlet-Error")).toBe('dataset "clicks": field "amount" expected double, got "12,5"');
    expect(h.get("Inlet-Error-Code")).toBe("TYPE_MISMATCH");
    expect(h.get("Inlet-Stage")).toBe("processor");
    expect(h.get("Inlet-Dataset")).toBe("clicks");
    expect(h.get("Inlet-Event-Id")).toBe("evt-1");
    expect(h.get("traceparent")).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(stored!.json()).toEqual({
      stage: "processor",
      dataset: "clicks",
      code: "TYPE_MISMATCH",
      reason: 'dataset "clicks": field "amount" expected double, got "12,5"',
      field: "amount",
      expected: "double",
      got: "12,5",
      eventId: "evt-1",
      event: { amount: "12,5", user: "u1" },
    });
    await t.close();
  });

  test("keeps one copy when the same event is dead-lettered twice", async ({ nats }) => {
    const t = await openTestBus(nats);
    const dlq = new DeadLetters(t.bus.js, { subjects: t.subjects });
    const letter = {
      stage: Stage.Collector,
      dataset: "clicks",
      code: "BAD_JSON",
      reason: "line 1:\nunexpected token",
      eventId: "evt-7",
      event: "{not json",
    };

    const first = await dlq.event(letter);
    const second = await dlq.event(letter);

    expect(second).toMatchObject({ duplicate: true, seq: first.seq });
    expect(await messageCount(t.bus.jsm, t.stream(StreamName.Dlq))).toBe(1);
    const stored = await t.bus.jsm.streams.getMessage(t.stream(StreamName.Dlq), { seq: first.seq });
    expect(stored?.header.get("Inlet-Error")).toBe("line 1: unexpected token");
    expect(stored?.json<{ event: string }>().event).toBe("{not json");
    await t.close();
  });

  test("cuts an event too large to fit a dead letter, saying so", async ({ nats }) => {
    const t = await openTestBus(nats);
    const dlq = new DeadLetters(t.bus.js, { subjects: t.subjects });

    await dlq.event({
      stage: Stage.Collector,
      dataset: "clicks",
      code: "EVENT_TOO_LARGE",
      reason: "event is 2000000 bytes",
      event: { blob: "x".repeat(2_000_000) },
    });

    const [stored] = await storedMessages(t.bus.jsm, t.stream(StreamName.Dlq));
    const body = stored!.json<{ event: string; truncated: boolean }>();
    expect(body.truncated).toBe(true);
    expect(body.event.startsWith('{"blob":"xxx')).toBe(true);
    expect(body.event.length).toBe(100_000);
    await t.close();
  });
});
