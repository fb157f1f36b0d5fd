import { natsTest as test } from "@inlet/testing/vitest";
import type { Consumer, JsMsg, PubAck } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { DeadLetters } from "../src/dead-letter.js";
import { DeadLetterProgress } from "../src/dead-letter-progress.js";
import {
  type DeadLetterInfo,
  listDeadLetters,
  ReplayStatus,
  replayDeadLetters,
} from "../src/dead-letter-replay.js";
import { BusError } from "../src/errors.js";
import { collectorFrameId, stageFrameId } from "../src/frame-id.js";
import { Header } from "../src/headers.js";
import { publishFrame } from "../src/publisher.js";
import { DurableName, ensureConsumer, StreamName } from "../src/streams.js";
import { Stage } from "../src/subjects.js";
import { makeEvents, messageCount, openTestBus, storedMessages, type TestBus } from "./helpers.js";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/** A frame read from its stream by a real consumer, and that consumer (which reads what comes next). */
interface ReadFrame {
  msg: JsMsg;
  consumer: Consumer;
}

/** Publishes a frame of `events` events to ingest.clicks and reads it back as the processor would. */
async function ingestFrame(t: TestBus, events: number, tag: string): Promise<ReadFrame> {
  const stream = t.stream(StreamName.Ingest);
  await ensureConsumer(t.bus.jsm, stream, { durable: DurableName.Processor });
  const frame = makeEvents(events, tag);
  await publishFrame(t.bus.js, t.subjects.ingest("clicks"), {
    events: frame,
    schemaId: "clicks@1",
    msgId: collectorFrameId(
      "clicks",
      frame.map((e) => e.id),
    ),
    traceparent: TRACEPARENT,
  });
  return next(t, StreamName.Ingest, DurableName.Processor);
}

/** Publishes a frame to curated.clicks and reads it back as the lake-writer would. */
async function curatedFrame(t: TestBus, tag: string): Promise<ReadFrame> {
  const durable = DurableName.lakeWriter("clicks");
  await ensureConsumer(t.bus.jsm, t.stream(StreamName.Curated), { durable });
  await publishFrame(t.bus.js, t.subjects.curated("clicks"), {
    events: makeEvents(2, tag),
    schemaId: "clicks@1",
    msgId: stageFrameId(Stage.Enricher, "clicks", 1),
  });
  return next(t, StreamName.Curated, durable);
}

async function next(t: TestBus, stream: StreamName, durable: string): Promise<ReadFrame> {
  const consumer = await t.bus.js.consumers.get(t.stream(stream), durable);
  const msg = await consumer.next({ expires: 5_000 });
  if (msg === null) throw new Error(`no frame on ${stream}`);
  return { msg, consumer };
}

/** Files `read` as the stage would give up on it, and terms its delivery; resolves to the letter's ack. */
async function fileFrame(
  t: TestBus,
  read: ReadFrame,
  stage: Stage,
  code = "MAX_DELIVERIES",
  reason = "failed 5 times",
): Promise<PubAck> {
  const letter = await new DeadLetters(t.bus.js, { subjects: t.subjects }).frame({
    stage,
    msg: read.msg,
    code,
    reason,
  });
  read.msg.term();
  return letter;
}

async function list(
  t: TestBus,
  filter: Parameters<typeof listDeadLetters>[1] = {},
): Promise<DeadLetterInfo[]> {
  const out: DeadLetterInfo[] = [];
  for await (const letter of listDeadLetters(t.bus, { subjects: t.subjects, ...filter })) out.push(letter);
  return out;
}

const dlqCount = (t: TestBus) => messageCount(t.bus.jsm, t.stream(StreamName.Dlq));

