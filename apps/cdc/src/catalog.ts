import pg from "pg";
import { type CapturedColumn, CaptureError } from "./change-schema.js";
import type { CapturedTableSpec } from "./config.js";
import { SESSION_OPTIONS } from "./pg-value.js";

/** A table's columns (in attribute order) and its primary key (in key order), from the catalog. */
export interface TableShape {
  /** The table's oid: what pgoutput's relation messages name it by. */
  readonly oid: number;
  readonly columns: readonly CapturedColumn[];
  readonly key: readonly string[];
  /** `d` (default: the primary key), `f` (full), `i` (an index), `n` (nothing). */
  readonly replicaIdentity: string;
}

/** Every value as PostgreSQL's text form: `pgTextToAvro` converts it, at the server's precision. */
export const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/** A connection of the source: text values, and the session settings the conversions expect. */
export function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, options: SESSION_OPTIONS, types: TEXT_TYPES });
  // A connection error also rejects the query in flight, where it is handled; without a listener
  // it would end the process.
  client.on("error", () => {});
  return client.connect().then(() => client);
}

/** `"schema"."table"`, quoted for SQL. */
export function qualifiedName(spec: Pick<CapturedTableSpec, "schema" | "table">): string {
  return `${quoteIdent(spec.schema)}.${quoteIdent(spec.table)}`;
}

/** `name` as a quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Throws {@link CaptureError} unless the server runs with `wal_level=logical`. */
export async function assertLogicalWal(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ wal_level: string }>("SHOW wal_level");
  const level = rows[0]?.wal_level;
  if (level !== "logical") {
    throw new CaptureError(
      `PostgreSQL runs with wal_level=${level}: change data capture needs wal_level=logical (set it in postgresql.conf and restart the server)`,
    );
  }
}

/** The table's shape; throws {@link CaptureError} when it does not exist. */
export async function readTableShape(client: pg.Client, spec: CapturedTableSpec): Promise<TableShape> {
  const table = await client.query<{ oid: string; relreplident: string }>(
    `SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [spec.schema, spec.table],
  );
  const found = table.rows[0];
  if (found === undefined) {
    throw new CaptureError(`table ${spec.schema}.${spec.table} (dataset "${spec.dataset}") does not exist`);
  }
  const { rows } = await client.query<{
    attname: string;
    atttypid: string;
    atttypmod: number;
    key_position: string | null;
  }>(
    `SELECT a.attname, a.atttypid, a.atttypmod, array_position(i.indkey::int2[], a.attnum) AS key_position
       FROM pg_attribute a
       LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [found.oid],
  );
  const key = rows
    .filter((r) => r.key_position !== null)
    .sort((a, b) => Number(a.key_position) - Number(b.key_position))
    .map((r) => r.attname);
  return {
    oid: Number(found.oid),
    columns: rows.map((r) => ({
      name: r.attname,
      typeOid: Number(r.atttypid),
      typeMod: Number(r.atttypmod),
    })),
    key,
    replicaIdentity: found.relreplident,
  };
}

/**
 * Creates the publication for `tables` when it does not exist, or adds the tables it lacks. Tables
 * it holds beyond these stay (the source skips their changes).
 */
export async function ensurePublication(
  client: pg.Client,
  publication: string,
  tables: readonly CapturedTableSpec[],
): Promise<void> {
  const exists = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [publication]);
  if (exists.rowCount === 0) {
    await client.query(
      `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${tables.map(qualifiedName).join(", ")}`,
    );
    return;
  }
  const { rows } = await client.query<{ schemaname: string; tablename: string }>(
    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1",
    [publication],
  );
  const held = new Set(rows.map((r) => `${r.schemaname}.${r.tablename}`));
  const missing = tables.filter((t) => !held.has(`${t.schema}.${t.table}`));
  if (missing.length > 0) {
    await client.query(
      `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${missing.map(qualifiedName).join(", ")}`,
    );
  }
}

/**
 * The slot's confirmed position, creating the slot (pgoutput) when it does not exist; `created`
 * says which. Throws {@link CaptureError} when a slot of that name uses another plugin or database.
 */
export async function ensureSlot(
  client: pg.Client,
  slot: string,
): Promise<{ created: boolean; confirmedLsn: string }> {
  const { rows } = await client.query<{ plugin: string; database: string; confirmed: string | null }>(
    `SELECT plugin, database, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const existing = rows[0];
  if (existing !== undefined) {
    const { rows: db } = await client.query<{ name: string }>("SELECT current_database() AS name");
    if (existing.plugin !== "pgoutput" || existing.database !== db[0]?.name) {
      throw new CaptureError(
        `replication slot "${slot}" belongs to plugin ${existing.plugin} on database ${existing.database}; choose another INLET_CDC_SLOT`,
      );
    }
    return { created: false, confirmedLsn: existing.confirmed ?? "0/0" };
  }
  const created = await client.query<{ lsn: string }>(
    "SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')",
    [slot],
  );
  return { created: true, confirmedLsn: created.rows[0]?.lsn ?? "0/0" };
}

/** Bytes of WAL the slot holds back (the server's position minus the slot's confirmed one). */
export async function slotLagBytes(client: pg.Client, slot: string): Promise<number | undefined> {
  const { rows } = await client.query<{ lag: string | null }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const lag = rows[0]?.lag;
  return lag === null || lag === undefined ? undefined : Number(lag);
}
