// End to end: a real nats-server and the five services as separate processes, demo events over
// HTTP and NATS (valid and invalid), and every claim checked through the query API.
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator, createRng, invalidEvent } from "@inlet/demo";
import { findRepoRoot, freePort, waitFor } from "@inlet/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../src/stack.js";
// The pipeline rules (config/pipeline.json) restated independently, as the oracle of what must land.
import { kept } from "./e2e-support.js";

type Event = Record<string, unknown>;
interface Sent {
  /** Events the collector accepted, by id. */
  accepted: Map<string, Event>;
  /** Invalid events sent, by id, with the field that is wrong. */
  invalid: Map<string, string>;
}
interface Answer {
  accepted: number;
  rejected: number;
  results: {
    index: number;
    status: "accepted" | "rejected";
    id?: string;
    errors?: { field: string; message: string }[];
  }[];
}

const rootDir = findRepoRoot() ?? process.cwd();
const DATASETS = ["clicks", "transactions", "sensor_readings"] as const;
type Dataset = (typeof DATASETS)[number];
const sent: Record<Dataset, Sent> = {
  clicks: { accepted: new Map(), invalid: new Map() },
  transactions: { accepted: new Map(), invalid: new Map() },
  sensor_readings: { accepted: new Map(), invalid: new Map() },
};
const rejectionsSeen = new Map<string, string[]>();

let stack: Stack;
let nc: NatsConnection;
let otlp: Server;
/** Spans the services exported over OTLP/HTTP (JSON): service name, trace id, span name, kind, attributes. */
const spans: {
  service: string;
  traceId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | undefined>;
}[] = [];

type OtlpAttribute = { key: string; value: { stringValue?: string; intValue?: string | number } };

interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: { traceId: string; name: string; kind: number; attributes?: OtlpAttribute[] }[];
    }[];
  }[];
}

// OTLP's SPAN_KIND_CONSUMER.
const OTLP_CONSUMER = 5;

/** A stand-in OpenTelemetry collector: takes OTLP/HTTP JSON exports and keeps the spans. */
async function startOtlpReceiver(): Promise<string> {
  otlp = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpBody;
      for (const rs of body.resourceSpans ?? []) {
        const service =
          rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "?";
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            const attributes = Object.fromEntries(
              (span.attributes ?? []).map((a) => [
                a.key,
                a.value.stringValue ??
                  (a.value.intValue === undefined ? undefined : Number(a.value.intValue)),
              ]),
            );
            spans.push({ service, traceId: span.traceId, name: span.name, kind: span.kind, attributes });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  otlp.listen(0, "127.0.0.1");
  await once(otlp, "listening");
  return `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`;
}
let workDir: string;
let merchants: Record<string, { name: string; category: string; country: string }>;
let devices: Record<string, { site: string; model: string }>;

// Half away from zero, on the decimal the producer wrote (1.005 → 1.01, -43.05 → -43.1).
const round = (n: number, digits: number) => {
  const scaled = Number((Math.abs(n) * 10 ** digits).toPrecision(15));
  const rounded = Math.round(scaled) / 10 ** digits;
  return n < 0 && rounded !== 0 ? -rounded : rounded;
};

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const res = await fetch(`${stack.queryUrl}/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sql }),
  });
  const body = (await res.json()) as { rows: T[]; error?: unknown };
  if (res.status !== 200) throw new Error(`query failed (${res.status}): ${JSON.stringify(body)}`);
  return body.rows;
}

async function send(dataset: Dataset, events: Event[], via: "http-ndjson" | "http-array" | "nats") {
  let answer: Answer;
  if (via === "nats") {
    const reply = await nc.request(`inlet.collect.${dataset}`, JSON.stringify(events), { timeout: 30_000 });
    answer = reply.json() as Answer;
  } else {
    const body =
      via === "http-array" ? JSON.stringify(events) : events.map((e) => JSON.stringify(e)).join("\n");
    const res = await fetch(`${stack.collectorUrl}/v1/events/${dataset}`, {
      method: "POST",
      headers: { "content-type": via === "http-array" ? "application/json" : "application/x-ndjson" },
      body,
    });
    expect([200, 400]).toContain(res.status);
    answer = (await res.json()) as Answer;
  }
  expect(answer.results).toHaveLength(events.length);
  for (const result of answer.results) {
    const event = events[result.index]!;
    const id = event._event_id as string;
    if (result.status === "accepted") {
      expect(result.id).toBe(id);
      const { _event_id, ...fields } = event;
      sent[dataset].accepted.set(id, fields);
    } else {
      rejectionsSeen.set(
        id,
        (result.errors ?? []).map((e) => e.field),
      );
    }
  }
  return answer;
}

/** Sends `count` valid events (and `invalid` bad ones mixed in) of a dataset in batches. */
async function sendMany(dataset: Dataset, count: number, invalid: number, prefix: string, seed: number) {
  const generator = createGenerator(dataset, { seed });
  const rng = createRng(seed + 1);
  const events: Event[] = [];
  for (let i = 0; i < count; i++)
    events.push({ ...(generator.next() as Event), _event_id: `${prefix}-${i}` });
  for (let i = 0; i < invalid; i++) {
    const bad = invalidEvent(dataset, rng);
    const id = `${prefix}-bad-${i}`;
    sent[dataset].invalid.set(id, bad.field);
    events.splice(Math.floor(rng.next() * events.length), 0, { ...(bad.event as Event), _event_id: id });
  }
  const ways = ["http-ndjson", "http-array", "nats"] as const;
  for (let i = 0, b = 0; i < events.length; i += 400, b++) {
    await send(dataset, events.slice(i, i + 400), ways[b % ways.length]!);
  }
}

async function waitForLake(timeoutMs = 120_000) {
  await waitFor(
    async () => {
      for (const ds of DATASETS) {
        const expected = [...sent[ds].accepted.values()].filter(kept[ds]).length;
        const [row] = await query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${ds}`).catch(() => [
          { n: -1 },
        ]);
        if (row?.n !== expected) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 500, message: "the lake did not reach the expected row counts" },
  );
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "inlet-e2e-"));
  const port = async () => await freePort();
  stack = await startStack({
    rootDir,
    natsStoreDir: join(workDir, "nats"),
    lakeDir: join(workDir, "lake"),
    ports: {
      nats: await port(),
      natsMonitor: await port(),
      collector: await port(),
      processor: await port(),
      enricher: await port(),
      lakeWriter: await port(),
      query: await port(),
    },
    env: {
      INLET_WRITER_FLUSH_MS: "1000",
      INLET_LOG_LEVEL: "warn",
      OTEL_EXPORTER_OTLP_ENDPOINT: await startOtlpReceiver(),
    },
  });
  nc = await connect({ servers: stack.natsUrl });
  merchants = JSON.parse(await readFile(join(rootDir, "config/reference/merchants.json"), "utf8"));
  devices = JSON.parse(await readFile(join(rootDir, "config/reference/devices.json"), "utf8"));
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await stack?.stop();
  otlp?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