describe("listDeadLetters", () => {
  test("lists letters in stream order with what each holds, filtered by stage, dataset, code and sequence", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    const dlq = new DeadLetters(t.bus.js, { subjects: t.subjects });
    const { msg } = await ingestFrame(t, 3, "f");
    const frame = await dlq.frame({
      stage: Stage.Processor,
      msg,
      code: "MAX_DELIVERIES",
      reason: "failed 5 times",
    });
    const event = await dlq.event({
      stage: Stage.Collector,
      dataset: "clicks",
      code: "SCHEMA_MISMATCH",
      reason: 'dataset "clicks": field "page" expected string, got 42',
      eventId: "e-1",
      event: { page: 42 },
    });
    const order = await dlq.event({
      stage: Stage.Processor,
      dataset: "orders",
      code: "TRANSFORM_FAILED",
      reason: "no",
      eventId: "o-1",
      event: { id: 1 },
    });

    const all = await list(t);
    expect(all.map((l) => l.seq)).toEqual([frame.seq, event.seq, order.seq]);
    expect(all[0]).toMatchObject({
      stage: "processor",
      dataset: "clicks",
      kind: "frame",
      code: "MAX_DELIVERIES",
      reason: "failed 5 times",
      eventCount: 3,
      sourceSubject: t.subjects.ingest("clicks"),
      sourceSeq: msg.seq,
    });
    expect(all[0]?.eventId).toBeUndefined();
    expect(Math.abs(all[0]!.time.getTime() - Date.now())).toBeLessThan(60_000);
    expect(all[1]).toMatchObject({
      stage: "collector",
      kind: "event",
      code: "SCHEMA_MISMATCH",
      eventId: "e-1",
    });
    expect(all[1]?.eventCount).toBeUndefined();

    expect((await list(t, { stage: "processor" })).map((l) => l.seq)).toEqual([frame.seq, order.seq]);
    expect((await list(t, { dataset: "orders" })).map((l) => l.seq)).toEqual([order.seq]);
    expect((await list(t, { code: "SCHEMA_MISMATCH" })).map((l) => l.seq)).toEqual([event.seq]);
    expect((await list(t, { fromSeq: event.seq })).map((l) => l.seq)).toEqual([event.seq, order.seq]);
    expect((await list(t, { fromSeq: event.seq, toSeq: event.seq })).map((l) => l.seq)).toEqual([event.seq]);
    expect((await list(t, { stage: "processor", limit: 1 })).map((l) => l.seq)).toEqual([frame.seq]);
    expect(await list(t, { stage: "enricher" })).toEqual([]);
    // Read through an ordered consumer that is gone afterwards: nothing is left on the stream.
    expect(await t.bus.jsm.consumers.list(t.stream(StreamName.Dlq)).next()).toEqual([]);
    await t.close();
  });

  test("names the stages when given an unknown one", async ({ nats }) => {
    const t = await openTestBus(nats);
    const error = await list(t, { stage: "loader" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusError);
    expect((error as BusError).message).toBe(
      'unknown stage "loader": use one of collector, processor, enricher, lake-writer, cdc',
    );
    await t.close();
  });
});

describe("replayDeadLetters: frames", () => {
  test("publishes the frame to its source subject unchanged, with lineage, and deletes the letter", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    const read = await ingestFrame(t, 3, "r");
    const { msg, consumer } = read;
    const letter = await fileFrame(t, read, Stage.Processor);

    const report = await replayDeadLetters(t.bus, { subjects: t.subjects });

    expect(report.totals).toEqual({
      selected: 1,
      replayed: 1,
      wouldReplay: 0,
      rejected: 0,
      notReplayable: 0,
      failed: 0,
    });
    expect(report.outcomes[0]).toMatchObject({ status: "replayed", letter: { seq: letter.seq } });
    const replayed = await consumer.next({ expires: 5_000 });
    expect(replayed?.subject).toBe(t.subjects.ingest("clicks"));
    expect(replayed?.seq).toBeGreaterThan(msg.seq);
    expect(Buffer.from(replayed!.data).equals(Buffer.from(msg.data))).toBe(true);
    const h = replayed!.headers!;
    expect(h.get(Header.Schema)).toBe("clicks@1");
    expect(h.get(Header.Count)).toBe("3");
    expect(h.get(Header.Traceparent)).toBe(TRACEPARENT);
    expect(h.get(Header.ReplayOf)).toBe(String(letter.seq));
    expect(h.get(Header.MsgId)).toBe(`replay:${t.stream(StreamName.Dlq)}:${letter.seq}`);
    for (const gone of [
      Header.DlqKind,
      Header.Error,
      Header.ErrorCode,
      Header.Stage,
      Header.Dataset,
      Header.SourceSubject,
      Header.SourceSeq,
      Header.SourceMsgId,
    ]) {
      expect(h.has(gone), gone).toBe(false);
    }
    replayed!.ack();
    expect(await dlqCount(t)).toBe(0);

    // Replaying again finds nothing and sends nothing.
    const again = await replayDeadLetters(t.bus, { subjects: t.subjects });
    expect(again.totals.selected).toBe(0);
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
    await t.close();
  });

  test("a dry run and keep leave the letter; a re-run in the duplicate window sends no second copy", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    const read = await curatedFrame(t, "k");
    const { consumer } = read;
    const letter = await fileFrame(
      t,
      read,
      Stage.LakeWriter,
      "INCOMPATIBLE_SCHEMA",
      "clicks@1 cannot be read as clicks@2",
    );
    const options = { subjects: t.subjects };

    const dry = await replayDeadLetters(t.bus, { ...options, dryRun: true });
    expect(dry.outcomes).toEqual([
      expect.objectContaining({
        status: ReplayStatus.WouldReplay,
        message: `would publish 2 events to ${t.subjects.curated("clicks")}`,
      }),
    ]);
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
    expect(await dlqCount(t)).toBe(1);

    const kept = await replayDeadLetters(t.bus, { ...options, keep: true });
    expect(kept.outcomes[0]?.status).toBe(ReplayStatus.Replayed);
    expect(await dlqCount(t)).toBe(1);
    const first = await consumer.next({ expires: 5_000 });
    expect(first?.headers?.get(Header.ReplayOf)).toBe(String(letter.seq));
    first!.ack();

    // As after a crash between publishing and deleting: JetStream drops the second copy.
    const rerun = await replayDeadLetters(t.bus, options);
    expect(rerun.outcomes[0]).toMatchObject({
      status: ReplayStatus.Replayed,
      message: `already replayed to ${t.subjects.curated("clicks")} (JetStream kept the first copy)`,
    });
    expect(await dlqCount(t)).toBe(0);
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
    await t.close();
  });

  test("keeps a frame the raw writer gave up on: replayed to INGEST it would reach the processor too", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    const read = await ingestFrame(t, 1, "w");
    const { consumer } = read;
    await fileFrame(t, read, Stage.LakeWriter, "SCHEMA_NOT_FOUND", "clicks@1 is unknown");

    const report = await replayDeadLetters(t.bus, { subjects: t.subjects });

    expect(report.outcomes[0]?.status).toBe(ReplayStatus.NotReplayable);
    expect(report.outcomes[0]?.message).toMatch(/would reach the processor too/);
    expect(await dlqCount(t)).toBe(1);
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
    await t.close();
  });
});

