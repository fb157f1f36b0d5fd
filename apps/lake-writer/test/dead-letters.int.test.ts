import { existsSync } from "node:fs";
import {
  DeadLetterProgress,
  DeadLetters,
  DlqKind,
  decodeFrame,
  Header,
  publishFrame,
  StreamName,
} from "@inlet/bus";
import { curatedTableDir, readDeltaSnapshot } from "@inlet/lake";
import { DEAD_LETTERS_DATASET } from "@inlet/schema";
import { createLogger } from "@inlet/telemetry";
import { startNatsServer, uniqueName, waitFor } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import { headers } from "@nats-io/nats-core";
import { describe, expect } from "vitest";
import { DEAD_LETTER_APP_ID } from "../src/dead-letter-archive.js";
import { Harness, TRACE_ID, TRACEPARENT, harnessTest as test } from "./harness.js";

function fileEventLetter(harness: Harness, eventId: string, got = "12,5") {
  return new DeadLetters(harness.bus.js, { subjects: harness.subjects }).event({
    stage: "collector",
    dataset: "orders",
    code: "SCHEMA_MISMATCH",
    reason: `dataset "orders": field "qty" expected int, got ${JSON.stringify(got)}`,
    field: "qty",
    expected: "int",
    got,
    eventId,
    event: { ts: 1_700_000_000_000, item: "book", qty: got },
    traceparent: TRACEPARENT,
  });
}

async function deadLetterRows(harness: Harness): Promise<Record<string, unknown>[]> {
  return harness.rows(DEAD_LETTERS_DATASET, "dlq_seq");
}