describe("the pipeline, end to end", () => {
  it("lands every accepted event exactly once, with rules, enrichment, alerts and traces applied", async () => {
    await Promise.all([
      sendMany("clicks", 4_000, 50, "c", 11),
      sendMany("transactions", 3_500, 50, "t", 22),
      sendMany("sensor_readings", 3_000, 50, "s", 33),
    ]);
    const accepted = DATASETS.reduce((n, ds) => n + sent[ds].accepted.size, 0);
    expect(accepted).toBe(10_500);

    // Every invalid event was answered with its reason, naming the wrong field.
    for (const ds of DATASETS) {
      for (const [id, field] of sent[ds].invalid) {
        expect(rejectionsSeen.get(id), `rejection of ${id}`).toContain(field);
      }
    }
    expect(rejectionsSeen.size).toBe(150);

    await waitForLake();

    for (const ds of DATASETS) {
      const expected = [...sent[ds].accepted].filter(([, e]) => kept[ds](e));
      const [counts] = await query<{ n: number; ids: number; untraced: number }>(
        `SELECT count(*)::INTEGER AS n, count(DISTINCT _event_id)::INTEGER AS ids,
                count(*) FILTER (WHERE _trace_id IS NULL OR length(_trace_id) <> 32)::INTEGER AS untraced
         FROM ${ds}`,
      );
      expect(counts).toEqual({ n: expected.length, ids: expected.length, untraced: 0 });
      const ids = await query<{ _event_id: string }>(`SELECT _event_id FROM ${ds}`);
      expect(new Set(ids.map((r) => r._event_id))).toEqual(new Set(expected.map(([id]) => id)));
    }

    // Transforms: clicks upper-case country and lower-case page.
    const clicks = await query<{ _event_id: string; country: string; page: string }>(
      "SELECT _event_id, country, page FROM clicks",
    );
    for (const row of clicks) {
      const input = sent.clicks.accepted.get(row._event_id)!;
      expect(row.country).toBe(String(input.country).toUpperCase());
      expect(row.page).toBe(String(input.page).toLowerCase());
    }

    // Transforms and enrichment on transactions: amount rounded, merchant joined or marked missing.
    const txs = await query<{
      _event_id: string;
      amount: number;
      currency: string;
      merchant_id: string;
      merchant_name: string | null;
      merchant_found: boolean;
    }>("SELECT _event_id, amount, currency, merchant_id, merchant_name, merchant_found FROM transactions");
    let misses = 0;
    for (const row of txs) {
      const input = sent.transactions.accepted.get(row._event_id)!;
      expect(row.amount).toBe(round(Number(input.amount), 2));
      expect(row.currency).toBe(String(input.currency).toUpperCase());
      const merchant = merchants[row.merchant_id];
      expect(row.merchant_found).toBe(merchant !== undefined);
      expect(row.merchant_name).toBe(merchant?.name ?? null);
      if (!merchant) misses++;
    }
    expect(misses).toBeGreaterThan(0);

    const readings = await query<{ _event_id: string; temperature_c: number; site: string | null }>(
      "SELECT _event_id, temperature_c, site FROM sensor_readings",
    );
    for (const row of readings) {
      const input = sent.sensor_readings.accepted.get(row._event_id)!;
      expect(row.temperature_c).toBe(round(Number(input.temperature_c), 1));
      expect(row.site).toBe(devices[String(input.device_id)]?.site ?? null);
    }

    // The alert fired for every large kept transaction, once each.
    const large = [...sent.transactions.accepted]
      .filter(([, e]) => kept.transactions(e) && Number(e.amount) > 10_000)
      .map(([id]) => id);
    expect(large.length).toBeGreaterThan(0);
    const jsm = await jetstreamManager(nc);
    const alerts = await jsm.streams.info("ALERTS", { subjects_filter: "alerts.>" });
    expect(alerts.state.subjects?.["alerts.large_transaction"]).toBe(large.length);

    // Every invalid event is in the dead-letter stream.
    const dlq = await jsm.streams.info("DLQ", { subjects_filter: "dlq.>" });
    const collectorDeadLetters = Object.entries(dlq.state.subjects ?? {})
      .filter(([subject]) => subject.startsWith("dlq.collector."))
      .reduce((n, [, count]) => n + count, 0);
    expect(collectorDeadLetters).toBe(150);
  }, 300_000);

  it("loses nothing and duplicates nothing when the lake-writer is stopped mid-stream and restarted", async () => {
    const before = sent.clicks.accepted.size;
    const sending = (async () => {
      for (let round = 0; round < 10; round++) {
        await sendMany("clicks", 500, 0, `restart-${round}`, 100 + round);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await waitFor(() => sent.clicks.accepted.size >= before + 1_500, { timeoutMs: 60_000 });
    const exit = await stack.stopService("lake-writer");
    expect(exit).toEqual({ code: 0, signal: null });
    await stack.start("lake-writer");
    await sending;
    expect(sent.clicks.accepted.size).toBe(before + 5_000);

    await waitForLake();
    const expected = [...sent.clicks.accepted.values()].filter(kept.clicks).length;
    const [counts] = await query<{ n: number; ids: number }>(
      "SELECT count(*)::INTEGER AS n, count(DISTINCT _event_id)::INTEGER AS ids FROM clicks",
    );
    expect(counts).toEqual({ n: expected, ids: expected });
  }, 300_000);

  it("traces a request from the producer through every hop into the row that holds it", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const [event] = createGenerator("transactions", { seed: 7 }).batch(1) as Event[];
    const res = await fetch(`${stack.collectorUrl}/v1/events/transactions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ ...event, is_test: false, _event_id: "traced-1" }),
    });
    expect(res.status).toBe(200);

    await waitFor(
      async () => (await query(`SELECT 1 FROM transactions WHERE _event_id = 'traced-1'`)).length === 1,
      {
        timeoutMs: 60_000,
      },
    );
    const [row] = await query<{ _trace_id: string }>(
      "SELECT _trace_id FROM transactions WHERE _event_id = 'traced-1'",
    );
    expect(row?._trace_id).toBe(traceId);

    // Each service exports its spans in batches (every few seconds): wait for all four hops.
    const hops = ["inlet-collector", "inlet-processor", "inlet-enricher", "inlet-lake-writer"];
    await waitFor(
      () => hops.every((service) => spans.some((s) => s.traceId === traceId && s.service === service)),
      { timeoutMs: 30_000, message: "not every hop exported a span of the trace" },
    );
    // Each stage that consumes a frame names it the same way: subject, consumer, frame id, dataset, schema, stage.
    const consumed = [
      {
        service: "inlet-processor",
        stage: "processor",
        subject: "ingest.transactions",
        consumer: "processor",
      },
      {
        service: "inlet-enricher",
        stage: "enricher",
        subject: "processed.transactions",
        consumer: "enricher",
      },
      {
        service: "inlet-lake-writer",
        stage: "lake-writer",
        subject: "curated.transactions",
        consumer: "lake-writer-transactions",
      },
    ];
    for (const hop of consumed) {
      const span = spans.find(
        (s) => s.traceId === traceId && s.service === hop.service && s.kind === OTLP_CONSUMER,
      );
      expect(span?.attributes, hop.service).toMatchObject({
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.destination.name": hop.subject,
        "messaging.consumer.group.name": hop.consumer,
        "messaging.message.id": expect.stringMatching(/.+/),
        "messaging.batch.message_count": expect.any(Number),
        "inlet.dataset": "transactions",
        "inlet.schema_id": expect.stringMatching(/^transactions@\d+$/),
        "inlet.stage": hop.stage,
      });
    }
  }, 120_000);
});
