import { fileURLToPath } from "node:url";
import {
  type Bus,
  collectorFrameId,
  connectBus,
  createSubjects,
  DlqKind,
  DurableName,
  decodeFrame,
  type FrameEvent,
  Header,
  publishFrame,
  readFrame,
  StreamName,
  streamName,
} from "@inlet/bus";
import { createAvroType, loadDatasets, registerDatasets, SchemaRegistry } from "@inlet/schema";
import { createLogger, initTelemetry, traceIdFromTraceparent } from "@inlet/telemetry";
import { uniqueName, waitFor } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { metrics } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { loadPipelineConfig, type PipelineConfig, parsePipelineConfig } from "../src/pipeline-config.js";
import { createProcessor, type Processor } from "../src/service.js";

const CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const logger = createLogger({ service: "processor-test", level: "silent" });
const telemetry = initTelemetry({ serviceName: "processor-test" });
afterAll(() => telemetry.shutdown());

let demo: PipelineConfig;
beforeAll(async () => {
  demo = await loadPipelineConfig(`${CONFIG_DIR}pipeline.json`);
});

/** One processor on its own streams (a unique prefix) and its own schema registry bucket. */
interface Harness {
  bus: Bus;
  prefix: string;
  subjects: ReturnType<typeof createSubjects>;
  registry: SchemaRegistry;
  processor: Processor;
  /** Publishes a frame of `events` (JSON, encoded with the dataset's schema v1) to INGEST; returns its seq. */
  ingest(dataset: string, events: Array<{ id: string; event: Record<string, unknown> }>): Promise<number>;
  /** The next message of `stream` (an ordered consumer per call position), or fails after 5 s. */
  next(stream: StreamName, filter?: string): Promise<JsMsg>;
  /** How many messages `stream` holds. */
  count(stream: StreamName): Promise<number>;
  close(): Promise<void>;
}

const test = natsTest.extend<{ harness: (pipeline?: PipelineConfig) => Promise<Harness> }>({
  harness: async ({ nats }, use) => {
    const opened: Harness[] = [];
    await use(async (pipeline = demo) => {
      const bus = await connectBus({ servers: nats.url, name: "processor-test" });
      const prefix = uniqueName("p");
      const subjects = createSubjects(prefix);
      const registry = await SchemaRegistry.create(bus.nc, { bucket: uniqueName("schemas") });
      await registerDatasets(registry, await loadDatasets(CONFIG_DIR));
      const processor = createProcessor({
        bus,
        registry,
        pipeline,
        logger,
        tracer: telemetry.tracer,
        meter: metrics.getMeter("processor-test"),
        replicas: 1,
        streamPrefix: prefix,
      });
      await processor.start();
      const readers = new Map<string, Awaited<ReturnType<typeof bus.js.consumers.get>>>();
      const harness: Harness = {
        bus,
        prefix,
        subjects,
        registry,
        processor,
        async ingest(dataset, events) {
          const { type } = await registry.get(`${dataset}@1`);
          const frame: FrameEvent[] = events.map(({ id, event }) => ({
            id,
            ingestedAt: 1_700_000_000_000,
            payload: type.toBuffer(type.clone(event)),
          }));
          const ack = await publishFrame(bus.js, subjects.ingest(dataset), {
            events: frame,
            schemaId: `${dataset}@1`,
            msgId: collectorFrameId(
              dataset,
              events.map((e) => e.id),
            ),
            traceparent: TRACEPARENT,
          });
          return ack.seq;
        },
        async next(stream, filter) {
          const name = streamName(stream, prefix);
          const key = `${name}|${filter ?? ""}`;
          let reader = readers.get(key);
          if (reader === undefined) {
            reader = await bus.js.consumers.get(
              name,
              filter === undefined ? {} : { filter_subjects: [filter] },
            );
            readers.set(key, reader);
          }
          const msg = await reader.next({ expires: 5_000 });
          if (msg === null) throw new Error(`no message on ${name} within 5 s`);
          return msg;
        },
        async count(stream) {
          return (await bus.jsm.streams.info(streamName(stream, prefix))).state.messages;
        },
        async close() {
          await processor.stop();
          await bus.close();
        },
      };
      opened.push(harness);
      return harness;
    });
    for (const h of opened) await h.close();
  },
});

const txn = (over: Record<string, unknown>) => ({
  ts: 1_700_000_000_000,
  transaction_id: "t-1",
  account_id: "a-1",
  merchant_id: "m-0001",
  amount: 10,
  currency: "eur",
  status: "captured",
  is_test: false,
  ...over,
});

