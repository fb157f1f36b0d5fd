import type { CleanupDeltaLogResult, CompactionResult, VacuumResult } from "@inlet/lake";
import type { Attributes, Meter } from "@inlet/telemetry";
import type { FlushReason } from "./micro-batch.js";

/** The lake zone a metric is about. */
export const Zone = { Curated: "curated", Raw: "raw" } as const;

/** A {@link Zone} value. */
export type Zone = (typeof Zone)[keyof typeof Zone];

/** What a writer shows to the metrics gauges, read at each scrape. */
export interface WriterGauges {
  readonly dataset: string;
  readonly zone: Zone;
  /** Rows (events) buffered, not committed yet. */
  bufferedRows(): number;
  /** When the last commit (or raw flush) finished, ms since the epoch; 0 before the first. */
  lastCommitAt(): number;
  /** The newest event time committed, ms since the epoch; 0 before the first (curated only). */
  newestEventAt(): number;
}

const FLUSH_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const MAINTENANCE_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900];

/** The lake-writer's metrics; every series carries `dataset` and `zone` attributes. */
export class WriterMetrics {
  readonly #framesIn;
  readonly #eventsIn;
  readonly #framesSkipped;
  readonly #framesDuplicate;
  readonly #deadLettered;
  readonly #rowsCommitted;
  readonly #commits;
  readonly #flushFailures;
  readonly #flushDuration;
  readonly #maintenanceRuns;
  readonly #maintenanceDuration;
  readonly #compactions;
  readonly #compactedFiles;
  readonly #compactionAborts;
  readonly #vacuumedFiles;
  readonly #vacuumedBytes;
  readonly #logFilesDeleted;
  readonly #gauges = new Set<WriterGauges>();
  readonly #attrs = new Map<string, Attributes>();

