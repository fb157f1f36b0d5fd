import { PassThrough, Readable } from "node:stream";
import { finished } from "node:stream/promises";
import {
  type Bus,
  collectorFrameId,
  connectBus,
  createSubjects,
  DeadLetters,
  DurableName,
  ensureConsumer,
  ensureStreams,
  Header,
  publishFrame,
  Stage,
  StreamName,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import { freePort, type NatsServer, uniqueName } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { runCli } from "../src/cli.js";

/** What one in-process run of the CLI printed and its exit status. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function inlet(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.setEncoding("utf8").on("data", (chunk: string) => out.push(chunk));
  stderr.setEncoding("utf8").on("data", (chunk: string) => err.push(chunk));
  const code = await runCli(args, { stdout, stderr, stdin: Readable.from([]), env });
  stdout.end();
  stderr.end();
  await Promise.all([finished(stdout), finished(stderr)]);
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** A DLQ on its own prefix of the shared server with one frame letter and two event letters. */
async function setup(nats: NatsServer) {
  const bus: Bus = await connectBus({ servers: nats.url, name: "cli-test" });
  const prefix = uniqueName("d");
  const subjects = createSubjects(prefix);
  await ensureStreams(bus.jsm, streamSpecs({ prefix }));
  const ingest = streamName(StreamName.Ingest, prefix);
  await ensureConsumer(bus.jsm, ingest, { durable: DurableName.Processor });
  await publishFrame(bus.js, subjects.ingest("clicks"), {
    events: [{ id: "c-1", ingestedAt: 1_767_225_600_000, payload: new Uint8Array([1, 2, 3]) }],
    schemaId: "clicks@1",
    msgId: collectorFrameId("clicks", ["c-1"]),
  });
  const consumer = await bus.js.consumers.get(ingest, DurableName.Processor);
  const msg = await consumer.next({ expires: 5_000 });
  if (msg === null) throw new Error("no frame on INGEST");
  const dlq = new DeadLetters(bus.js, { subjects });
  const frame = await dlq.frame({
    stage: Stage.Processor,
    msg,
    code: "MAX_DELIVERIES",
    reason: "failed 5 times",
  });
  msg.term();
  const event = await dlq.event({
    stage: Stage.Collector,
    dataset: "clicks",
    code: "SCHEMA_MISMATCH",
    reason: 'dataset "clicks": field "page" expected string, got 42',
    eventId: "e-1",
    event: { page: 42 },
  });
  const text = await dlq.event({
    stage: Stage.Collector,
    dataset: "orders",
    code: "MALFORMED_BODY",
    reason: "malformed JSON at line 1, column 2",
    event: "{oops",
  });
  return {
    bus,
    consumer,
    subjects,
    seqs: { frame: frame.seq, event: event.seq, text: text.seq },
    args: ["--nats", nats.url, "--prefix", prefix],
  };
}

describe("inlet dlq", () => {
  test("lists dead letters as a table and as JSON, with filters", async ({ nats }) => {
    const s = await setup(nats);
    try {
      const table = await inlet(["dlq", "list", ...s.args]);
      expect(table.stderr).toBe("");
      expect(table.code).toBe(0);
      const lines = table.stdout.split("\n");
      expect(lines[1]).toMatch(
        /│\s+seq\s+│\s+time\s+│\s+stage\s+│\s+dataset\s+│\s+kind\s+│\s+code\s+│\s+event_id\s+│\s+events\s+│\s+source\s+│\s+reason\s+│/,
      );
      expect(lines[4]).toMatch(
        new RegExp(
          `│\\s+${s.seqs.frame} │ 20\\d\\d-.*Z │ processor │ clicks\\s+│ frame\\s+│ MAX_DELIVERIES\\s+│ NULL\\s+│\\s+1 │ ${s.subjects.ingest("clicks")}:\\d+ │ failed 5 times\\s+│`,
        ),
      );
      expect(lines[5]).toMatch(
        /│ collector │ clicks\s+│ event\s+│ SCHEMA_MISMATCH\s+│ e-1\s+│\s+1 │ NULL\s+│ dataset "clicks"/,
      );
      expect(lines[6]).toMatch(/│ collector │ orders\s+│ event\s+│ MALFORMED_BODY/);
      expect(lines.at(-2)).toBe("3 dead letters");

      const json = await inlet([
        "dlq",
        "list",
        ...s.args,
        "--format",
        "json",
        "--stage",
        "collector",
        "--dataset",
        "clicks",
      ]);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual([
        expect.objectContaining({
          seq: s.seqs.event,
          kind: "event",
          eventId: "e-1",
          code: "SCHEMA_MISMATCH",
        }),
      ]);

      const limited = await inlet(["dlq", "list", ...s.args, "--limit", "1", "--code", "MALFORMED_BODY"]);
      expect(limited.stdout).toMatch(/│ orders\s+│/);
      expect(limited.stdout.split("\n").at(-2)).toBe("1 dead letter");
      const more = await inlet(["dlq", "list", ...s.args, "--limit", "2", "-f", "json"]);
      expect(JSON.parse(more.stdout).map((l: { seq: number }) => l.seq)).toEqual([
        s.seqs.frame,
        s.seqs.event,
      ]);
      expect(more.stderr).toBe("showing the first 2: use --limit or --seq for more\n");
    } finally {
      await s.bus.close();
    }
  });

  test("replays: a dry run changes nothing, the frame goes back, what cannot be replayed stays", async ({
    nats,
  }) => {
    const s = await setup(nats);
    try {
      const dry = await inlet(["dlq", "replay", ...s.args, "--dry-run"]);
      expect(dry.stdout.split("\n")).toEqual([
        `${s.seqs.frame} would replay frame processor/clicks MAX_DELIVERIES: would publish 1 event to ${s.subjects.ingest("clicks")}`,
        `${s.seqs.event} would replay event e-1 collector/clicks SCHEMA_MISMATCH: would send event e-1 to the collector on ${s.subjects.collect("clicks")}`,
        `${s.seqs.text} not replayable event collector/orders MALFORMED_BODY: the event is the raw text of a body that was not valid JSON: fix it and send it again`,
        "would replay 2, rejected again 0, not replayable 1, failed 0 of 3 dead letters (dry run: nothing sent or deleted)",
        "",
      ]);
      // Not every letter could be replayed: exit 1.
      expect(dry.code).toBe(1);
      expect(await s.consumer.next({ expires: 1_000 })).toBeNull();

      const frameOnly = await inlet(["dlq", "replay", ...s.args, "--seq", String(s.seqs.frame)]);
      expect(frameOnly.stderr).toBe("");
      expect(frameOnly.stdout).toMatch(
        new RegExp(
          `^${s.seqs.frame} replayed frame processor/clicks MAX_DELIVERIES: published to ${s.subjects.ingest("clicks")} as seq \\d+\n`,
        ),
      );
      expect(frameOnly.stdout).toMatch(
        /replayed 1, rejected again 0, not replayable 0, failed 0 of 1 dead letters\n$/,
      );
      expect(frameOnly.code).toBe(0);
      const replayed = await s.consumer.next({ expires: 5_000 });
      expect(replayed?.headers?.get(Header.ReplayOf)).toBe(String(s.seqs.frame));
      replayed?.ack();

      const left = await inlet(["dlq", "list", ...s.args, "-f", "json"]);
      expect(JSON.parse(left.stdout).map((l: { seq: number }) => l.seq)).toEqual([s.seqs.event, s.seqs.text]);

      // The raw text stays whatever happens; JSON output carries every outcome and the totals.
      const json = await inlet(["dlq", "replay", ...s.args, "--dataset", "orders", "-f", "json"]);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        dryRun: false,
        outcomes: [{ status: "not-replayable", letter: { seq: s.seqs.text } }],
        totals: { selected: 1, notReplayable: 1 },
      });
    } finally {
      await s.bus.close();
    }
  });

  test("says which NATS it could not reach, and which stages there are", async () => {
    const port = await freePort();
    const unreachable = await inlet(["dlq", "list"], { INLET_NATS_URL: `nats://127.0.0.1:${port}` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(
      `inlet: cannot reach NATS at nats://127.0.0.1:${port}: connection refused (give the server with --nats or INLET_NATS_URL)\n`,
    );

    const stage = await inlet(["dlq", "replay", "--stage", "loader"]);
    expect(stage.code).toBe(2);
    expect(stage.stderr).toMatch(
      /^inlet: unknown stage "loader"; expected one of collector, processor, enricher, lake-writer, cdc\n/,
    );

    const sub = await inlet(["dlq", "purge"]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/dlq takes list or replay/);
  });
});
