import {
  DeadLetters,
  decodeFrame,
  Header,
  ReplayStatus,
  replayDeadLetters,
  Stage,
  StreamName,
} from "@inlet/bus";
import { SchemaRegistry } from "@inlet/schema";
import { waitFor } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import type { StoredMsg } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { click, ingestAnswer, startTestCollector, storedMessages, type TestCollector } from "./helpers.js";

/** The ids of the events in each frame INGEST holds. */
async function ingestedIds(t: TestCollector): Promise<string[][]> {
  const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
  return frames.map((f) => decodeFrame(f.data).map((e) => e.id));
}

async function letters(t: TestCollector): Promise<StoredMsg[]> {
  return storedMessages(t.bus, t.stream(StreamName.Dlq));
}

// Event dead letters replayed through a real collector: validated again, stored under their id.
describe("replaying event dead letters through the collector", () => {
  test("stores an event rejected before a new schema version, and keeps one still invalid", async ({
    nats,
  }) => {
    const t = await startTestCollector(nats.url);
    try {
      const events = [
        click({ _event_id: "ok-1" }),
        click({ _event_id: "ab-1", ab: "b" }),
        click({ _event_id: "bad-1", duration_ms: "long" }),
      ];
      const first = await ingestAnswer(await t.post("clicks", JSON.stringify(events)));
      expect(first).toMatchObject({ accepted: 1, rejected: 2 });
      const [abLetter, badLetter] = await letters(t);
      expect(abLetter?.header.get(Header.EventId)).toBe("ab-1");
      expect(badLetter?.header.get(Header.EventId)).toBe("bad-1");

      // Version 3 adds the field that got ab-1 rejected.
      const registry = await SchemaRegistry.create(t.bus.nc, { bucket: t.schemaBucket });
      const v2 = (await registry.get("clicks@2")).schema as { fields: unknown[] };
      const v3 = { ...v2, fields: [...v2.fields, { name: "ab", type: ["null", "string"], default: null }] };
      expect((await registry.register("clicks", v3 as never)).id).toBe("clicks@3");
      let probe = 0;
      await waitFor(async () => {
        const res = await t.post("clicks", JSON.stringify(click({ _event_id: `probe-${probe++}`, ab: "x" })));
        return res.status === 200;
      });
      const lettersBefore = (await letters(t)).length;
      // The two letters of the first request (probes rejected before version 3 took effect filed theirs after).
      const range = { subjects: t.subjects, dataset: "clicks", toSeq: badLetter!.seq };

      const report = await replayDeadLetters(t.bus, range);

      expect(report.outcomes.map((o) => [o.letter.eventId, o.status])).toEqual([
        ["ab-1", ReplayStatus.Replayed],
        ["bad-1", ReplayStatus.Rejected],
      ]);
      expect(report.outcomes[0]?.message).toBe("accepted by the collector as event ab-1");
      expect(report.outcomes[1]?.message).toBe(
        'rejected again by the collector: dataset "clicks": field "duration_ms" expected int, got "long"',
      );
      expect(report.totals).toMatchObject({ selected: 2, replayed: 1, rejected: 1 });
      // ab-1's letter is gone; bad-1's stays (the collector's new letter for it is the same one,
      // deduplicated in the window).
      const after = await letters(t);
      expect(after.map((l) => l.seq)).not.toContain(abLetter?.seq);
      expect(after.map((l) => l.seq)).toContain(badLetter?.seq);
      expect(after.length).toBe(lettersBefore - 1);

      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      const replayed = frames.at(-1)!;
      expect(replayed.header.get(Header.Schema)).toBe("clicks@3");
      const [event, ...more] = decodeFrame(replayed.data);
      expect(more).toHaveLength(0);
      expect(event?.id).toBe("ab-1");
      const { type } = await registry.get("clicks@3");
      expect(type.fromBuffer(Buffer.from(event!.payload))).toMatchObject({ ab: "b", user_id: "u-1" });

      // A second replay sends only the invalid one again.
      const again = await replayDeadLetters(t.bus, range);
      expect(again.outcomes.map((o) => [o.letter.eventId, o.status])).toEqual([
        ["bad-1", ReplayStatus.Rejected],
      ]);
      expect(await storedMessages(t.bus, t.stream(StreamName.Ingest))).toHaveLength(frames.length);
    } finally {
      await t.close();
    }
  });

  test("stores an event dead-lettered twice under its original id, once", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const dlq = new DeadLetters(t.bus.js, { subjects: t.subjects });
      const letter = {
        dataset: "clicks",
        code: "TRANSFORM_FAILED",
        reason: "a rule failed",
        eventId: "p-1",
        event: click({ page: "/replayed" }),
      };
      const filed = await dlq.event({ ...letter, stage: Stage.Processor });
      // A second letter of the same event (rejected again at the door after an earlier replay):
      // sending both would put its row in the lake twice.
      const again = await dlq.event({ ...letter, stage: Stage.Collector });

      const dry = await replayDeadLetters(t.bus, { subjects: t.subjects, dryRun: true });
      expect(dry.outcomes.map((o) => [o.letter.seq, o.status, o.message])).toEqual([
        [
          filed.seq,
          ReplayStatus.WouldReplay,
          `would send event p-1 to the collector on ${t.subjects.collect("clicks")}`,
        ],
        [again.seq, ReplayStatus.WouldReplay, `would be deleted as the same event as letter ${filed.seq}`],
      ]);
      expect(await ingestedIds(t)).toEqual([]);

      const report = await replayDeadLetters(t.bus, { subjects: t.subjects });

      expect(report.outcomes.map((o) => [o.letter.seq, o.status, o.message])).toEqual([
        [filed.seq, ReplayStatus.Replayed, "accepted by the collector as event p-1"],
        [again.seq, ReplayStatus.Replayed, `the same event as letter ${filed.seq}, replayed just now`],
      ]);
      expect(await ingestedIds(t)).toEqual([["p-1"]]);
      expect(await letters(t)).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test("keeps a later stage's letter the collector takes for a copy of its original frame", async ({
    nats,
  }) => {
    const t = await startTestCollector(nats.url);
    try {
      // The event's original frame: [d-1], stored by the collector moments ago.
      expect((await t.post("clicks", JSON.stringify(click({ _event_id: "d-1" })))).status).toBe(200);
      const filed = await new DeadLetters(t.bus.js, { subjects: t.subjects }).event({
        stage: Stage.Processor,
        dataset: "clicks",
        code: "TRANSFORM_FAILED",
        reason: "a rule failed",
        eventId: "d-1",
        event: click(),
      });

      const report = await replayDeadLetters(t.bus, { subjects: t.subjects });

      const [outcome] = report.outcomes;
      expect(outcome?.status).toBe(ReplayStatus.Failed);
      expect(outcome?.message).toMatch(/copy of its original frame/);
      expect(outcome?.retryAfter?.getTime()).toBe(outcome!.letter.time.getTime() + 120_000);
      expect((await letters(t)).map((l) => l.seq)).toEqual([filed.seq]);
      expect(await ingestedIds(t)).toEqual([["d-1"]]);
    } finally {
      await t.close();
    }
  });
});
