// End to end over change data capture: a real PostgreSQL (logical replication), a real nats-server,
// the five services and the CDC source as processes. While a workload inserts, updates and deletes
// rows, the CDC source and the lake-writer are killed with SIGKILL and started again; afterwards the
// lake's table holds exactly the source table's rows, one per key, with the source's values.
import { setTimeout as sleep } from "node:timers/promises";
import { type PostgresServer, startPostgres, waitFor } from "@inlet/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryApi, serviceLogs, startTestStack, type TestStack } from "./e2e-support.js";

let postgres: PostgresServer;
let db: pg.Client;
let t: TestStack;

const SEED_ROWS = 2_000;

beforeAll(async () => {
  postgres = await startPostgres();
  db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  await db.query(`CREATE TABLE accounts (
    id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(14, 2), status text,
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await db.query(
    `INSERT INTO accounts (id, owner, balance, status)
     SELECT g, 'owner-' || g, (g * 1.25)::numeric(14, 2), 'open' FROM generate_series(1, ${SEED_ROWS}) g`,
  );
  t = await startTestStack(
    { INLET_WRITER_FLUSH_MS: "500" },
    // After a kill, the dead writer's deliveries come back within seconds, not the default 30 s.
    { "lake-writer": { INLET_WRITER_ACK_WAIT_MS: "3s" }, cdc: { INLET_CDC_RETRY_MS: "500ms" } },
    { databaseUrl: postgres.url, tables: "public.accounts" },
  );
}, 180_000);

afterAll(async () => {
  await t?.close();
  await db?.end();
  await postgres?.stop();
}, 60_000);

// A seeded generator, so every run makes the same changes.
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/** Runs transactions of 1–20 random inserts, updates and deletes until `until` resolves. */
async function workload(until: Promise<void>): Promise<number> {
  const next = random(42);
  let done = false;
  void until.then(() => {
    done = true;
  });
  let nextId = SEED_ROWS + 1;
  let statements = 0;
  while (!done) {
    await db.query("BEGIN");
    const count = 1 + Math.floor(next() * 20);
    for (let i = 0; i < count; i++) {
      const roll = next();
      const id = 1 + Math.floor(next() * (nextId - 1));
      if (roll < 0.4) {
        await db.query("INSERT INTO accounts (id, owner, balance, status) VALUES ($1, $2, $3, 'new')", [
          nextId,
          `owner-${nextId}`,
          (next() * 1_000).toFixed(2),
        ]);
        nextId++;
      } else if (roll < 0.85) {
        await db.query(
          "UPDATE accounts SET balance = balance + $2, status = $3, updated_at = clock_timestamp() WHERE id = $1",
          [id, (next() * 10).toFixed(2), next() < 0.5 ? "active" : null],
        );
      } else {
        await db.query("DELETE FROM accounts WHERE id = $1", [id]);
      }
      statements++;
    }
    await db.query("COMMIT");
    await sleep(2);
  }
  return statements;
}

type Row = [string, string, string | null, string | null, string];

/** The source table's rows, each value as text, ordered by id. */
async function sourceRows(): Promise<Row[]> {
  const { rows } = await db.query(
    `SELECT id::text, owner, balance::text, status,
            (extract(epoch FROM updated_at) * 1000000)::bigint::text AS updated_us
       FROM accounts ORDER BY id`,
  );
  return rows.map((r) => [r.id, r.owner, r.balance, r.status, r.updated_us]);
}

/** The lake's table, as the query API serves it, in the same form. */
async function lakeRows(): Promise<Row[]> {
  const rows = await queryApi<Record<string, string | null>>(
    t.stack,
    `SELECT id::VARCHAR AS id, owner, balance::VARCHAR AS balance, status, epoch_us(updated_at)::VARCHAR AS updated_us
       FROM accounts ORDER BY id`,
  );
  return rows.map((r) => [r.id!, r.owner!, r.balance ?? null, r.status ?? null, r.updated_us!]);
}

describe("change data capture, end to end", () => {
  it("the lake's table converges to the source table while the source and the writer are killed", async () => {
    // The snapshot arrives first.
    await waitFor(
      async () => {
        const [row] = await queryApi<{ n: number }>(t.stack, "SELECT count(*)::INTEGER AS n FROM accounts");
        return row?.n === SEED_ROWS;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "the snapshot in the lake" },
    );

    let stop!: () => void;
    const until = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const running = workload(until);
    for (const name of ["cdc", "lake-writer", "cdc"] as const) {
      await sleep(2_000);
      await t.stack.process(name).signal("SIGKILL");
      await t.stack.process(name).exited;
      await sleep(500);
      await t.stack.start(name);
    }
    await sleep(1_000);
    stop();
    const statements = await running;
    expect(statements).toBeGreaterThan(500);

    const expected = await sourceRows();
    let last: Row[] = [];
    await waitFor(
      async () => {
        last = await lakeRows();
        return JSON.stringify(last) === JSON.stringify(expected);
      },
      { timeoutMs: 90_000, intervalMs: 1_000, message: "the lake's table to equal the source's" },
    ).catch(async (err: unknown) => {
      const status = await fetch(`${t.stack.url("cdc")}/status`).then((r) => r.text(), String);
      const lake = new Map(last.map((r) => [r[0], r]));
      const differ = expected.filter((r) => JSON.stringify(lake.get(r[0])) !== JSON.stringify(r)).slice(0, 5);
      throw new Error(
        `${String(err)}: ${last.length} rows in the lake, ${expected.length} in the source; first differences: ` +
          `${JSON.stringify(differ.map((r) => ({ source: r, lake: lake.get(r[0]) ?? null })))}; ` +
          `cdc status ${status}\n${serviceLogs(t.stack)}`,
        { cause: err },
      );
    });
    // One row per key, each traced to the source's publish.
    const [counts] = await queryApi<{ n: number; ids: number; traced: number }>(
      t.stack,
      `SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids,
              count(*) FILTER (WHERE _trace_id IS NOT NULL)::INTEGER AS traced FROM accounts`,
    );
    expect(counts).toEqual({ n: expected.length, ids: expected.length, traced: expected.length });
    // The datasets listing dates the table by its newest change's commit at the source.
    const res = await fetch(`${t.stack.queryUrl}/v1/datasets/accounts`);
    const listed = (await res.json()) as { rows: number; newestEventAt?: string };
    expect(listed.rows).toBe(expected.length);
    expect(Date.now() - Date.parse(listed.newestEventAt ?? "")).toBeLessThan(5 * 60_000);
  });
});
