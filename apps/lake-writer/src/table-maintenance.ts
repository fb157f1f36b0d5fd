import { stat } from "node:fs/promises";
import {
  cleanupDeltaLog,
  compactTable,
  curatedTableDir,
  deltaLogDir,
  type ParquetWriter,
  Serial,
  vacuumTable,
} from "@inlet/lake";
import type { Logger } from "@inlet/telemetry";
import type { WriterMetrics } from "./writer-metrics.js";

/** A maintenance job (a metric label). */
export const MaintenanceJob = { Compact: "compact", Vacuum: "vacuum" } as const;

/** A {@link MaintenanceJob} value. */
export type MaintenanceJob = (typeof MaintenanceJob)[keyof typeof MaintenanceJob];

/** Options of {@link TableMaintenance.create}. */
export interface TableMaintenanceOptions {
  readonly lakeDir: string;
  /** The curated datasets this writer owns, with the appId it commits as (its consumer name). */
  readonly tables: readonly { readonly dataset: string; readonly appId: string }[];
  /** Compaction writes files up to this size and rewrites those under half of it, bytes. */
  readonly targetFileBytes: number;
  /** Compaction every this many ms (0: never); a partition needs `minFiles` small files. */
  readonly compact: { readonly intervalMs: number; readonly minFiles: number };
  /** Vacuum every this many ms (0: never), deleting unreferenced files older than `retentionMs`. */
  readonly vacuum: { readonly intervalMs: number; readonly retentionMs: number };
  /** The lake-writer's DuckDB: jobs run on its own connection, queued with the checkpoints. */
  readonly writer: ParquetWriter;
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
}

/**
 * Keeps the curated tables this writer owns in shape while it appends: compaction rewrites a
 * partition's small files into large ones in one commit (`remove` + `add`, dataChange=false), and
 * vacuum deletes files no snapshot needs any more (compacted away, or orphans of a crashed flush)
 * once they are older than the retention.
 *
 * Both run beside the appends, on the writer's DuckDB (one instance per process keeps its memory in
 * one bound) but not on the appends' connections, so an append never waits for them; the Delta
 * log's put-if-absent commits settle races: an append that loses a version to a
 * compaction re-reads the log and commits at the next one, and so does compaction. Jobs run one
 * at a time, table after table; a job that fails is logged, counted and tried at its next turn.
 */
export class TableMaintenance {
  readonly #o: TableMaintenanceOptions;
  readonly #log: Logger;
  readonly #writer: ParquetWriter;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #serial = new Serial();
  readonly #pending = new Set<MaintenanceJob>();
  readonly #tables: Map<string, string>;
  #stopping = false;

  private constructor(options: TableMaintenanceOptions, writer: ParquetWriter) {
    this.#o = options;
    this.#tables = new Map(options.tables.map((t) => [t.dataset, t.appId]));
    this.#log = options.logger.child({ component: "maintenance" });
    this.#writer = writer;
  }

  /** `start()` schedules the jobs. */
  static create(options: TableMaintenanceOptions): TableMaintenance {
    return new TableMaintenance(options, options.writer);
  }

  /** Schedules compaction and vacuum at their intervals (the first run one interval after start). */
  start(): void {
    const { compact, vacuum } = this.#o;
    if (compact.intervalMs > 0) this.#every(compact.intervalMs, MaintenanceJob.Compact);
    if (vacuum.intervalMs > 0) this.#every(vacuum.intervalMs, MaintenanceJob.Vacuum);
    this.#log.info(
      {
        compactIntervalMs: compact.intervalMs,
        minFiles: compact.minFiles,
        vacuumIntervalMs: vacuum.intervalMs,
        retentionMs: vacuum.retentionMs,
      },
      "table maintenance scheduled",
    );
  }

  /** Keeps `dataset`'s table in shape too (a table the writer learnt of while running: a CDC table). */
  add(dataset: string, appId: string): void {
    this.#tables.set(dataset, appId);
  }

  /** Runs a job over every table now, after the jobs already queued. */
  run(job: MaintenanceJob): Promise<void> {
    return this.#serial.run(() => this.#runJob(job));
  }

  /** Cancels the schedule, lets the job in progress finish (the next table is not started). */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#serial.idle();
  }

  #every(intervalMs: number, job: MaintenanceJob): void {
    const timer = setInterval(() => {
      // A job still queued from its last turn is not queued twice.
      if (this.#pending.has(job)) return;
      this.#pending.add(job);
      void this.run(job).finally(() => this.#pending.delete(job));
    }, intervalMs);
    timer.unref();
    this.#timers.push(timer);
  }

  async #runJob(job: MaintenanceJob): Promise<void> {
    for (const [dataset, appId] of this.#tables) {
      if (this.#stopping) return;
      const tableDir = curatedTableDir(this.#o.lakeDir, dataset);
      if (!(await exists(deltaLogDir(tableDir)))) continue; // nothing committed yet
      const started = performance.now();
      try {
        if (job === MaintenanceJob.Compact) await this.#compact(dataset, tableDir, appId, started);
        else await this.#vacuum(dataset, tableDir, started);
      } catch (err) {
        this.#o.metrics.maintenanceFailed(dataset, job);
        this.#log.error({ err, dataset, job }, "table maintenance failed");
      }
    }
  }

  async #compact(dataset: string, tableDir: string, appId: string, started: number): Promise<void> {
    const result = await compactTable({
      tableDir,
      writer: this.#writer,
      targetFileBytes: this.#o.targetFileBytes,
      minFiles: this.#o.compact.minFiles,
      appId,
    });
    const seconds = (performance.now() - started) / 1000;
    this.#o.metrics.compacted(dataset, result, seconds);
    if (result.partitions.length === 0) return;
    const aborted = result.partitions.filter((p) => p.aborted !== undefined);
    this.#log.info(
      {
        dataset,
        version: result.version,
        removed: result.removed,
        added: result.added,
        partitions: result.partitions.length - aborted.length,
        aborted: aborted.map((p) => p.aborted),
        seconds,
      },
      "table compacted",
    );
  }

  async #vacuum(dataset: string, tableDir: string, started: number): Promise<void> {
    const result = await vacuumTable({ tableDir, retentionMs: this.#o.vacuum.retentionMs });
    // The log too: what came before the newest checkpoint past the table's log retention.
    const log = await cleanupDeltaLog({ tableDir });
    const seconds = (performance.now() - started) / 1000;
    this.#o.metrics.vacuumed(dataset, result, log, seconds);
    if (result.deleted.length > 0 || log.deleted.length > 0) {
      this.#log.info(
        {
          dataset,
          deleted: result.deleted.length,
          bytes: result.bytesDeleted,
          kept: result.kept,
          logFilesDeleted: log.deleted.length,
          logBeginsAt: log.keptFrom,
          seconds,
        },
        "table vacuumed",
      );
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