describe("replayDeadLetters and the lake's copy", () => {
  test("takes a letter out of the DLQ only once the dead_letters table holds it", async ({ nats }) => {
    const t = await openTestBus(nats);
    const read = await ingestFrame(t, 2, "a");
    const { consumer } = read;
    const letter = await fileFrame(t, read, Stage.Processor);
    // The archive has announced the table up to the letter before this one.
    const progress = await DeadLetterProgress.create(t.bus.nc, { prefix: t.prefix });
    await progress.recordArchived(letter.seq - 1);

    const waiting = await replayDeadLetters(t.bus, { subjects: t.subjects, archiveWaitMs: 300 });
    expect(waiting.outcomes[0]).toMatchObject({ status: ReplayStatus.Failed });
    expect(waiting.outcomes[0]?.message).toMatch(
      new RegExp(
        `not in the lake's dead_letters table yet \\(it holds the DLQ up to seq ${letter.seq - 1}\\)`,
      ),
    );
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
    expect(await dlqCount(t)).toBe(1);
    // Kept letters are no concern of the table's.
    const kept = await replayDeadLetters(t.bus, { subjects: t.subjects, keep: true, archiveWaitMs: 0 });
    expect(kept.totals.replayed).toBe(1);
    (await consumer.next({ expires: 5_000 }))?.ack();

    // Announced while the replay waits: it goes, and leaves the DLQ.
    const replaying = replayDeadLetters(t.bus, { subjects: t.subjects, archiveWaitMs: 10_000 });
    await progress.recordArchived(letter.seq);
    expect((await replaying).totals).toMatchObject({ selected: 1, replayed: 1 });
    expect(await dlqCount(t)).toBe(0);
    await t.close();
  });
});

describe("replayDeadLetters: events", () => {
  test("keeps what it cannot replay: raw text, a cut event, a transformed event, no collector", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    const dlq = new DeadLetters(t.bus.js, { subjects: t.subjects });
    const base = { dataset: "clicks", code: "X", reason: "because" };
    const text = await dlq.event({ ...base, stage: Stage.Collector, event: "{not json" });
    const cut = await dlq.event({
      ...base,
      stage: Stage.Collector,
      eventId: "big",
      event: { blob: "x".repeat(1_000_000) },
    });
    const transformed = await dlq.event({
      ...base,
      stage: Stage.LakeWriter,
      eventId: "lw-1",
      event: { page: "/" },
    });
    const valid = await dlq.event({ ...base, stage: Stage.Processor, eventId: "p-1", event: { page: "/" } });
    const options = { subjects: t.subjects, requestTimeoutMs: 2_000 };

    const dry = await replayDeadLetters(t.bus, { ...options, dryRun: true });
    expect(dry.outcomes.map((o) => [o.letter.seq, o.status])).toEqual([
      [text.seq, ReplayStatus.NotReplayable],
      [cut.seq, ReplayStatus.NotReplayable],
      [transformed.seq, ReplayStatus.NotReplayable],
      [valid.seq, ReplayStatus.WouldReplay],
    ]);
    expect(dry.outcomes[0]?.message).toMatch(/raw text/);
    expect(dry.outcomes[1]?.message).toMatch(/truncated/);
    expect(dry.outcomes[2]?.message).toMatch(/already transformed it: sent through the collector again/);
    expect(dry.outcomes[3]?.message).toBe(
      `would send event p-1 to the collector on ${t.subjects.collect("clicks")}`,
    );

    const report = await replayDeadLetters(t.bus, options);
    expect(report.outcomes.find((o) => o.letter.seq === valid.seq)).toMatchObject({
      status: ReplayStatus.Failed,
      message: `no collector answers on ${t.subjects.collect("clicks")}: start one (events are replayed through it)`,
    });
    expect(report.totals).toMatchObject({ selected: 4, replayed: 0, notReplayable: 3, failed: 1 });
    expect((await storedMessages(t.bus.jsm, t.stream(StreamName.Dlq))).map((m) => m.seq)).toEqual([
      text.seq,
      cut.seq,
      transformed.seq,
      valid.seq,
    ]);
    await t.close();
  });
});
