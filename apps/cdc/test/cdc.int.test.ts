import {
  type Bus,
  connectBus,
  createSubjects,
  decodeFrame,
  Header,
  StreamName,
  streamName,
} from "@inlet/bus";
import { CDC_ATTRIBUTE, SchemaRegistry } from "@inlet/schema";
import { createLogger, initTelemetry } from "@inlet/telemetry";
import { type PostgresServer, uniqueName, waitFor } from "@inlet/testing";
import { postgresTest as test } from "@inlet/testing/vitest";
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { metrics } from "@opentelemetry/api";
import pg from "pg";
import { afterEach, describe, expect } from "vitest";
import { lsnToNumber } from "../src/change-schema.js";
import { type CdcSource, createCdcSource } from "../src/service.js";

// One telemetry setup per test file (it registers globals): valid trace ids in frames.
const { tracer } = initTelemetry({ serviceName: "cdc-test" });
const logger = createLogger({
  service: "cdc-test",
  level: (process.env.CDC_TEST_LOG as "silent") ?? "silent",
});

interface Change {
  readonly subject: string;
  readonly schemaId: string;
  readonly id: string;
  readonly traceparent: string | undefined;
  readonly row: Record<string, unknown>;
}

/** A source on its own slot, publication, streams and registry, and what it published. */
async function harness(natsUrl: string, postgres: PostgresServer, tables: string) {
  const bus: Bus = await connectBus({ servers: natsUrl, name: "cdc-test" });
  const prefix = uniqueName("c");
  const subjects = createSubjects(prefix);
  const registry = await SchemaRegistry.create(bus.nc, { bucket: uniqueName("schemas") });
  const slot = uniqueName("slot").toLowerCase();
  const publication = uniqueName("pub");
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  const sources: CdcSource[] = [];
  const start = async (overrides: { snapshot?: boolean; lingerMs?: number } = {}) => {
    const source = createCdcSource({
      databaseUrl: postgres.url,
      tables: tables.split(",").map((t) => {
        const [table = "", dataset = table] = t.split("=");
        return { schema: "public", table, dataset };
      }),
      slot,
      publication,
      subjectDatabase: "shop",
      snapshot: overrides.snapshot ?? true,
      lingerMs: overrides.lingerMs ?? 20,
      maxPendingEvents: 1_000,
      retryMs: 200,
      nc: bus.nc,
      js: bus.js,
      jsm: bus.jsm,
      registry,
      subjects,
      prefix,
      replicas: 1,
      logger,
      tracer,
      meter: metrics.getMeter("cdc-test"),
    });
    sources.push(source);
    await source.start();
    await waitFor(() => source.ready(), { message: "the source streaming" });
    return source;
  };
  const stream = streamName(StreamName.Cdc, prefix);
  /** Every change on the CDC stream, in order, decoded with the schema its frame names. */
  const changes = async (): Promise<Change[]> => {
    const info = await bus.jsm.streams.info(stream);
    const consumer = await bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const out: Change[] = [];
    let seen = 0;
    while (seen < info.state.messages) {
      const batch = await consumer.fetch({
        max_messages: Math.min(100, info.state.messages - seen),
        expires: 2_000,
      });
      for await (const msg of batch as AsyncIterable<JsMsg>) {
        seen++;
        const schemaId = msg.headers?.get(Header.Schema) ?? "";
        const { type } = await registry.get(schemaId);
        for (const event of decodeFrame(msg.data)) {
          out.push({
            subject: msg.subject,
            schemaId,
            id: event.id,
            traceparent: msg.headers?.get(Header.Traceparent) || undefined,
            row: type.fromBuffer(Buffer.from(event.payload)) as Record<string, unknown>,
          });
        }
        if (msg.headers?.get(Header.CdcOp) === "truncate") {
          out.push({
            subject: msg.subject,
            schemaId,
            id: "truncate",
            traceparent: undefined,
            row: { _op: "truncate" },
          });
        }
      }
    }
    await consumer.delete().catch(() => {});
    return out;
  };
  const deadLetters = async () => {
    const dlq = streamName(StreamName.Dlq, prefix);
    const info = await bus.jsm.streams.info(dlq);
    const out: Record<string, unknown>[] = [];
    for (let seq = 1; seq <= info.state.last_seq; seq++) {
      const msg = await bus.jsm.streams.getMessage(dlq, { seq });
      if (msg !== null) out.push(msg.json<Record<string, unknown>>());
    }
    return out;
  };
  const confirmedLsn = async (): Promise<string> => {
    const { rows } = await db.query(
      "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
      [slot],
    );
    return rows[0]?.lsn as string;
  };
  const close = async () => {
    for (const source of sources) await source.stop().catch(() => {});
    await db
      .query("SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", [slot])
      .catch(() => {});
    await db.end();
    await registry.close();
    await bus.close();
  };
  return { bus, db, registry, subjects, slot, start, changes, deadLetters, confirmedLsn, close };
}