const click = (over: Record<string, unknown>) => ({
  ts: 1_700_000_000_000,
  user_id: "u-1",
  session_id: "s-1",
  page: "/Products/42",
  referrer: null,
  country: "de",
  device: "mobile",
  user_agent: "Mozilla/5.0",
  duration_ms: 1_500,
  ...over,
});

async function waitForAcked(h: Harness): Promise<void> {
  await waitFor(
    async () => {
      const info = await h.bus.jsm.consumers.info(
        streamName(StreamName.Ingest, h.prefix),
        DurableName.Processor,
      );
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { message: "the processor acked every INGEST frame" },
  );
}

describe("processor", () => {
  test("filters and transforms a transactions frame into one PROCESSED frame, and raises the alert", async ({
    harness,
  }) => {
    const h = await harness();
    const seq = await h.ingest("transactions", [
      { id: "e1", event: txn({ amount: 12.345, currency: "eur" }) },
      { id: "e2", event: txn({ is_test: true }) },
      { id: "e3", event: txn({ amount: 20_000.499, currency: "usd", transaction_id: "t-3" }) },
    ]);

    const msg = await h.next(StreamName.Processed);
    const frame = readFrame(msg);
    expect(msg.subject).toBe(h.subjects.processed("transactions"));
    expect(msg.headers?.get(Header.MsgId)).toBe(`processor:transactions:${seq}`);
    expect(frame.schemaId).toBe("transactions@1");
    expect(traceIdFromTraceparent(frame.traceparent)).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(frame.traceparent).not.toBe(TRACEPARENT);
    const type = createAvroType((await h.registry.get("transactions@1")).schema);
    expect(decodeFrame(frame.body).map((e) => [e.id, e.ingestedAt])).toEqual([
      ["e1", 1_700_000_000_000],
      ["e3", 1_700_000_000_000],
    ]);
    expect(
      decodeFrame(frame.body)
        .map((e) => type.fromBuffer(Buffer.from(e.payload)))
        .map((e) => [e.amount, e.currency]),
    ).toEqual([
      [12.35, "EUR"],
      [20_000.5, "USD"],
    ]);

    const alert = await h.next(StreamName.Alerts);
    expect(alert.subject).toBe(h.subjects.alert("large_transaction"));
    expect(alert.headers?.get(Header.MsgId)).toBe("large_transaction:e3");
    expect(traceIdFromTraceparent(alert.headers?.get(Header.Traceparent))).toBe(
      "0af7651916cd43dd8448eb211c80319c",
    );
    expect(alert.json()).toMatchObject({
      rule: "large_transaction",
      dataset: "transactions",
      eventId: "e3",
      ingestedAt: 1_700_000_000_000,
      traceId: "0af7651916cd43dd8448eb211c80319c",
      event: { transaction_id: "t-3", amount: 20_000.5, currency: "USD" },
    });
    await waitForAcked(h);
    expect(await h.count(StreamName.Alerts)).toBe(1);
  });

  test("dead-letters the event a transform cannot handle and publishes the rest of the frame", async ({
    harness,
  }) => {
    const pipeline = parsePipelineConfig(
      {
        datasets: {
          clicks: { transform: [{ field: "duration_ms", op: "scale", multiply: 1_000 }] },
        },
      },
      "test",
    );
    const h = await harness(pipeline);
    await h.ingest("clicks", [
      { id: "c1", event: click({}) },
      { id: "c2", event: click({ duration_ms: 3_000_000 }) },
      { id: "c3", event: click({ duration_ms: 2 }) },
    ]);

    const frame = readFrame(await h.next(StreamName.Processed));
    expect(decodeFrame(frame.body).map((e) => e.id)).toEqual(["c1", "c3"]);

    const dead = await h.next(StreamName.Dlq);
    expect(dead.subject).toBe(h.subjects.dlq("processor", "clicks"));
    expect(dead.headers?.get(Header.DlqKind)).toBe(DlqKind.Event);
    expect(dead.headers?.get(Header.EventId)).toBe("c2");
    expect(dead.headers?.get(Header.Error)).toBe(
      'dataset "clicks": field "duration_ms" expected int after scale, got 3000000000',
    );
    expect(dead.json()).toMatchObject({
      stage: "processor",
      dataset: "clicks",
      code: "TRANSFORM_FAILED",
      field: "duration_ms",
      eventId: "c2",
      event: { duration_ms: 3_000_000, page: "/Products/42" },
    });
    await waitForAcked(h);
  });

  test("publishes nothing for a frame whose every event is filtered, and acks it", async ({ harness }) => {
    const h = await harness();
    await h.ingest("clicks", [
      { id: "b1", event: click({ user_agent: "Googlebot/2.1" }) },
      { id: "b2", event: click({ user_agent: "bingbot/2.0" }) },
    ]);
    await waitForAcked(h);
    expect(await h.count(StreamName.Processed)).toBe(0);
  });

  test("passes frames of a dataset without rules through, bytes unchanged", async ({ harness }) => {
    const h = await harness(parsePipelineConfig({}, "test"));
    await h.ingest("sensor_readings", [
      {
        id: "s1",
        event: {
          ts: 1_700_000_000_000,
          device_id: "dev-0001",
          temperature_c: 200,
          humidity_pct: 40,
          firmware: "1.0",
        },
      },
    ]);
    const input = await h.bus.jsm.streams.getMessage(streamName(StreamName.Ingest, h.prefix), { seq: 1 });
    const output = await h.next(StreamName.Processed);
    expect(Buffer.from(output.data).equals(Buffer.from(input?.data ?? []))).toBe(true);
    expect(output.headers?.get(Header.Count)).toBe("1");
    expect(output.headers?.get(Header.MsgId)).toBe("processor:sensor_readings:1");
  });

  test("dead-letters a frame it cannot decode, whole", async ({ harness }) => {
    const h = await harness();
    await publishFrame(h.bus.js, h.subjects.ingest("transactions"), {
      events: [{ id: "x1", ingestedAt: 1, payload: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }],
      schemaId: "transactions@1",
      msgId: "transactions:garbage",
    });
    const dead = await h.next(StreamName.Dlq);
    expect(dead.headers?.get(Header.DlqKind)).toBe(DlqKind.Frame);
    expect(dead.headers?.get(Header.Error)).toMatch(/event "x1" cannot be decoded as transactions@1/);
    expect(dead.headers?.get(Header.ErrorCode)).toBe("PAYLOAD_DECODE_FAILED");
    expect(dead.headers?.get(Header.SourceSeq)).toBe("1");
    await waitForAcked(h);
    expect(await h.count(StreamName.Processed)).toBe(0);
  });

  test("a redelivered frame produces no second output frame", async ({ harness }) => {
    const h = await harness();
    // Make the alert publish fail so the handler fails after its output frame was accepted: the
    // input is nak'ed and redelivered, as after a crash between PubAck and ack.
    const alerts = streamName(StreamName.Alerts, h.prefix);
    const original = (await h.bus.jsm.streams.info(alerts)).config;
    await h.bus.jsm.streams.update(alerts, { ...original, max_msg_size: 16 });
    const seq = await h.ingest("transactions", [{ id: "big", event: txn({ amount: 50_000 }) }]);

    const ingest = streamName(StreamName.Ingest, h.prefix);
    await waitFor(
      async () => (await h.bus.jsm.consumers.info(ingest, DurableName.Processor)).delivered.consumer_seq >= 2,
      { message: "the frame was delivered a second time" },
    );
    await h.bus.jsm.streams.update(alerts, { ...original, max_msg_size: -1 });
    await waitForAcked(h);

    expect(await h.count(StreamName.Processed)).toBe(1);
    expect(await h.count(StreamName.Alerts)).toBe(1);
    const frame = readFrame(await h.next(StreamName.Processed));
    expect(frame.msgId).toBe(`processor:transactions:${seq}`);
    // The same output again, as a third delivery would publish it: JetStream reports a duplicate.
    const again = await publishFrame(h.bus.js, h.subjects.processed("transactions"), {
      events: decodeFrame(frame.body),
      schemaId: frame.schemaId,
      msgId: `processor:transactions:${seq}`,
    });
    expect(again.duplicate).toBe(true);
    expect(await h.count(StreamName.Processed)).toBe(1);
  });

  test("refuses to start when a rule names a field the registered schema lacks", async ({ nats }) => {
    const bus = await connectBus({ servers: nats.url, name: "processor-test" });
    try {
      const registry = await SchemaRegistry.create(bus.nc, { bucket: uniqueName("schemas") });
      await registerDatasets(registry, await loadDatasets(CONFIG_DIR));
      const processor = createProcessor({
        bus,
        registry,
        pipeline: parsePipelineConfig(
          { datasets: { transactions: { filter: [{ field: "amout", op: "gt", value: 0 }] } } },
          "test",
        ),
        logger,
        tracer: telemetry.tracer,
        meter: metrics.getMeter("processor-test"),
        replicas: 1,
        streamPrefix: uniqueName("p"),
      });
      await expect(processor.start()).rejects.toThrow(
        /dataset "transactions": rule "gt" names field "amout", which is not in the schema/,
      );
      expect(processor.ready()).toBe(false);
    } finally {
      await bus.close();
    }
  });
});
