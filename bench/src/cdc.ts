import { startPostgres, waitFor } from "@inlet/testing";
import pg from "pg";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import { type BenchStack, startBenchStack } from "./bench-stack.js";
import { sampleProcess } from "./proc-stats.js";
import { count, type Phase } from "./progress.js";
import { QueryClient } from "./query-client.js";

/** The CDC figure: a slot's backlog of updates, read bare and carried into the lake. */
export interface CdcResult {
  /** Rows of the table, read by the snapshot before the measurement. */
  tableRows: number;
  /** Changes in the backlog (updates in transactions of 100, then one marker insert). */
  changes: number;
  /** The ceiling: `pg-logical-replication` reading the same backlog on a slot of its own, doing nothing else. */
  readPerS: number;
  readSeconds: number;
  /** From starting the CDC source on the backlog to the last change queryable in the lake. */
  changesPerS: number;
  seconds: number;
  /** The lake's table equals the source's afterwards (row count and balance sum). */
  converged: boolean;
  /** Commits of the lake's table during the drain. */
  commits: number;
  /** Peak RSS (VmHWM) at the end of the drain, MB: the CDC source and the lake-writer. */
  peakRssMb: { cdc: number | null; lakeWriter: number | null };
}

const TABLE = "accounts";
const PER_TRANSACTION = 100;
const MARKER_ID = -1;

/**
 * PostgreSQL (throwaway), nats-server, the services and the CDC source. The table is snapshotted
 * into the lake first; with the source stopped, `changes` updates are committed (transactions of
 * 100 rows each, cycling over the table), then a marker row. The ceiling reads that backlog with
 * the replication library alone on a second slot; then the source starts on it, and the figure is
 * the time until the marker is queryable, the drain's changes counted.
 */