type Harness = Awaited<ReturnType<typeof harness>>;
let open: Harness | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function setUp(natsUrl: string, postgres: PostgresServer, tables: string): Promise<Harness> {
  open = await harness(natsUrl, postgres, tables);
  return open;
}

const rowsOf = (changes: readonly Change[]) => changes.map((c) => c.row);

describe("the CDC source", () => {
  test("reads a snapshot, then streams inserts, updates and deletes with their values exact", async ({
    nats,
    postgres,
  }) => {
    const accounts = uniqueName("accounts").toLowerCase();
    const h = await setUp(nats.url, postgres, `${accounts}=accounts`);
    await h.db.query(`CREATE TABLE ${accounts} (
      id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(20,4), opened timestamptz,
      born date, active boolean, score double precision, tags jsonb, photo bytea)`);
    await h.db.query(`INSERT INTO ${accounts} VALUES
      (1, 'ada', 10.5000, '2026-01-02 03:04:05.123456+00', '1990-12-31', true, 0.1, '{"a": [1]}', '\\x00ff'),
      (2, 'bob', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
    await h.start();

    await h.db.query(
      `INSERT INTO ${accounts} (id, owner, balance) VALUES (9007199254740990, 'max', 12345678901234.5678)`,
    );
    await h.db.query(
      `UPDATE ${accounts} SET balance = 11, opened = '1969-12-31 23:59:59.999999-01' WHERE id = 1`,
    );
    await h.db.query(`DELETE FROM ${accounts} WHERE id = 2`);
    await waitFor(async () => (await h.changes()).length === 5, { timeoutMs: 10_000, message: "5 changes" });

    const changes = await h.changes();
    const rows = rowsOf(changes);
    expect(rows.map((r) => [r._op, r.id])).toEqual([
      ["r", 1],
      ["r", 2],
      ["c", 9007199254740990],
      ["u", 1],
      ["d", 2],
    ]);
    expect(rows[0]).toMatchObject({
      owner: "ada",
      balance: "10.5000",
      opened: Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 + 123_456,
      born: Date.UTC(1990, 11, 31) / 86_400_000,
      active: true,
      score: 0.1,
      tags: '{"a": [1]}',
      photo: Buffer.from([0, 255]),
    });
    expect(rows[2]).toMatchObject({ owner: "max", balance: "12345678901234.5678", opened: null });
    // -01:00 is an hour later in UTC.
    expect(rows[3]).toMatchObject({
      balance: "11.0000",
      opened: Date.UTC(1970, 0, 1, 0, 59, 59) * 1000 + 999_999,
    });
    expect(rows[4]).toMatchObject({ id: 2, owner: null });
    // Commit order; each change's id is its dataset, commit LSN and place in its transaction.
    const lsns = rows.slice(2).map((r) => r._lsn as number);
    expect(lsns).toEqual([...lsns].sort((a, b) => a - b));
    expect(new Set(lsns).size).toBe(3);
    expect(changes[2]!.id).toMatch(/^accounts:[0-9A-F]+\/[0-9A-F]+:0$/);
    expect(changes[0]!.id).toMatch(/^accounts:snapshot:/);
    expect(changes.every((c) => c.subject === h.subjects.cdc("shop", "accounts"))).toBe(true);
    expect(changes.every((c) => /^00-[0-9a-f]{32}-/.test(c.traceparent ?? ""))).toBe(true);
    // The schema names the key and the source.
    const schema = (await h.registry.get(changes[0]!.schemaId)).schema as unknown as Record<string, unknown>;
    expect(schema[CDC_ATTRIBUTE]).toEqual({ source: `inlet.public.${accounts}`, key: ["id"] });
    // numeric(20,4) is an exact decimal of the same precision and scale, as the lake will store it.
    const balance = (schema.fields as { name: string; type: unknown }[]).find((f) => f.name === "balance");
    expect(balance?.type).toEqual([
      "null",
      { type: "bytes", logicalType: "decimal", precision: 20, scale: 4 },
    ]);
    // PostgreSQL is told the changes are safe once they are published: the slot moves past the last.
    await waitFor(async () => lsnToNumber(await h.confirmedLsn()) > lsns[2]!, {
      message: "the slot confirmed",
    });
  });

  test("a restart sends nothing twice that it confirmed, and takes the snapshot once", async ({
    nats,
    postgres,
  }) => {
    const items = uniqueName("items").toLowerCase();
    const h = await setUp(nats.url, postgres, `${items}=items`);
    await h.db.query(`CREATE TABLE ${items} (id int PRIMARY KEY, n int)`);
    await h.db.query(`INSERT INTO ${items} SELECT g, g FROM generate_series(1, 2500) g`);
    const first = await h.start();
    await h.db.query(`UPDATE ${items} SET n = n + 1 WHERE id <= 10`);
    await waitFor(async () => (await h.changes()).length === 2_510, {
      timeoutMs: 15_000,
      message: "2,510 changes",
    });
    await first.stop();

    // Changed while the source was away: streamed from the slot when it is back.
    await h.db.query(`DELETE FROM ${items} WHERE id = 3`);
    await h.start();
    await h.db.query(`INSERT INTO ${items} VALUES (5000, 1)`);
    await waitFor(async () => (await h.changes()).length === 2_512, {
      timeoutMs: 10_000,
      message: "2,512 changes",
    });
    const rows = rowsOf(await h.changes());
    expect(rows.filter((r) => r._op === "r")).toHaveLength(2_500);
    expect(rows.slice(2_510).map((r) => [r._op, r.id])).toEqual([
      ["d", 3],
      ["c", 5000],
    ]);
  });

  test("a key update deletes the old key; a new column makes a new schema version", async ({
    nats,
    postgres,
  }) => {
    const users = uniqueName("users").toLowerCase();
    const h = await setUp(nats.url, postgres, `${users}=users`);
    await h.db.query(`CREATE TABLE ${users} (id int PRIMARY KEY, name text)`);
    await h.start();
    await h.db.query(`INSERT INTO ${users} VALUES (1, 'a')`);
    await h.db.query(`UPDATE ${users} SET id = 2 WHERE id = 1`);
    await h.db.query(`ALTER TABLE ${users} ADD COLUMN email text`);
    await h.db.query(`INSERT INTO ${users} VALUES (3, 'c', 'c@example.com')`);
    await waitFor(async () => (await h.changes()).length === 4, { timeoutMs: 10_000, message: "4 changes" });
    const changes = await h.changes();
    expect(changes.map((c) => [c.row._op, c.row.id, c.schemaId])).toEqual([
      ["c", 1, "users@1"],
      ["d", 1, "users@1"],
      ["u", 2, "users@1"],
      ["c", 3, "users@2"],
    ]);
    expect(changes[3]!.row.email).toBe("c@example.com");
  });

  test("a value the schema cannot hold is dead-lettered with its field; the rest goes on", async ({
    nats,
    postgres,
  }) => {
    const big = uniqueName("big").toLowerCase();
    const h = await setUp(nats.url, postgres, `${big}=big`);
    await h.db.query(`CREATE TABLE ${big} (id int PRIMARY KEY, n bigint, m numeric(10,2))`);
    await h.start();
    await h.db.query(`INSERT INTO ${big} VALUES (1, 9007199254740993)`);
    await h.db.query(`INSERT INTO ${big} VALUES (2, 7, 12.5)`);
    await h.db.query(`INSERT INTO ${big} VALUES (3, 7, 'NaN')`);
    await waitFor(async () => (await h.changes()).length === 1, { timeoutMs: 10_000, message: "1 change" });
    expect(rowsOf(await h.changes())).toMatchObject([{ id: 2, n: 7, m: "12.50" }]);
    const letters = await waitFor(async () => {
      const all = await h.deadLetters();
      return all.length === 2 ? all : undefined;
    });
    // A numeric(p,s) is a decimal, which has no NaN.
    expect(letters[1]).toMatchObject({ stage: "cdc", dataset: "big", field: "m", got: "NaN" });
    expect(String(letters[1]!.reason)).toContain('dataset "big": field "m" NaN has no decimal value');
    expect(letters[0]).toMatchObject({
      stage: "cdc",
      dataset: "big",
      code: "VALUE_NOT_REPRESENTABLE",
      field: "n",
      got: "9007199254740993",
    });
    expect(String(letters[0]!.reason)).toContain('dataset "big": field "n"');
  });

  test("a truncate reaches the stream after the changes before it", async ({ nats, postgres }) => {
    const logs = uniqueName("logs").toLowerCase();
    const h = await setUp(nats.url, postgres, `${logs}=logs`);
    await h.db.query(`CREATE TABLE ${logs} (id int PRIMARY KEY)`);
    await h.start();
    await h.db.query(`INSERT INTO ${logs} VALUES (1), (2)`);
    await h.db.query(`TRUNCATE ${logs}`);
    await h.db.query(`INSERT INTO ${logs} VALUES (3)`);
    await waitFor(async () => (await h.changes()).length === 4, { timeoutMs: 10_000, message: "4 changes" });
    expect(rowsOf(await h.changes()).map((r) => [r._op, r.id])).toEqual([
      ["c", 1],
      ["c", 2],
      ["truncate", undefined],
      ["c", 3],
    ]);
  });

  test("confirms the server's position while its tables are quiet and others change", async ({
    nats,
    postgres,
  }) => {
    const quiet = uniqueName("quiet").toLowerCase();
    const busy = uniqueName("busy").toLowerCase();
    const h = await setUp(nats.url, postgres, `${quiet}=quiet`);
    await h.db.query(`CREATE TABLE ${quiet} (id int PRIMARY KEY)`);
    await h.db.query(`CREATE TABLE ${busy} (id int PRIMARY KEY, filler text)`);
    await h.start();
    await h.db.query(`INSERT INTO ${quiet} VALUES (1)`);
    await waitFor(async () => (await h.changes()).length === 1, { message: "the one change" });
    // Writes the source does not capture: without confirming the server's position the slot would
    // keep all of that WAL.
    await h.db.query(`INSERT INTO ${busy} SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`);
    const { rows } = await h.db.query("SELECT pg_current_wal_lsn()::text AS lsn");
    const written = lsnToNumber(rows[0].lsn);
    await waitFor(async () => lsnToNumber(await h.confirmedLsn()) >= written, {
      timeoutMs: 20_000,
      message: "the slot confirmed past the uncaptured writes",
    });
    // Nothing was published for them.
    expect(await h.changes()).toHaveLength(1);
  });

  test("refuses to start on a table without a primary key, naming it", async ({ nats, postgres }) => {
    const bare = uniqueName("bare").toLowerCase();
    const h = await setUp(nats.url, postgres, `${bare}=bare`);
    await h.db.query(`CREATE TABLE ${bare} (n int)`);
    await expect(h.start()).rejects.toThrow(`table public.${bare} (dataset "bare") has no primary key`);
  });
});
