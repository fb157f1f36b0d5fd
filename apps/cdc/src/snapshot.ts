import type pg from "pg";
import type { CapturedTable, TextTuple } from "./captured-table.js";
import { connect, qualifiedName, quoteIdent } from "./catalog.js";
import { lsnToNumber } from "./change-schema.js";

/** What {@link snapshotTable} needs. */
export interface SnapshotOptions {
  readonly databaseUrl: string;
  readonly table: CapturedTable;
  /** Takes one row as a change (`r`) with its id; resolves once it is held or published. */
  readonly emit: (
    table: CapturedTable,
    id: string,
    values: TextTuple,
    lsn: number,
    at: number,
  ) => Promise<void>;
  /** Rows per FETCH; default 1,000. */
  readonly fetchRows?: number;
  /** Called after each fetch with the rows read so far. */
  readonly progress?: (rows: number) => void;
}

/** What a snapshot read. */
export interface SnapshotResult {
  readonly rows: number;
  /** The WAL position when it started. */
  readonly lsn: string;
  /** When it started, ms. */
  readonly at: number;
}

/**
 * Reads the table's rows as they are now, in one REPEATABLE READ transaction through a cursor (a
 * fetch's worth in memory at a time), and emits each as a change `r` with id
 * `<dataset>:snapshot:<lsn>:<row>`. Changes committed meanwhile also reach the replication stream,
 * which the lake applies after these rows: the table converges to the source whatever the overlap.
 */
export async function snapshotTable(options: SnapshotOptions): Promise<SnapshotResult> {
  const { table, emit } = options;
  const fetchRows = options.fetchRows ?? 1_000;
  const client: pg.Client = await connect(options.databaseUrl);
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { rows: start } = await client.query<{ lsn: string; at: string }>(
      "SELECT pg_current_wal_lsn()::text AS lsn, (extract(epoch from now()) * 1000)::bigint::text AS at",
    );
    const lsnText = start[0]?.lsn ?? "0/0";
    const lsn = lsnToNumber(lsnText);
    const at = Number(start[0]?.at ?? Date.now());
    const names = table.columns.map((c) => c.name);
    await client.query(
      `DECLARE inlet_snapshot NO SCROLL CURSOR FOR SELECT ${names.map(quoteIdent).join(", ")} FROM ${qualifiedName(table.spec)}`,
    );
    let count = 0;
    for (;;) {
      const batch = await client.query<unknown[]>({
        text: `FETCH ${fetchRows} FROM inlet_snapshot`,
        rowMode: "array",
      });
      for (const row of batch.rows) {
        const values: Record<string, string | null> = {};
        names.forEach((name, i) => {
          values[name] = (row[i] as string | null) ?? null;
        });
        await emit(table, `${table.dataset}:snapshot:${lsnText}:${count}`, values, lsn, at);
        count++;
      }
      options.progress?.(count);
      if (batch.rows.length < fetchRows) break;
    }
    await client.query("COMMIT");
    return { rows: count, lsn: lsnText, at };
  } finally {
    await client.end().catch(() => {});
  }
}
