import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collectorFrameId, decodeFrame, Header, StreamName } from "@inlet/bus";
import { newAccessToken } from "@inlet/runtime";
import { SchemaRegistry } from "@inlet/schema";
import { parseTraceparent } from "@inlet/telemetry";
import { startNatsServer, waitFor } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { describe, expect } from "vitest";
import { click, errorAnswer, ingestAnswer, READER, startTestCollector, storedMessages } from "./helpers.js";

const CLIENT_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("collector over HTTP", () => {
  test("stores accepted events in INGEST as one frame with the contract's headers", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const events = [
        click({ _event_id: "a-1" }),
        click({ _event_id: "a-2", page: "/" }),
        click({ campaign: "x" }),
      ];
      const res = await t.post("clicks", JSON.stringify(events), { traceparent: CLIENT_TRACEPARENT });
      expect(res.status).toBe(200);
      const body = await ingestAnswer(res);
      expect(body).toMatchObject({ accepted: 3, rejected: 0 });
      const ids = body.results.map((r) => r.id ?? "");
      expect(ids.slice(0, 2)).toEqual(["a-1", "a-2"]);
      expect(ids[2]).toMatch(/^[0-9a-f-]{36}$/);

      const [frame, ...more] = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      expect(more).toHaveLength(0);
      expect(frame?.subject).toBe(t.subjects.ingest("clicks"));
      expect(frame?.header.get(Header.MsgId)).toBe(collectorFrameId("clicks", ids));
      expect(frame?.header.get(Header.Schema)).toBe("clicks@2");
      expect(frame?.header.get(Header.Count)).toBe("3");
      const traceparent = parseTraceparent(frame?.header.get(Header.Traceparent));
      expect(traceparent?.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
      expect(traceparent?.spanId).not.toBe("00f067aa0ba902b7");

      const registry = await SchemaRegistry.create(t.bus.nc, { bucket: t.schemaBucket });
      const { type } = await registry.get("clicks@2");
      const decoded = decodeFrame(frame!.data);
      expect(decoded.map((e) => e.id)).toEqual(ids);
      expect(Math.abs(decoded[0]!.ingestedAt - Date.now())).toBeLessThan(60_000);
      expect(type.fromBuffer(Buffer.from(decoded[1]!.payload))).toEqual({
        ...click({ page: "/" }),
        campaign: null,
      });
      expect(type.fromBuffer(Buffer.from(decoded[2]!.payload))).toMatchObject({ campaign: "x" });
    } finally {
      await t.close();
    }
  });

  test("deduplicates a retry with the same _event_ids", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const body = JSON.stringify([click({ _event_id: "r-1" }), click({ _event_id: "r-2" })]);
      expect((await t.post("clicks", body)).status).toBe(200);
      const retry = await t.post("clicks", body);
      expect(retry.status).toBe(200);
      const answer = await ingestAnswer(retry);
      expect(answer).toMatchObject({ accepted: 2, duplicates: 2 });
      expect(answer.results[0]).toEqual({ index: 0, status: "accepted", id: "r-1", duplicate: true });
      expect(await storedMessages(t.bus, t.stream(StreamName.Ingest))).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  test("splits a big batch into frames and accepts NDJSON", async ({ nats }) => {
    const t = await startTestCollector(nats.url, { env: { INLET_COLLECTOR_FRAME_MAX_EVENTS: "10" } });
    try {
      const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify(click({ _event_id: `n-${i}` }))).join(
        "\n",
      );
      const res = await t.post(
        "clicks",
        lines,
        { "content-type": "application/x-ndjson" },
        "?results=errors",
      );
      expect(res.status).toBe(200);
      expect(await ingestAnswer(res)).toEqual({ accepted: 25, rejected: 0, results: [] });
      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      expect(frames.map((f) => f.header.get(Header.Count)).sort()).toEqual(["10", "10", "5"]);
      const ids = frames.flatMap((f) => decodeFrame(f.data).map((e) => e.id));
      expect(new Set(ids).size).toBe(25);
    } finally {
      await t.close();
    }
  });

  test("answers invalid events with field, expected and got, and dead-letters them", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const events = [click({ _event_id: "ok-1" }), click({ _event_id: "bad-1", duration_ms: "long" }), 42];
      const res = await t.post("clicks", JSON.stringify(events), { traceparent: CLIENT_TRACEPARENT });
      expect(res.status).toBe(200);
      const body = await ingestAnswer(res);
      expect(body).toMatchObject({ accepted: 1, rejected: 2 });
      expect(body.results[1]).toEqual({
        index: 1,
        status: "rejected",
        id: "bad-1",
        errors: [
          {
            field: "duration_ms",
            expected: "int",
            got: '"long"',
            message: 'dataset "clicks": field "duration_ms" expected int, got "long"',
          },
        ],
      });
      expect(body.results[2]).toMatchObject({
        index: 2,
        status: "rejected",
        errors: [{ field: "", got: "42" }],
      });

      const letters = await storedMessages(t.bus, t.stream(StreamName.Dlq));
      expect(letters).toHaveLength(2);
      const letter = letters.find((m) => m.header.get(Header.EventId) === "bad-1");
      expect(letter?.subject).toBe(t.subjects.dlq("collector", "clicks"));
      expect(letter?.header.get(Header.DlqKind)).toBe("event");
      expect(letter?.header.get(Header.ErrorCode)).toBe("SCHEMA_MISMATCH");
      expect(letter?.header.get(Header.Error)).toBe(
        'dataset "clicks": field "duration_ms" expected int, got "long"',
      );
      expect(parseTraceparent(letter?.header.get(Header.Traceparent))?.traceId).toBe(
        "4bf92f3577b34da6a3ce929d0e0e4736",
      );
      expect(letter?.json()).toMatchObject({
        stage: "collector",
        dataset: "clicks",
        field: "duration_ms",
        expected: "int",
        got: '"long"',
        eventId: "bad-1",
        event: { ...click({ duration_ms: "long" }) },
      });
    } finally {
      await t.close();
    }
  });

  test("answers 400 when every event is rejected", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const res = await t.post("clicks", JSON.stringify([{ page: 1 }, { _event_id: 5 }]));
      expect(res.status).toBe(400);
      expect(await ingestAnswer(res)).toMatchObject({
        accepted: 0,
        rejected: 2,
        error: expect.stringMatching(/every event/),
      });
      expect(await storedMessages(t.bus, t.stream(StreamName.Ingest))).toHaveLength(0);
      expect(await storedMessages(t.bus, t.stream(StreamName.Dlq))).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  test("refuses malformed JSON with its position and dead-letters the raw body", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const res = await t.post("clicks", '[\n  {"page": "/"},\n  {"page": /x}\n]');
      expect(res.status).toBe(400);
      expect(await errorAnswer(res)).toEqual({
        code: "MALFORMED_BODY",
        message: 'malformed JSON at line 3, column 12: unexpected character "/", expected a JSON value',
      });
      const [letter] = await storedMessages(t.bus, t.stream(StreamName.Dlq));
      expect(letter?.header.get(Header.ErrorCode)).toBe("MALFORMED_BODY");
      expect(letter?.json()).toMatchObject({ event: '[\n  {"page": "/"},\n  {"page": /x}\n]' });
    } finally {
      await t.close();
    }
  });

  test("answers 404 naming the known datasets, 413 for too large or too many", async ({ nats }) => {
    const t = await startTestCollector(nats.url, {
      env: { INLET_COLLECTOR_MAX_BODY_BYTES: "4096", INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST: "3" },
    });
    try {
      const unknown = await t.post("nope", JSON.stringify(click()));
      expect(unknown.status).toBe(404);
      expect((await errorAnswer(unknown)).message).toBe(
        'unknown dataset "nope" (known: clicks, sensor_readings, transactions)',
      );

      const big = await t.post("clicks", JSON.stringify([click({ user_agent: "x".repeat(5000) })]));
      expect(big.status).toBe(413);
      expect((await errorAnswer(big)).message).toMatch(/larger than 4096 bytes/);

      const many = await t.post("clicks", JSON.stringify([click(), click(), click(), click()]));
      expect(many.status).toBe(413);
      expect((await errorAnswer(many)).message).toBe(
        "body holds 4 events, over the limit of 3 per request: split it",
      );
      expect(await storedMessages(t.bus, t.stream(StreamName.Ingest))).toHaveLength(0);
    } finally {
      await t.close();
    }
  });

  test("answers 503 and claims nothing accepted when INGEST is full", async ({ nats }) => {
    const t = await startTestCollector(nats.url, {
      ingestMaxBytes: 4096,
      env: { INLET_COLLECTOR_FRAME_MAX_EVENTS: "2" },
    });
    try {
      const events = Array.from({ length: 40 }, (_, i) => click({ _event_id: `full-${i}` }));
      const res = await t.post("clicks", JSON.stringify(events));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("3");
      const body = await ingestAnswer(res);
      const failedCount = body.failed ?? 0;
      expect(failedCount).toBeGreaterThan(0);
      expect(body.accepted + failedCount).toBe(40);
      const failed = body.results.filter((r) => r.status === "failed");
      expect(failed).toHaveLength(failedCount);
      expect(failed[0]?.reason).toMatch(/full/);

      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      const storedIds = new Set(frames.flatMap((f) => decodeFrame(f.data).map((e) => e.id)));
      const accepted = body.results.filter((r) => r.status === "accepted");
      expect(storedIds.size).toBe(body.accepted);
      for (const r of accepted) expect(storedIds.has(r.id)).toBe(true);
      for (const r of failed) expect(storedIds.has(r.id)).toBe(false);
    } finally {
      await t.close();
    }
  });

  test("refuses events while no consumer reads INGEST, since they would be dropped", async ({ nats }) => {
    const t = await startTestCollector(nats.url, { ingestConsumer: false });
    try {
      const res = await t.post("clicks", JSON.stringify(click()));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("3");
      expect((await errorAnswer(res)).message).toMatch(/no consumer reads stream .*_INGEST yet/);

      await t.bus.jsm.consumers.add(t.stream(StreamName.Ingest), {
        durable_name: READER,
        ack_policy: "explicit",
      });
      await waitFor(async () => (await t.post("clicks", JSON.stringify(click()))).status === 200);
      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      expect(frames).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  test("creates the pipeline's consumers before it takes events, so none is dropped", async ({ nats }) => {
    const t = await startTestCollector(nats.url, { ingestConsumer: false, provisionConsumers: true });
    try {
      const names: string[] = [];
      for await (const info of t.bus.jsm.consumers.list(t.stream(StreamName.Ingest))) names.push(info.name);
      expect(names.sort()).toEqual(["processor", "raw-writer"]);
      const curated: string[] = [];
      for await (const info of t.bus.jsm.consumers.list(t.stream(StreamName.Curated)))
        curated.push(info.name);
      expect(curated).toContain("lake-writer-clicks");
      const res = await t.post("clicks", JSON.stringify(click()));
      expect(res.status).toBe(200);
      expect(await storedMessages(t.bus, t.stream(StreamName.Ingest))).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  test("with INLET_RAW_ENABLED=false creates no raw-writer consumer", async ({ nats }) => {
    const t = await startTestCollector(nats.url, {
      ingestConsumer: false,
      provisionConsumers: true,
      env: { INLET_RAW_ENABLED: "false" },
    });
    try {
      const names: string[] = [];
      for await (const info of t.bus.jsm.consumers.list(t.stream(StreamName.Ingest))) names.push(info.name);
      expect(names).toEqual(["processor"]);
    } finally {
      await t.close();
    }
  });

  test("uses a newly registered schema version without a restart", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const registry = await SchemaRegistry.create(t.bus.nc, { bucket: t.schemaBucket });
      const v2 = await registry.get("clicks@2");
      const v3 = {
        ...(v2.schema as { fields: unknown[] }),
        fields: [
          ...(v2.schema as { fields: unknown[] }).fields,
          { name: "ab", type: ["null", "string"], default: null },
        ],
      };
      expect((await registry.register("clicks", v3 as never)).id).toBe("clicks@3");

      await waitFor(async () => {
        const res = await t.post("clicks", JSON.stringify(click({ ab: "b" })));
        return res.status === 200;
      });
      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      expect(frames.at(-1)?.header.get(Header.Schema)).toBe("clicks@3");
    } finally {
      await t.close();
    }
  });

  test("takes decimals as text or short numbers, stores them exactly, and refuses one that does not fit", async ({
    nats,
  }) => {
    const t = await startTestCollector(nats.url);
    try {
      const registry = await SchemaRegistry.create(t.bus.nc, { bucket: t.schemaBucket });
      const v2 = await registry.get("clicks@2");
      const price = { type: "bytes", logicalType: "decimal", precision: 10, scale: 2 };
      const v3 = {
        ...(v2.schema as { fields: unknown[] }),
        fields: [
          ...(v2.schema as { fields: unknown[] }).fields,
          { name: "price", type: ["null", price], default: null },
        ],
      };
      const { id } = await registry.register("clicks", v3 as never);
      const type = (await registry.get(id)).type;
      await waitFor(
        async () => (await t.post("clicks", JSON.stringify(click({ price: "0.10" })))).status === 200,
      );

      const res = await t.post(
        "clicks",
        JSON.stringify([
          click({ _event_id: "p-1", price: "12345678.99" }),
          click({ _event_id: "p-2", price: 0.3 }),
          click({ _event_id: "p-3", price: "1.005" }),
        ]),
      );
      const body = await ingestAnswer(res);
      expect(body).toMatchObject({ accepted: 2, rejected: 1 });
      expect(body.results[2]).toMatchObject({
        status: "rejected",
        errors: [
          {
            field: "price",
            expected: "null or decimal(10,2)",
            got: '"1.005"',
            message: 'dataset "clicks": field "price" expected null or decimal(10,2), got "1.005"',
          },
        ],
      });
      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      const stored = decodeFrame(frames.at(-1)!.data).map((e) => [
        e.id,
        (type.fromBuffer(Buffer.from(e.payload)) as { price: string }).price,
      ]);
      expect(stored).toEqual([
        ["p-1", "12345678.99"],
        ["p-2", "0.30"],
      ]);
    } finally {
      await t.close();
    }
  });

  test("with a token file, takes events only with a token covering their dataset", async ({ nats }) => {
    const dir = await mkdtemp(join(tmpdir(), "inlet-tokens-"));
    const terminals = newAccessToken();
    const admin = newAccessToken();
    const tokensFile = join(dir, "tokens.json");
    await writeFile(
      tokensFile,
      JSON.stringify([
        { name: "web", sha256: terminals.sha256, datasets: ["clicks"] },
        { name: "admin", sha256: admin.sha256, datasets: "*" },
      ]),
    );
    const t = await startTestCollector(nats.url, { env: { INLET_COLLECTOR_TOKENS_FILE: tokensFile } });
    try {
      const body = JSON.stringify(click({ _event_id: "t-1" }));
      const missing = await t.post("clicks", body);
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="inlet"');
      expect(await errorAnswer(missing)).toEqual({
        code: "UNAUTHENTICATED",
        message: "this endpoint needs an access token: send Authorization: Bearer <token>",
      });
      expect((await t.post("clicks", body, { authorization: `Bearer ${terminals.token}0` })).status).toBe(
        401,
      );
      const forbidden = await t.post("transactions", "{}", { authorization: `Bearer ${terminals.token}` });
      expect(forbidden.status).toBe(403);
      expect((await errorAnswer(forbidden)).message).toBe(
        'token "web" does not cover dataset "transactions" (it covers clicks)',
      );
      // Nothing refused reached INGEST or the dead letters.
      expect(await storedMessages(t.bus, t.stream(StreamName.Ingest))).toHaveLength(0);
      expect(await storedMessages(t.bus, t.stream(StreamName.Dlq))).toHaveLength(0);

      const ok = await t.post("clicks", body, { authorization: `Bearer ${terminals.token}` });
      expect(ok.status).toBe(200);
      expect(await ingestAnswer(ok)).toMatchObject({ accepted: 1 });
      const other = await t.post("clicks", JSON.stringify(click({ _event_id: "t-2" })), {
        authorization: `Bearer ${admin.token}`,
      });
      expect(other.status).toBe(200);
      const frames = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      expect(frames.flatMap((f) => decodeFrame(f.data).map((e) => e.id))).toEqual(["t-1", "t-2"]);
      const metrics = await (await fetch(`${t.collector.url}/metrics`)).text();
      expect(metrics).toMatch(/inlet_collector_requests_total\{[^}]*status="401"[^}]*\} 2/);
      expect(metrics).toMatch(/inlet_collector_requests_total\{[^}]*status="403"[^}]*\} 1/);
    } finally {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("refuses to start with a token file it cannot read, naming it", async ({ nats }) => {
    const error = await startTestCollector(nats.url, {
      env: { INLET_COLLECTOR_TOKENS_FILE: "/nonexistent/tokens.json" },
    }).catch((e: unknown) => e);
    expect(String(error)).toContain("token file /nonexistent/tokens.json: ENOENT");
  });

  test("is ready once started, and exports accepted and rejected counts on /metrics", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      expect(await (await fetch(`${t.collector.url}/readyz`)).json()).toEqual({ status: "ready" });
      await t.post("transactions", JSON.stringify({ nope: true }));
      const text = await (await fetch(`${t.collector.url}/metrics`)).text();
      expect(text).toMatch(/inlet_collector_events_rejected_total\{dataset="transactions"\} \d+/);
      expect(text).toMatch(/inlet_collector_requests_total\{transport="http",status="400"\} \d+/);
    } finally {
      await t.close();
    }
  });
});