  constructor(meter: Meter) {
    this.#framesIn = meter.createCounter("inlet.lake_writer.frames.in", {
      description: "Frames received from the stream (redeliveries included).",
    });
    this.#eventsIn = meter.createCounter("inlet.lake_writer.events.in", {
      description: "Events received in new frames.",
    });
    this.#framesSkipped = meter.createCounter("inlet.lake_writer.frames.skipped", {
      description: "Redelivered frames acked without writing: already committed or already buffered.",
    });
    this.#framesDuplicate = meter.createCounter("inlet.lake_writer.frames.duplicate", {
      description:
        "Frames dropped because a frame with the same events was committed under another stream sequence.",
    });
    this.#deadLettered = meter.createCounter("inlet.lake_writer.dead_lettered", {
      description: "Events and frames sent to the dead-letter stream.",
    });
    this.#rowsCommitted = meter.createCounter("inlet.lake_writer.rows.committed", {
      description: "Rows durably written: Delta commits (curated) or fsynced Avro files (raw).",
    });
    this.#commits = meter.createCounter("inlet.lake_writer.commits", {
      description: "Flushes that committed (curated: one Delta commit each).",
    });
    this.#flushFailures = meter.createCounter("inlet.lake_writer.flush.failures", {
      description: "Flushes that failed and will be retried.",
    });
    this.#flushDuration = meter.createHistogram("inlet.lake_writer.flush.duration", {
      description: "Time to write and commit one micro-batch.",
      unit: "s",
      advice: { explicitBucketBoundaries: FLUSH_SECONDS_BUCKETS },
    });
    this.#maintenanceRuns = meter.createCounter("inlet.lake_writer.maintenance.runs", {
      description: "Compaction and vacuum runs over one table, label job and outcome (ok, failed).",
    });
    this.#maintenanceDuration = meter.createHistogram("inlet.lake_writer.maintenance.duration", {
      description: "Time one compaction or vacuum run over one table took.",
      unit: "s",
      advice: { explicitBucketBoundaries: MAINTENANCE_SECONDS_BUCKETS },
    });
    this.#compactions = meter.createCounter("inlet.lake_writer.compaction.commits", {
      description: "Compaction commits: small files swapped for large ones (dataChange=false).",
    });
    this.#compactedFiles = meter.createCounter("inlet.lake_writer.compaction.files", {
      description: "Data files compaction removed or added, label action.",
    });
    this.#compactionAborts = meter.createCounter("inlet.lake_writer.compaction.aborted", {
      description: "Partitions left as they were because another writer removed one of their files first.",
    });
    this.#vacuumedFiles = meter.createCounter("inlet.lake_writer.vacuum.files", {
      description: "Unreferenced data files vacuum deleted.",
    });
    this.#vacuumedBytes = meter.createCounter("inlet.lake_writer.vacuum.bytes", {
      description: "Bytes of the files vacuum deleted.",
      unit: "By",
    });
    this.#logFilesDeleted = meter.createCounter("inlet.lake_writer.log_cleanup.files", {
      description: "Delta log files (commits, checkpoints) deleted past the table's log retention.",
    });
    meter
      .createObservableGauge("inlet.lake_writer.buffered.rows", {
        description: "Rows buffered, not committed yet.",
      })
      .addCallback((result) => {
        for (const g of this.#gauges) result.observe(g.bufferedRows(), this.#of(g.dataset, g.zone));
      });
    meter
      .createObservableGauge("inlet.lake_writer.last_commit.time", {
        description: "When the last commit finished, seconds since the epoch.",
        unit: "s",
      })
      .addCallback((result) => {
        for (const g of this.#gauges) {
          const at = g.lastCommitAt();
          if (at > 0) result.observe(at / 1000, this.#of(g.dataset, g.zone));
        }
      });
    meter
      .createObservableGauge("inlet.lake_writer.newest_event.time", {
        description: "Event time of the newest committed row, seconds since the epoch.",
        unit: "s",
      })
      .addCallback((result) => {
        for (const g of this.#gauges) {
          const at = g.newestEventAt();
          if (at > 0) result.observe(at / 1000, this.#of(g.dataset, g.zone));
        }
      });
    meter
      .createObservableGauge("inlet.lake_writer.freshness", {
        description: "Now minus the event time of the newest committed row.",
        unit: "s",
      })
      .addCallback((result) => {
        const now = Date.now();
        for (const g of this.#gauges) {
          const at = g.newestEventAt();
          if (at > 0) result.observe(Math.max(0, now - at) / 1000, this.#of(g.dataset, g.zone));
        }
      });
  }

  /** Shows a writer's state in the gauges until {@link WriterMetrics.unwatch}. */
  watch(gauges: WriterGauges): void {
    this.#gauges.add(gauges);
  }

  /** Stops showing a writer's state. */
  unwatch(gauges: WriterGauges): void {
    this.#gauges.delete(gauges);
  }

  /** A frame arrived; `events` counts only the events of a frame not seen before. */
  frameIn(dataset: string, zone: Zone, events: number): void {
    const attrs = this.#of(dataset, zone);
    this.#framesIn.add(1, attrs);
    if (events > 0) this.#eventsIn.add(events, attrs);
  }

  /** A redelivered frame was acked or dropped without writing. */
  frameSkipped(dataset: string, zone: Zone): void {
    this.#framesSkipped.add(1, this.#of(dataset, zone));
  }

  /** A frame with the same events as one already written (published again upstream) was dropped. */
  frameDuplicate(dataset: string, zone: Zone): void {
    this.#framesDuplicate.add(1, this.#of(dataset, zone));
  }

  /** `count` events (kind `event`) or one frame (kind `frame`) went to the dead-letter stream. */
  deadLettered(dataset: string, zone: Zone, kind: "event" | "frame", count = 1): void {
    this.#deadLettered.add(count, { ...this.#of(dataset, zone), kind });
  }

  /** A flush committed `rows` rows in `seconds`. */
  committed(dataset: string, zone: Zone, rows: number, seconds: number, reason: FlushReason): void {
    const attrs = this.#of(dataset, zone);
    this.#commits.add(1, attrs);
    if (rows > 0) this.#rowsCommitted.add(rows, attrs);
    this.#flushDuration.record(seconds, { ...attrs, reason });
  }

  /** A flush failed; it is retried. */
  flushFailed(dataset: string, zone: Zone): void {
    this.#flushFailures.add(1, this.#of(dataset, zone));
  }

  /** A compaction run over one table ended (a result without a version committed nothing). */
  compacted(dataset: string, result: CompactionResult, seconds: number): void {
    const attrs = this.#of(dataset, "curated");
    this.#maintenanceRuns.add(1, { ...attrs, job: "compact", outcome: "ok" });
    this.#maintenanceDuration.record(seconds, { ...attrs, job: "compact" });
    if (result.version !== undefined) this.#compactions.add(1, attrs);
    if (result.removed > 0) this.#compactedFiles.add(result.removed, { ...attrs, action: "removed" });
    if (result.added > 0) this.#compactedFiles.add(result.added, { ...attrs, action: "added" });
    const aborted = result.partitions.filter((p) => p.aborted !== undefined).length;
    if (aborted > 0) this.#compactionAborts.add(aborted, attrs);
  }

  /** A vacuum run over one table ended: its data files, then its log. */
  vacuumed(dataset: string, result: VacuumResult, log: CleanupDeltaLogResult, seconds: number): void {
    const attrs = this.#of(dataset, "curated");
    this.#maintenanceRuns.add(1, { ...attrs, job: "vacuum", outcome: "ok" });
    this.#maintenanceDuration.record(seconds, { ...attrs, job: "vacuum" });
    if (result.deleted.length > 0) {
      this.#vacuumedFiles.add(result.deleted.length, attrs);
      this.#vacuumedBytes.add(result.bytesDeleted, attrs);
    }
    if (log.deleted.length > 0) this.#logFilesDeleted.add(log.deleted.length, attrs);
  }

  /** A compaction or vacuum run over one table failed; it is tried again at its next turn. */
  maintenanceFailed(dataset: string, job: "compact" | "vacuum"): void {
    this.#maintenanceRuns.add(1, { ...this.#of(dataset, "curated"), job, outcome: "failed" });
  }

  // One attributes object per series, so hot paths allocate nothing.
  #of(dataset: string, zone: Zone): Attributes {
    const key = `${zone}/${dataset}`;
    let attrs = this.#attrs.get(key);
    if (attrs === undefined) {
      attrs = { dataset, zone };
      this.#attrs.set(key, attrs);
    }
    return attrs;
  }
}