export async function measureCdc(
  rootDir: string,
  options: { tableRows: number; changes: number; env: Record<string, string> },
  phase: Phase,
): Promise<CdcResult> {
  phase.update("starting PostgreSQL");
  const postgres = await startPostgres();
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  let bench: BenchStack | undefined;
  try {
    await db.query(`CREATE TABLE ${TABLE} (
      id bigint PRIMARY KEY, owner text NOT NULL, country text, balance numeric(14, 2) NOT NULL,
      status text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(
      `INSERT INTO ${TABLE} (id, owner, country, balance, status)
       SELECT g, 'owner-' || g, (ARRAY['de','fr','us','jp','br'])[1 + g % 5], (g % 5000)::numeric(14, 2), 'open'
         FROM generate_series(1, ${options.tableRows}) g`,
    );

    phase.update("starting nats-server, the services and the CDC source (snapshot)");
    bench = await startBenchStack({
      rootDir,
      // The drain fills batches by their bounds; only the last one waits for the interval.
      flushMs: 250,
      writerMaxRows: 100_000,
      env: options.env,
      cdc: { databaseUrl: postgres.url, tables: `public.${TABLE}` },
    });
    const stack = bench.stack;
    const query = new QueryClient(stack.queryUrl);
    try {
      await waitFor(async () => (await rowsIn(query)) === options.tableRows, {
        timeoutMs: 120_000,
        intervalMs: 250,
        message: "the snapshot in the lake",
      });
      await stack.stopService("cdc");

      phase.update(`committing ${count(options.changes)} updates with the source stopped`);
      await db.query("SELECT pg_create_logical_replication_slot('bench_ceiling', 'pgoutput')");
      const transactions = Math.ceil(options.changes / PER_TRANSACTION);
      await db.query(`DO $$
        BEGIN
          FOR t IN 0..${transactions - 1} LOOP
            UPDATE ${TABLE} SET balance = balance + 1, updated_at = clock_timestamp()
             WHERE id > (t * ${PER_TRANSACTION}) % ${options.tableRows}
               AND id <= (t * ${PER_TRANSACTION}) % ${options.tableRows} + ${PER_TRANSACTION};
            COMMIT;
          END LOOP;
        END $$`);
      await db.query(
        `INSERT INTO ${TABLE} (id, owner, balance, status) VALUES (${MARKER_ID}, 'marker', 0, 'open')`,
      );
      const changes = transactions * PER_TRANSACTION + 1;

      phase.update("ceiling: the replication library reading the backlog");
      const ceiling = await readBacklog(postgres.url, "bench_ceiling", changes, phase);
      await db.query("SELECT pg_drop_replication_slot('bench_ceiling')");

      phase.update("the CDC source and the lake-writer draining the backlog");
      const versionBefore = (await query.datasets()).find((d) => d.name === TABLE)?.version ?? 0;
      const started = performance.now();
      await stack.start("cdc");
      await waitFor(
        async () => {
          const [row] = await query.rowsOf<{ n: number }>(
            `SELECT count(*)::INTEGER AS n FROM ${TABLE} WHERE id = ${MARKER_ID}`,
          );
          phase.update(`draining: ${((performance.now() - started) / 1000).toFixed(1)} s`);
          return row?.n === 1;
        },
        { timeoutMs: 300_000, intervalMs: 50, message: "the last change in the lake" },
      );
      const seconds = (performance.now() - started) / 1000;
      const peakRssMb = {
        cdc: hwmOf(stack.process("cdc").pid),
        lakeWriter: hwmOf(stack.process("lake-writer").pid),
      };
      const versionAfter = (await query.datasets()).find((d) => d.name === TABLE)?.version ?? 0;

      const { rows: source } = await db.query<{ n: string; sum: string }>(
        `SELECT count(*)::text AS n, sum(balance)::text AS sum FROM ${TABLE}`,
      );
      const [lake] = await query.rowsOf<{ n: number; sum: string }>(
        `SELECT count(*)::INTEGER AS n, sum(balance)::VARCHAR AS sum FROM ${TABLE}`,
      );
      // numeric(14,2) is DECIMAL(14,2) in the lake: the sums agree to the cent, as text.
      const converged = Number(source[0]?.n) === lake?.n && source[0]?.sum === lake?.sum;
      return {
        tableRows: options.tableRows,
        changes,
        readPerS: Math.round(changes / ceiling),
        readSeconds: round(ceiling),
        changesPerS: Math.round(changes / seconds),
        seconds: round(seconds),
        converged,
        commits: versionAfter - versionBefore,
        peakRssMb,
      };
    } finally {
      query.close();
    }
  } finally {
    await bench?.close().catch(() => {});
    await db.end().catch(() => {});
    await postgres.stop();
  }
}

// Reads `changes` inserts, updates and deletes from `slot` with the library alone (flow control on,
// as the source runs it, acknowledging at the end); resolves with the seconds it took.
async function readBacklog(url: string, slot: string, changes: number, phase: Phase): Promise<number> {
  const service = new LogicalReplicationService(
    { connectionString: url },
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ["inlet"] });
  let seen = 0;
  let lastLsn = "0/0";
  const started = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    service.on("error", reject);
    service.on("data", (lsn: string, message: Pgoutput.Message) => {
      lastLsn = lsn;
      if (message.tag === "insert" || message.tag === "update" || message.tag === "delete") {
        seen++;
        if (seen % 20_000 === 0) phase.update(`ceiling: ${count(seen)} / ${count(changes)} changes read`);
        if (seen >= changes) resolve();
      }
    });
  });
  void service.subscribe(plugin, slot).catch(() => {});
  try {
    await done;
    return (performance.now() - started) / 1000;
  } finally {
    await service.acknowledge(lastLsn).catch(() => {});
    await service.stop();
  }
}

async function rowsIn(query: QueryClient): Promise<number> {
  return (await query.datasets()).find((d) => d.name === TABLE)?.rows ?? 0;
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

function hwmOf(pid: number): number | null {
  const sample = sampleProcess(pid);
  return sample === undefined ? null : Math.round(sample.hwmMb);
}