describe("collector start", () => {
  test("fails with the registry's reason when a dataset's schema is incompatible", async ({ nats }) => {
    const start = startTestCollector(nats.url, {
      beforeStart: async ({ bus, schemaBucket }) => {
        const registry = await SchemaRegistry.create(bus.nc, { bucket: schemaBucket });
        await registry.register("clicks", {
          type: "record",
          name: "clicks",
          fields: [{ name: "x", type: "string" }],
        });
      },
    });
    await expect(start).rejects.toThrow(/dataset "clicks": new schema refused against clicks@1/);
  });
});

describe("collector over NATS request/reply", () => {
  test("ingests a request on inlet.collect.<ds> and answers with the same JSON", async ({ nats }) => {
    const t = await startTestCollector(nats.url);
    try {
      const h = natsHeaders();
      h.set("traceparent", CLIENT_TRACEPARENT);
      const body = `${JSON.stringify(click({ _event_id: "n-1" }))}\n${JSON.stringify(click({ device: "tv" }))}`;
      const reply = await t.bus.nc.request(t.subjects.collect("clicks"), body, {
        timeout: 5_000,
        headers: h,
      });
      expect(reply.headers?.get("Inlet-Status")).toBe("200");
      const answer = reply.json<{
        accepted: number;
        rejected: number;
        results: Array<Record<string, unknown>>;
      }>();
      expect(answer).toMatchObject({ accepted: 1, rejected: 1 });
      expect(answer.results[0]).toEqual({ index: 0, status: "accepted", id: "n-1" });
      expect(answer.results[1]).toMatchObject({ status: "rejected", errors: [{ field: "device" }] });

      const [frame] = await storedMessages(t.bus, t.stream(StreamName.Ingest));
      expect(decodeFrame(frame!.data).map((e) => e.id)).toEqual(["n-1"]);
      expect(parseTraceparent(frame?.header.get(Header.Traceparent))?.traceId).toBe(
        "4bf92f3577b34da6a3ce929d0e0e4736",
      );

      const unknown = await t.bus.nc.request(t.subjects.collect("nope"), "{}", { timeout: 5_000 });
      expect(unknown.headers?.get("Inlet-Status")).toBe("404");
      expect(unknown.json<{ error: { code: string } }>().error.code).toBe("UNKNOWN_DATASET");
    } finally {
      await t.close();
    }
  });
});

