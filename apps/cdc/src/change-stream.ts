import { ChangeOp } from "@inlet/schema";
import type { Logger } from "@inlet/telemetry";
import type pg from "pg";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import type { CapturedTable, TextTuple } from "./captured-table.js";
import { qualifiedName, quoteIdent } from "./catalog.js";
import { lsnToNumber } from "./change-schema.js";
import { SESSION_OPTIONS } from "./pg-value.js";

/** Takes one change of `table` (its id, op, row as text, commit LSN and time); resolves once it is held or published. */
export type EmitChange = (
  table: CapturedTable,
  id: string,
  op: ChangeOp,
  values: TextTuple,
  lsn: number,
  committedAt: number,
) => Promise<void>;

/** What a {@link ChangeStream} needs. */
export interface ChangeStreamOptions {
  readonly databaseUrl: string;
  readonly slot: string;
  readonly publication: string;
  /** The captured tables, by their oid. */
  readonly tables: ReadonlyMap<number, CapturedTable>;
  /** A connection for the queries the stream needs on the side (values TOAST left out of an update). */
  readonly lookup: pg.Client;
  readonly emit: EmitChange;
  /** A table's columns changed (ALTER TABLE): register its new schema before its next change. */
  readonly relationChanged: (table: CapturedTable, relation: Pgoutput.MessageRelation) => Promise<void>;
  /** A table was truncated: resolves once that is published. */
  readonly truncated: (table: CapturedTable, lsn: number, committedAt: number) => Promise<void>;
  /** Publishes what is held; resolves once all of it is accepted. */
  readonly flush: () => Promise<void>;
  /** Changes held, unpublished. */
  readonly pending: () => number;
  /** Most changes held before they are published without waiting for the linger. */
  readonly maxPending: number;
  /** How long changes of committed transactions wait for more before they are published, ms. */
  readonly lingerMs: number;
  /** A position was confirmed to PostgreSQL (everything before it is published). */
  readonly confirmed: (lsn: string, committedAt: number) => void;
  readonly logger: Logger;
}

interface Transaction {
  readonly commitLsn: string;
  readonly lsn: number;
  readonly committedAt: number;
  index: number;
}

// pgoutput's relation messages are parsed as they arrive, with pg's parsers per column type; this
// plugin leaves every value as the server's text, which pgTextToAvro converts at full precision.
// It also counts what arrived: parsing happens on receipt, before the message waits its turn.
class TextPgoutputPlugin extends PgoutputPlugin {
  received = 0;

  override parse(buffer: Buffer): Pgoutput.Message {
    const message = super.parse(buffer);
    this.received++;
    if (message.tag === "relation") {
      for (const column of message.columns) column.parser = (raw: unknown) => raw;
    }
    return message;
  }
}

/**
 * One replication session on the slot: reads pgoutput from the last confirmed position, hands each
 * insert, update and delete on as a change, and confirms a transaction's end to PostgreSQL only once
 * it and everything before it is published. The library pauses the socket while a change is being
 * handled, so a bus that does not keep up holds the stream back (PostgreSQL keeps the WAL).
 *
 * A session ends on an error of either side; {@link run} then rejects, and the caller starts a new
 * one from the confirmed position, dropping what was held: PostgreSQL sends it again.
 */
export class ChangeStream {
  readonly #options: ChangeStreamOptions;
  readonly #service: LogicalReplicationService;
  #transaction: Transaction | undefined;
  // The end of the newest transaction read completely, not yet confirmed.
  #committedLsn: string | undefined;
  #committedAt = 0;
  #confirmedLsn: string;
  #lingerTimer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  readonly #skipped = new Set<number>();
  readonly #plugin: TextPgoutputPlugin;
  // Messages handled to the end (compared with what the plugin received).
  #handled = 0;

  constructor(options: ChangeStreamOptions, confirmedLsn: string) {
    this.#options = options;
    this.#confirmedLsn = confirmedLsn;
    this.#plugin = new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [options.publication] });
    this.#service = new LogicalReplicationService(
      { connectionString: options.databaseUrl, options: SESSION_OPTIONS },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
  }