describe("the dead_letters table", () => {
  test("holds every dead letter, event and frame, with its reason and lineage", async ({ harness }) => {
    const writer = await harness.startWriter();
    const eventAck = await fileEventLetter(harness, "ev-1");
    // A frame the lake-writer itself gives up on: its schema is not registered.
    const frame = await publishFrame(harness.bus.js, harness.subjects.curated("orders"), {
      events: [
        { id: "ev-a", ingestedAt: Date.UTC(2024, 2, 1), payload: Buffer.from([2, 4, 6]) },
        { id: "ev-b", ingestedAt: Date.UTC(2024, 2, 1), payload: Buffer.from([8]) },
      ],
      schemaId: "orders@9",
      msgId: uniqueName("frame"),
      traceparent: TRACEPARENT,
    });
    // Something in the DLQ that no stage wrote: kept as it is, never refused.
    const h = headers();
    h.set(Header.DlqKind, DlqKind.Event);
    const stray = await harness.bus.js.publish(harness.subjects.dlq("processor", "orders"), "not json", {
      headers: h,
    });

    const rows = await waitFor(
      async () => {
        const r = await deadLetterRows(harness);
        return r.length >= 3 ? r : undefined;
      },
      { message: "three dead letters in the table" },
    );
    expect(rows).toHaveLength(3);
    const event = rows.find((r) => r.dlq_seq === BigInt(eventAck.seq));
    const frameRow = rows.find((r) => r.kind === "frame");
    const strayRow = rows.find((r) => r.dlq_seq === BigInt(stray.seq));

    expect(event).toMatchObject({
      dlq_seq: BigInt(eventAck.seq),
      stage: "collector",
      dataset: "orders",
      kind: "event",
      code: "SCHEMA_MISMATCH",
      reason: 'dataset "orders": field "qty" expected int, got "12,5"',
      field: "qty",
      expected: "int",
      got: '"12,5"',
      truncated: false,
      frame: null,
      _event_id: "ev-1",
      _trace_id: TRACE_ID,
      _schema_version: 1,
    });
    expect(JSON.parse(String(event?.event))).toEqual({ ts: 1_700_000_000_000, item: "book", qty: "12,5" });
    const at = (event!.dead_lettered_at as Date).getTime();
    expect(Math.abs(at - Date.now())).toBeLessThan(60_000);
    expect(event?.event_date).toEqual(new Date(new Date(at).toISOString().slice(0, 10)));

    expect(frameRow).toMatchObject({
      stage: "lake-writer",
      dataset: "orders",
      kind: "frame",
      code: "NOT_FOUND",
      reason: "schema orders@9 is not registered",
      event: null,
      frame_schema: "orders@9",
      frame_events: 2,
      source_subject: harness.subjects.curated("orders"),
      source_seq: BigInt(frame.seq),
      _event_id: `dlq:${frameRow?.dlq_seq}`,
      _trace_id: TRACE_ID,
    });
    // The frame's bytes as the stage read them, unchanged: its events can be read back.
    const events = decodeFrame(frameRow?.frame as Uint8Array);
    expect(events.map((e) => [e.id, [...e.payload]])).toEqual([
      ["ev-a", [2, 4, 6]],
      ["ev-b", [8]],
    ]);

    expect(strayRow).toMatchObject({
      dlq_seq: BigInt(stray.seq),
      stage: "processor",
      dataset: "orders",
      kind: "event",
      code: "UNKNOWN",
      event: JSON.stringify("not json"),
      _event_id: `dlq:${stray.seq}`,
      _trace_id: null,
    });
    await writer.stop();
  });

  test("goes on after a restart from where its commits stopped: nothing twice, nothing missed", async ({
    harness,
  }) => {
    const first = await harness.startWriter();
    const acks = [await fileEventLetter(harness, "ev-1"), await fileEventLetter(harness, "ev-2")];
    await waitFor(() => first.deadLetters!.committedSeq >= acks[1]!.seq, { message: "the first commit" });
    await first.stop();

    // Filed while no lake-writer runs; the next one reads them from the stream.
    for (const id of ["ev-3", "ev-4", "ev-5"]) acks.push(await fileEventLetter(harness, id));
    const second = await harness.startWriter();
    await waitFor(() => second.deadLetters!.committedSeq >= acks[4]!.seq, { message: "the second commit" });
    await second.stop();
    // A third start with nothing new commits nothing.
    const snapshot = await readDeltaSnapshot(curatedTableDir(harness.lakeDir, DEAD_LETTERS_DATASET));
    const third = await harness.startWriter();
    await new Promise((resolve) => setTimeout(resolve, 600));
    await third.stop();

    const rows = await deadLetterRows(harness);
    expect(rows.map((r) => r._event_id)).toEqual(["ev-1", "ev-2", "ev-3", "ev-4", "ev-5"]);
    expect(rows.map((r) => r.dlq_seq)).toEqual(acks.map((a) => BigInt(a.seq)));
    const after = await readDeltaSnapshot(curatedTableDir(harness.lakeDir, DEAD_LETTERS_DATASET));
    expect(after?.version).toBe(snapshot?.version);
    expect(after?.txns.get(DEAD_LETTER_APP_ID)).toBe(acks[4]!.seq);
    // Announced on the bus for `inlet dlq replay`, which takes out of the DLQ only what the table holds.
    const progress = await DeadLetterProgress.open(harness.bus.nc, { prefix: harness.prefix });
    expect(await progress?.archivedSeq()).toBe(acks[4]!.seq);
    // Read, never removed: the stream still holds them for replay.
    const info = await harness.bus.jsm.streams.info(harness.stream(StreamName.Dlq));
    expect(info.state.messages).toBe(5);
  });

  test("holds each letter once when two lake-writers archive into it", async ({ harness }) => {
    // One commits small batches often, the other holds larger ones: its batches overlap the first's.
    // Letters come over 3 s, so each archive commits several times.
    const writers = [
      await harness.startWriter({ INLET_WRITER_FLUSH_MS: "50" }),
      await harness.startWriter({ INLET_WRITER_FLUSH_MS: "400" }),
    ];
    try {
      const acks = [await fileEventLetter(harness, "twice-first")];
      // Both archives run (each has the first letter, committed by one of them) before the rest come.
      await waitFor(() => writers.every((w) => w.deadLetters!.committedSeq >= acks[0]!.seq), {
        timeoutMs: 20_000,
        message: "both archives running",
      });
      for (let i = 0; i < 150; i++) {
        acks.push(await fileEventLetter(harness, `twice-${i}`));
        if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 120));
      }
      const last = acks.at(-1)!.seq;
      await waitFor(() => writers.some((w) => w.deadLetters!.committedSeq >= last), {
        timeoutMs: 20_000,
        message: "every letter archived",
      });
      const rows = await deadLetterRows(harness);
      expect(rows.map((r) => r.dlq_seq)).toEqual(acks.map((a) => BigInt(a.seq)));
    } finally {
      for (const writer of writers) await writer.stop();
    }
  });

  test("reads a backlog larger than one pull without counting a failed fetch", async ({ harness }) => {
    // 1,200 letters of about 3 kB: several pulls, each ending with a 409 once its bytes are used up
    // ("batch completed", "message size exceeds maxbytes"): the end of a fetch, not a failure.
    const letters = new DeadLetters(harness.bus.js, { subjects: harness.subjects });
    let last = 0;
    for (let i = 0; i < 1_200; i++) {
      const ack = await letters.event({
        stage: "collector",
        dataset: "orders",
        code: "SCHEMA_MISMATCH",
        reason: `letter ${i}`,
        eventId: `big-${i}`,
        event: { item: "x".repeat(3_000), i },
      });
      last = ack.seq;
    }
    const lines: string[] = [];
    const log = createLogger({
      service: "lake-writer-test",
      level: "warn",
      destination: { write: (line: string) => void lines.push(line) },
    });
    const writer = await harness.startWriter({}, log);
    await waitFor(() => writer.deadLetters!.committedSeq >= last, {
      timeoutMs: 20_000,
      message: "every letter archived (a pull ending on its bytes once stalled the archive for good)",
    });
    expect((await deadLetterRows(harness)).length).toBe(1_200);
    expect(lines.filter((l) => l.includes("reading the dead-letter stream failed"))).toEqual([]);
    await writer.stop();
  });

  test("is not written when the archive is off", async ({ harness }) => {
    const writer = await harness.startWriter({ INLET_WRITER_DEAD_LETTERS: "false" });
    expect(writer.deadLetters).toBeUndefined();
    await fileEventLetter(harness, "ev-1");
    // A writer with the archive on commits within a flush interval (200 ms here).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await writer.stop();
    expect(existsSync(curatedTableDir(harness.lakeDir, DEAD_LETTERS_DATASET))).toBe(false);
  });

  natsTest("loses and duplicates nothing when the server restarts while dead letters come in", async () => {
    const nats = await startNatsServer();
    const harness = await Harness.create(nats.url);
    try {
      const writer = await harness.startWriter({ INLET_WRITER_FLUSH_MS: "100" });
      let last = 0;
      const filing = (async () => {
        for (let i = 0; i < 300; i++) last = (await fileEventLetter(harness, `ev-${i}`)).seq;
      })();
      await waitFor(() => writer.deadLetters!.committedSeq >= 50, { message: "the archive at work" });
      await nats.restart();
      await filing;
      await waitFor(() => writer.deadLetters!.committedSeq >= last, {
        timeoutMs: 30_000,
        message: "the archive to catch up after the restart",
      });
      await writer.stop();
      const rows = await deadLetterRows(harness);
      expect(rows).toHaveLength(300);
      expect(new Set(rows.map((r) => r._event_id)).size).toBe(300);
    } finally {
      await harness.close();
      await nats.stop();
    }
  });
});