describe("collector when NATS goes away", () => {
  // Its own server: this test kills it.
  test("answers 503 past the publish deadline, refuses more than the in-flight limit, recovers with NATS", async () => {
    const server = await startNatsServer();
    const t = await startTestCollector(server.url, {
      env: {
        INLET_COLLECTOR_PUBLISH_TIMEOUT: "1500ms",
        INLET_COLLECTOR_MAX_INFLIGHT_EVENTS: "5",
        INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST: "5",
      },
    });
    try {
      await server.kill();
      const res = await t.post("clicks", JSON.stringify([click({ _event_id: "d-1" })]));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("3");
      expect(await ingestAnswer(res)).toMatchObject({
        accepted: 0,
        failed: 1,
        results: [{ status: "failed", id: "d-1" }],
      });

      // While a request waits for NATS, the in-flight limit (5 events) is taken: the next one is refused.
      const waiting = t.post("clicks", JSON.stringify([1, 2, 3].map((i) => click({ _event_id: `w-${i}` }))));
      await waitFor(async () =>
        /inlet_collector_events_inflight 3\b/.test(await (await fetch(`${t.collector.url}/metrics`)).text()),
      );
      const refused = await t.post("clicks", JSON.stringify([click(), click(), click()]));
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("3");
      expect((await errorAnswer(refused)).code).toBe("OVERLOADED");
      expect((await waiting).status).toBe(503);

      await server.restart();
      await waitFor(
        async () => (await t.post("clicks", JSON.stringify([click({ _event_id: "d-1" })]))).status === 200,
        {
          timeoutMs: 20_000,
          intervalMs: 250,
        },
      );
      // The test's own connection may still be reconnecting (its backoff is not the collector's):
      // its first requests can time out on a busy machine.
      const frames = await waitFor(() => storedMessages(t.bus, t.stream(StreamName.Ingest)), {
        timeoutMs: 20_000,
        message: "the test's connection reading INGEST again",
      });
      expect(frames.flatMap((f) => decodeFrame(f.data).map((e) => e.id))).toEqual(["d-1"]);
    } finally {
      await t.close();
      await server.stop();
    }
  });
  test("refuses a body that would pass the in-flight byte limit while another waits for NATS", async () => {
    const server = await startNatsServer();
    const t = await startTestCollector(server.url, {
      env: {
        INLET_COLLECTOR_PUBLISH_TIMEOUT: "1500ms",
        INLET_COLLECTOR_MAX_BODY_BYTES: "4000",
        INLET_COLLECTOR_MAX_INFLIGHT_BYTES: "4000",
      },
    });
    try {
      await server.kill();
      // Twelve events hold over 2 kB while they wait for their PubAck: as much again does not fit.
      const big = JSON.stringify(Array.from({ length: 12 }, (_, i) => click({ _event_id: `b-${i}` })));
      expect(big.length).toBeGreaterThan(2_000);
      const waiting = t.post("clicks", big);
      await waitFor(async () =>
        /inlet_collector_bytes_inflight [1-9]/.test(await (await fetch(`${t.collector.url}/metrics`)).text()),
      );
      const refused = await t.post("clicks", big);
      expect(refused.status).toBe(503);
      expect((await errorAnswer(refused)).code).toBe("OVERLOADED");
      expect((await waiting).status).toBe(503);
      // Once the first request is answered its bytes are free again.
      const small = await t.post("clicks", JSON.stringify([click({ _event_id: "s-1" })]));
      expect(small.status).toBe(503);
      expect(await ingestAnswer(small)).toMatchObject({ failed: 1 });
    } finally {
      await t.close();
      await server.stop();
    }
  });
});