  /** The newest position confirmed to PostgreSQL. */
  get confirmedLsn(): string {
    return this.#confirmedLsn;
  }

  /**
   * Streams until {@link stop} (resolves) or a failure (rejects with it). Changes are handed on in
   * commit order, a transaction's changes in their order in it.
   */
  async run(): Promise<void> {
    const failed = new Promise<never>((_, reject) => {
      this.#service.on("error", (error: Error) => {
        this.#fail(error);
        reject(this.#failure);
      });
    });
    failed.catch(() => {});
    this.#service.on("data", (_lsn: string, message: Pgoutput.Message) =>
      this.#serially(async () => {
        await this.#handle(message);
        this.#handled++;
      }),
    );
    this.#service.on("start", () =>
      this.#options.logger.info({ slot: this.#options.slot }, "replication started"),
    );
    this.#service.on("heartbeat", (lsn: string, _time: number, shouldRespond: boolean) => {
      // When everything received is handled and published, the server's position can be confirmed:
      // the WAL it read since held nothing captured (other tables, other databases), and a
      // transaction still open commits after it. Without that, a slot whose tables go quiet would
      // keep the server's WAL for as long as they stay so. Otherwise the confirmed position only.
      if (this.#idle() && lsnToNumber(lsn) > lsnToNumber(this.#confirmedLsn)) {
        this.#confirmedLsn = lsn;
        void this.#service.acknowledge(lsn);
        this.#options.confirmed(lsn, 0);
      } else if (shouldRespond) {
        void this.#service.acknowledge(this.#confirmedLsn);
      }
    });
    await Promise.race([
      this.#service.subscribe(this.#plugin, this.#options.slot, this.#confirmedLsn),
      failed,
    ]);
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Ends the session: publishes what is held and confirms the last transaction read whole, then
   * closes the connection. What cannot be published by then is sent again by the next session.
   */
  async stop(): Promise<void> {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    await this.#serially(() => this.#publishAndConfirm());
    await this.#service.stop().catch(() => {});
    await this.#chain.catch(() => {});
    this.#service.removeAllListeners();
  }

  /** Closes the connection without publishing anything more (after a failure: the rest is sent again). */
  async close(): Promise<void> {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#fail(new Error("closed"));
    await this.#service.stop().catch(() => {});
    await this.#chain.catch(() => {});
    this.#service.removeAllListeners();
  }

  // One thing at a time, in arrival order: the library's flow control awaits each data handler, and
  // the linger timer's flush joins the same chain.
  #serially(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(async () => {
      if (this.#failure !== undefined) return; // the session is over: the rest is sent again
      try {
        await work();
      } catch (error) {
        this.#fail(error);
        void this.#service.stop().catch(() => {});
      }
    });
    this.#chain = next;
    return next;
  }

  // Nothing received is waiting or being handled, no transaction is open, nothing is unconfirmed.
  #idle(): boolean {
    return (
      this.#failure === undefined &&
      this.#plugin.received === this.#handled &&
      this.#transaction === undefined &&
      this.#committedLsn === undefined &&
      this.#options.pending() === 0
    );
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
  }

  async #handle(message: Pgoutput.Message): Promise<void> {
    switch (message.tag) {
      case "relation":
        return this.#relation(message);
      case "begin":
        this.#transaction = {
          commitLsn: message.commitLsn ?? "0/0",
          lsn: lsnToNumber(message.commitLsn ?? "0/0"),
          committedAt: Number((message.commitTime as bigint) / 1000n),
          index: 0,
        };
        return;
      case "insert":
        return this.#change(message.relation, ChangeOp.Insert, message.new);
      case "update":
        return this.#update(message);
      case "delete":
        return this.#change(message.relation, ChangeOp.Delete, message.key ?? message.old ?? {});
      case "truncate":
        for (const relation of message.relations) {
          const table = this.#table(relation);
          const txn = this.#transaction;
          if (table !== undefined && txn !== undefined) {
            await this.#options.flush();
            await this.#options.truncated(table, txn.lsn, txn.committedAt);
          }
        }
        return;
      case "commit":
        return this.#commit(message);
      default:
        return;
    }
  }

  async #relation(relation: Pgoutput.MessageRelation): Promise<void> {
    const table = this.#table(relation);
    if (table === undefined) return;
    const columns = relation.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, typeMod: c.typeMod }));
    if (!table.differsFrom(columns)) return;
    // Changes held under the old columns go out in their schema version first.
    await this.#options.flush();
    await this.#options.relationChanged(table, relation);
  }

  #table(relation: Pgoutput.MessageRelation): CapturedTable | undefined {
    const table = this.#options.tables.get(relation.relationOid);
    if (table === undefined && !this.#skipped.has(relation.relationOid)) {
      this.#skipped.add(relation.relationOid);
      this.#options.logger.warn(
        { table: `${relation.schema}.${relation.name}`, publication: this.#options.publication },
        "the publication holds a table INLET_CDC_TABLES does not name: its changes are skipped",
      );
    }
    return table;
  }

  async #update(message: Pgoutput.MessageUpdate): Promise<void> {
    const table = this.#table(message.relation);
    if (table === undefined) return;
    // The key changed (the old key comes along only then, or with REPLICA IDENTITY FULL): the row
    // under the old key is gone.
    const old = message.key ?? message.old;
    if (old !== null && table.key.some((k) => old[k] !== undefined && old[k] !== message.new[k])) {
      await this.#change(message.relation, ChangeOp.Delete, old);
    }
    let values: TextTuple = message.new;
    const unchanged = table.columns.filter((c) => message.new[c.name] === undefined).map((c) => c.name);
    if (unchanged.length > 0) values = { ...values, ...(await this.#toasted(table, values, unchanged)) };
    await this.#change(message.relation, ChangeOp.Update, values);
  }

  // Values an update left out (TOASTed and unchanged, without REPLICA IDENTITY FULL): read now. A
  // later change of them is also on its way, so the table converges; a row deleted since reads NULL
  // and its delete follows.
  async #toasted(table: CapturedTable, row: TextTuple, columns: readonly string[]): Promise<TextTuple> {
    const where = table.key.map((k, i) => `${quoteIdent(k)}::text = $${i + 1}`).join(" AND ");
    const { rows } = await this.#options.lookup.query<Record<string, string | null>>(
      `SELECT ${columns.map(quoteIdent).join(", ")} FROM ${qualifiedName(table.spec)} WHERE ${where}`,
      table.key.map((k) => row[k] ?? null),
    );
    return rows[0] ?? Object.fromEntries(columns.map((c) => [c, null]));
  }

  async #change(relation: Pgoutput.MessageRelation, op: ChangeOp, values: TextTuple): Promise<void> {
    const table = this.#table(relation);
    const txn = this.#transaction;
    if (table === undefined || txn === undefined) return;
    const id = `${table.dataset}:${txn.commitLsn}:${txn.index++}`;
    await this.#options.emit(table, id, op, values, txn.lsn, txn.committedAt);
  }

  async #commit(message: Pgoutput.MessageCommit): Promise<void> {
    const txn = this.#transaction;
    this.#transaction = undefined;
    this.#committedLsn = message.commitEndLsn ?? message.commitLsn ?? this.#committedLsn;
    this.#committedAt = txn?.committedAt ?? this.#committedAt;
    if (this.#options.pending() >= this.#options.maxPending) {
      await this.#publishAndConfirm();
      return;
    }
    if (this.#options.pending() === 0) {
      // Nothing of ours in it (or already published): confirm at once.
      this.#confirm();
      return;
    }
    if (this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = undefined;
        void this.#serially(() => this.#publishAndConfirm());
      }, this.#options.lingerMs);
    }
  }

  async #publishAndConfirm(): Promise<void> {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    // Changes of a transaction still open stay held: they are published, but its end is not confirmed.
    await this.#options.flush();
    this.#confirm();
  }

  #confirm(): void {
    const lsn = this.#committedLsn;
    if (lsn === undefined) return;
    this.#committedLsn = undefined;
    this.#confirmedLsn = lsn;
    void this.#service.acknowledge(lsn);
    this.#options.confirmed(lsn, this.#committedAt);
  }
}
