import { setTimeout as sleep } from "node:timers/promises";
import {
  DeadLetters,
  DurableName,
  encodeFrame,
  ensureConsumerExists,
  ensureStreams,
  frameHeaders,
  Header,
  publishWithRetry,
  Stage,
  StreamName,
  type Subjects,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import { ChangeOp as Op, type SchemaRegistry } from "@inlet/schema";
import type { Logger, Meter, Tracer } from "@inlet/telemetry";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type pg from "pg";
import { CapturedTable, ChangeValueError, type TextTuple } from "./captured-table.js";
import {
  assertLogicalWal,
  connect,
  ensurePublication,
  ensureSlot,
  readTableShape,
  slotLagBytes,
} from "./catalog.js";
import { type CdcMetrics, type CdcState, createCdcMetrics } from "./cdc-metrics.js";
import { ChangeFrames, StoppingError } from "./change-frames.js";
import { ChangeStream, type EmitChange } from "./change-stream.js";
import type { CapturedTableSpec } from "./config.js";
import { snapshotTable } from "./snapshot.js";

/** The KV bucket where the source records which tables' snapshots are complete. */
export const CDC_STATE_BUCKET = "inlet_cdc";

/** What {@link createCdcSource} needs. */
export interface CdcSourceOptions {
  readonly databaseUrl: string;
  readonly tables: readonly CapturedTableSpec[];
  readonly slot: string;
  readonly publication: string;
  /** The `<db>` of `cdc.<db>.<table>`. */
  readonly subjectDatabase: string;
  /** Whether a table's rows are read whole before its changes are streamed (once per slot and table). */
  readonly snapshot: boolean;
  readonly lingerMs: number;
  readonly maxPendingEvents: number;
  readonly retryMs: number;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly registry: SchemaRegistry;
  readonly subjects: Subjects;
  /** Stream name prefix (tests); default none. */
  readonly prefix?: string;
  readonly replicas: number;
  readonly logger: Logger;
  readonly tracer: Tracer;
  readonly meter: Meter;
}

/** A table's place in the source, for `/status`. */
export interface CapturedTableStatus {
  readonly dataset: string;
  readonly table: string;
  readonly schemaId: string;
  readonly key: readonly string[];
  /** When its snapshot completed and how many rows it read; absent when none was taken. */
  readonly snapshot?: { rows: number; lsn: string; at: string };
  readonly refused?: string;
}

/** What `/status` shows. */
export interface CdcStatus {
  readonly slot: string;
  readonly publication: string;
  readonly streaming: boolean;
  readonly confirmedLsn: string;
  /** Seconds from the newest published change's commit to now. */
  readonly lagSeconds: number | null;
  readonly slotLagBytes: number | null;
  readonly pendingChanges: number;
  readonly tables: readonly CapturedTableStatus[];
}

/** A running CDC source. */
export interface CdcSource {
  /** Checks and prepares the database and the bus, takes the snapshots due, then streams. */
  start(): Promise<void>;
  /** True while a replication session is streaming. */
  ready(): boolean;
  status(): CdcStatus;
  /** Publishes what is held, confirms it to PostgreSQL, and ends the session. */
  stop(): Promise<void>;
}

interface SnapshotRecord {
  rows: number;
  lsn: string;
  at: number;
}

const SLOT_LAG_EVERY_MS = 10_000;

/**
 * The CDC source: reads a PostgreSQL database's changes to the configured tables through a logical
 * replication slot (pgoutput) and publishes them as frames on `cdc.<db>.<dataset>`, each change a
 * record of the table's columns plus `_op`, `_lsn` and `_committed_at`, in a schema version it
 * registers from the catalog. A transaction's end is confirmed to the slot only once its changes
 * are accepted by JetStream, so a crash at any point sends them again (frame ids repeat, and the
 * lake applies a change by its key, so a repeat changes nothing).
 */
export function createCdcSource(options: CdcSourceOptions): CdcSource {
  const { logger, registry } = options;
  const tables = new Map<number, CapturedTable>();
  const snapshots = new Map<string, SnapshotRecord>();
  const state: CdcState = { confirmedLsn: "0/0", lastCommittedAt: 0, slotLagBytes: undefined };
  const metrics: CdcMetrics = createCdcMetrics(options.meter, () => state);
  const deadLetters = new DeadLetters(options.js, { subjects: options.subjects });
  let stopping = false;
  let streaming = false;
  let session: ChangeStream | undefined;
  let loop: Promise<void> | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  let admin: pg.Client | undefined;

  const frames = new ChangeFrames({
    js: options.js,
    subjects: options.subjects,
    subjectDatabase: options.subjectDatabase,
    deadLetters,
    tracer: options.tracer,
    logger,
    metrics,
    retryMs: options.retryMs,
    stopping: () => stopping,
  });

  const emit: EmitChange = async (table, id, op, values, lsn, committedAt) => {
    metrics.read(table.dataset, op);
    if (table.refused !== undefined) {
      await deadLetter(table, id, "SCHEMA_REFUSED", table.refused, values);
      return;
    }
    let payload: Buffer;
    try {
      payload = table.encode(values, op, lsn, committedAt);
    } catch (error) {
      // Never a reason to stop the stream: the change is filed with the reason, the rest goes on.
      if (error instanceof ChangeValueError) {
        await deadLetter(table, id, "VALUE_NOT_REPRESENTABLE", error.message, values, error);
      } else {
        const reason = `dataset "${table.dataset}": change could not be encoded in ${table.schemaId}: ${error instanceof Error ? error.message : String(error)}`;
        await deadLetter(table, id, "ENCODE_FAILED", reason, values);
      }
      return;
    }
    await frames.add(table, { id, ingestedAt: Date.now(), payload });
  };

  const deadLetter = async (
    table: CapturedTable,
    id: string,
    code: string,
    reason: string,
    values: TextTuple,
    error?: ChangeValueError,
  ): Promise<void> => {
    await deadLetters.event({
      stage: Stage.Cdc,
      dataset: table.dataset,
      code,
      reason,
      eventId: id,
      event: values,
      ...(error === undefined ? {} : { field: error.field, expected: error.expected, got: error.got }),
    });
    metrics.deadLettered(table.dataset);
    logger.warn({ dataset: table.dataset, eventId: id, code, reason }, "change dead-lettered");
  };

  // A TRUNCATE: a frame with no changes and `Inlet-CDC-Op: truncate`, after every change before it.
  const truncated = async (table: CapturedTable, lsn: number): Promise<void> => {
    const subject = options.subjects.cdc(options.subjectDatabase, table.dataset);
    const headers = frameHeaders({
      msgId: `${table.dataset}:truncate:${lsn}`,
      schemaId: table.schemaId,
      count: 0,
    });
    headers.set(Header.CdcOp, "truncate");
    await publishWithRetry(options.js, subject, encodeFrame([]), headers, { timeoutMs: 60_000 });
    logger.info({ dataset: table.dataset }, "table truncated at the source: the lake's copy is emptied too");
  };

  const relationChanged = async (
    table: CapturedTable,
    relation: { columns: readonly { name: string; typeOid: number; typeMod: number }[] },
  ): Promise<void> => {
    const columns = relation.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, typeMod: c.typeMod }));
    const before = table.schemaId;
    try {
      await table.register(registry, columns);
      logger.info(
        { dataset: table.dataset, from: before, to: table.schemaId },
        "table's columns changed: new schema version",
      );
    } catch (error) {
      table.refused = `dataset "${table.dataset}": the table's columns changed and the new schema was refused: ${error instanceof Error ? error.message : String(error)}`;
      logger.error(
        { dataset: table.dataset, reason: table.refused },
        "changes of this table go to the dead-letter stream",
      );
    }
  };

  const snapshotDue = async (kv: KV): Promise<void> => {
    for (const table of tables.values()) {
      const key = `${options.slot}.${table.dataset}.snapshot`;
      const entry = await kv.get(key);
      if (entry !== null && entry.operation === "PUT") {
        snapshots.set(table.dataset, entry.json<SnapshotRecord>());
        continue;
      }
      if (!options.snapshot) continue;
      logger.info({ dataset: table.dataset }, "snapshot: reading the table's rows");
      let lastLog = Date.now();
      const result = await snapshotTable({
        databaseUrl: options.databaseUrl,
        table,
        emit: (t, id, values, lsn, at) => emit(t, id, Op.Read, values, lsn, at),
        progress: (rows) => {
          if (Date.now() - lastLog < 5_000) return;
          lastLog = Date.now();
          logger.info({ dataset: table.dataset, rows }, "snapshot: reading");
        },
      });
      await frames.flush();
      const record: SnapshotRecord = { rows: result.rows, lsn: result.lsn, at: result.at };
      await kv.put(key, JSON.stringify(record));
      snapshots.set(table.dataset, record);
      state.lastCommittedAt = Math.max(state.lastCommittedAt, result.at);
      logger.info({ dataset: table.dataset, rows: result.rows, lsn: result.lsn }, "snapshot complete");
    }
  };

  const streamLoop = async (): Promise<void> => {
    while (!stopping) {
      let lookup: pg.Client | undefined;
      let current: ChangeStream | undefined;
      try {
        lookup = await connect(options.databaseUrl);
        current = new ChangeStream(
          {
            databaseUrl: options.databaseUrl,
            slot: options.slot,
            publication: options.publication,
            tables,
            lookup,
            emit,
            relationChanged,
            truncated,
            flush: () => frames.flush(),
            pending: () => frames.pendingEvents,
            maxPending: options.maxPendingEvents,
            lingerMs: options.lingerMs,
            confirmed: (lsn, committedAt) => {
              state.confirmedLsn = lsn;
              state.lastCommittedAt = Math.max(state.lastCommittedAt, committedAt);
            },
            logger,
          },
          state.confirmedLsn,
        );
        session = current;
        streaming = true;
        logger.info({ slot: options.slot, from: state.confirmedLsn }, "streaming changes");
        await current.run();
      } catch (error) {
        if (!stopping && !(error instanceof StoppingError)) {
          logger.error(
            { err: error, retryInMs: options.retryMs },
            "replication interrupted: starting again from the confirmed position",
          );
        }
      } finally {
        streaming = false;
        session = undefined;
        await current?.close();
        frames.clear();
        await lookup?.end().catch(() => {});
      }
      if (!stopping) await sleep(options.retryMs);
    }
  };

  return {
    async start() {
      admin = await connect(options.databaseUrl);
      await assertLogicalWal(admin);
      const { rows } = await admin.query<{ name: string }>("SELECT current_database() AS name");
      const database = rows[0]?.name ?? "";
      for (const spec of options.tables) {
        options.subjects.cdc(options.subjectDatabase, spec.dataset); // a bad subject token stops the start, named
        const shape = await readTableShape(admin, spec);
        const table = new CapturedTable(spec, database, shape.oid, shape.columns, shape.key);
        await table.register(registry);
        tables.set(shape.oid, table);
      }
      // The lake-writer's consumer exists before the first change is published (interest retention).
      const prefix = options.prefix ?? "";
      const wanted = new Set<string>([
        streamName(StreamName.Cdc, prefix),
        streamName(StreamName.Dlq, prefix),
      ]);
      await ensureStreams(
        options.jsm,
        streamSpecs({ replicas: options.replicas, prefix }).filter((s) => wanted.has(s.name)),
      );
      await ensureConsumerExists(options.jsm, streamName(StreamName.Cdc, prefix), {
        durable: DurableName.LakeWriterCdc,
        filterSubjects: [options.subjects.all.cdc],
      });
      await ensurePublication(admin, options.publication, options.tables);
      const slot = await ensureSlot(admin, options.slot);
      state.confirmedLsn = slot.confirmedLsn;
      logger.info(
        {
          slot: options.slot,
          created: slot.created,
          confirmedLsn: slot.confirmedLsn,
          tables: [...tables.values()].map((t) => t.schemaId),
        },
        "replication slot ready",
      );
      const kv = await new Kvm(options.nc).create(CDC_STATE_BUCKET, {
        replicas: options.replicas,
        history: 1,
        description: "Inlet CDC source: <slot>.<dataset>.snapshot = the completed snapshot",
      });
      await snapshotDue(kv);
      const measureLag = async () => {
        state.slotLagBytes = await slotLagBytes(admin!, options.slot).catch(() => state.slotLagBytes);
      };
      await measureLag();
      lagTimer = setInterval(() => void measureLag(), SLOT_LAG_EVERY_MS);
      loop = streamLoop();
    },
    ready: () => streaming,
    status() {
      return {
        slot: options.slot,
        publication: options.publication,
        streaming,
        confirmedLsn: state.confirmedLsn,
        lagSeconds: state.lastCommittedAt > 0 ? (Date.now() - state.lastCommittedAt) / 1000 : null,
        slotLagBytes: state.slotLagBytes ?? null,
        pendingChanges: frames.pendingEvents,
        tables: [...tables.values()].map((t) => {
          const snapshot = snapshots.get(t.dataset);
          return {
            dataset: t.dataset,
            table: `${t.spec.schema}.${t.spec.table}`,
            schemaId: t.schemaId,
            key: t.key,
            ...(snapshot === undefined
              ? {}
              : {
                  snapshot: {
                    rows: snapshot.rows,
                    lsn: snapshot.lsn,
                    at: new Date(snapshot.at).toISOString(),
                  },
                }),
            ...(t.refused === undefined ? {} : { refused: t.refused }),
          };
        }),
      };
    },
    async stop() {
      stopping = true;
      clearInterval(lagTimer);
      await session?.stop();
      await loop;
      await admin?.end().catch(() => {});
    },
  };
}
