import { setTimeout as sleep } from "node:timers/promises";
import { type PostgresServer, resolvePostgresBin, startPostgres } from "@inlet/testing";
import pg from "pg";

/** The table the demo's CDC source captures (dataset `accounts`). */
export const DEMO_CDC_TABLE = "public.accounts";

/** Accounts the demo database starts with. */
const SEED_ACCOUNTS = 1_000;

/** The PostgreSQL of `./inlet up`: a kept cluster with the demo's `shop` database. */
export interface DemoPostgres {
  readonly server: PostgresServer;
  /** `postgres://inlet@127.0.0.1:<port>/shop`, what the CDC source reads. */
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/** True when the machine has PostgreSQL's server binaries. */
export function hasPostgres(): boolean {
  try {
    resolvePostgresBin();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts (or creates, the first time) the demo cluster in `dataDir` on `port`, with database
 * `shop` and its table `accounts`, seeded with 1,000 accounts when the table is new. The cluster
 * is kept like the NATS store and the lake, so the replication slot, the stream and the lake's
 * table stay in step from one run to the next.
 */
export async function startDemoPostgres(options: {
  dataDir: string;
  port: number;
  logFile?: string;
}): Promise<DemoPostgres> {
  const server = await startPostgres({
    dataDir: options.dataDir,
    port: options.port,
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  });
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query("CREATE DATABASE shop").catch((error: unknown) => {
        if (!/already exists/.test(String(error))) throw error;
      });
    } finally {
      await admin.end();
    }
    const databaseUrl = `postgres://inlet@127.0.0.1:${server.port}/shop`;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query(
        `CREATE TABLE IF NOT EXISTS accounts (
           id bigint PRIMARY KEY, owner text NOT NULL, country text, balance numeric(14, 2) NOT NULL,
           status text NOT NULL, opened_at timestamptz NOT NULL DEFAULT now(),
           updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM accounts");
      if (Number(rows[0]?.n ?? 0) === 0) {
        await db.query(
          `INSERT INTO accounts (id, owner, country, balance, status)
           SELECT g, 'owner-' || g, (ARRAY['de','fr','us','jp','br'])[1 + g % 5], (g * 7 % 5000)::numeric(14, 2), 'open'
             FROM generate_series(1, ${SEED_ACCOUNTS}) g`,
        );
      }
    } finally {
      await db.end();
    }
    return { server, databaseUrl, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** What {@link runDemoBank} did. */
export interface DemoBankStats {
  transactions: number;
  changes: number;
}

/**
 * A bank's day on the demo database until `signal` aborts: about `ratePerSecond` transactions a
 * second, most of them transfers (two balance updates in one transaction), some accounts opened
 * (inserts) and a few closed (deletes). What the CDC source streams into the lake's `accounts`.
 */
export async function runDemoBank(options: {
  databaseUrl: string;
  ratePerSecond: number;
  signal: AbortSignal;
}): Promise<DemoBankStats> {
  const db = new pg.Client({ connectionString: options.databaseUrl });
  db.on("error", () => {});
  await db.connect();
  const stats: DemoBankStats = { transactions: 0, changes: 0 };
  const pause = 1_000 / Math.max(1, options.ratePerSecond);
  try {
    const { rows } = await db.query<{ max: string | null }>("SELECT max(id)::text AS max FROM accounts");
    let nextId = Number(rows[0]?.max ?? 0) + 1;
    while (!options.signal.aborted) {
      const roll = Math.random();
      const pick = () => 1 + Math.floor(Math.random() * Math.max(1, nextId - 1));
      await db.query("BEGIN");
      if (roll < 0.85) {
        const amount = (Math.random() * 200).toFixed(2);
        const from = await db.query(
          "UPDATE accounts SET balance = balance - $2, updated_at = now() WHERE id = $1 AND status = 'open'",
          [pick(), amount],
        );
        const to = await db.query(
          "UPDATE accounts SET balance = balance + $2, updated_at = now() WHERE id = $1 AND status = 'open'",
          [pick(), amount],
        );
        stats.changes += (from.rowCount ?? 0) + (to.rowCount ?? 0);
      } else if (roll < 0.97) {
        await db.query(
          "INSERT INTO accounts (id, owner, country, balance, status) VALUES ($1, $2, $3, 0, 'open')",
          [nextId, `owner-${nextId}`, ["de", "fr", "us", "jp", "br"][nextId % 5]],
        );
        nextId++;
        stats.changes++;
      } else {
        const closed = await db.query("DELETE FROM accounts WHERE id = $1", [pick()]);
        stats.changes += closed.rowCount ?? 0;
      }
      await db.query("COMMIT");
      stats.transactions++;
      await sleep(pause);
    }
  } finally {
    await db.end().catch(() => {});
  }
  return stats;
}
