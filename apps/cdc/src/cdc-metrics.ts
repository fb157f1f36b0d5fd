import { ATTR_INLET_DATASET, type Attributes, type Meter } from "@inlet/telemetry";

/** Where the source stands, for its gauges and `/status`. */
export interface CdcState {
  /** The last position PostgreSQL was told is safely published (`confirmed_flush_lsn`). */
  confirmedLsn: string;
  /** When the newest published change's transaction committed, ms (0 before the first). */
  lastCommittedAt: number;
  /** WAL bytes the slot holds back, as last measured. */
  slotLagBytes: number | undefined;
}

/** The CDC source's instruments. */
export interface CdcMetrics {
  /** Changes of `dataset` read (from the snapshot or the stream). */
  read(dataset: string, op: string, count?: number): void;
  /** A frame of `events` changes accepted by JetStream (`duplicate`: it had it already). */
  published(dataset: string, events: number, duplicate: boolean): void;
  /** A publish the bus refused for now, tried again. */
  publishRetried(dataset: string): void;
  /** A change dead-lettered. */
  deadLettered(dataset: string): void;
}

/**
 * Creates the source's instruments on `meter`: counters `inlet.cdc.changes.read` (attributes
 * `inlet.dataset`, `inlet.cdc.op`), `inlet.cdc.changes.published`, `inlet.cdc.frames.duplicate`,
 * `inlet.cdc.publish.retries`, `inlet.cdc.changes.dead_lettered`; gauges `inlet.cdc.lag` (s from the
 * newest published change's commit to now) and `inlet.cdc.slot.lag` (WAL bytes the slot retains).
 */
export function createCdcMetrics(meter: Meter, state: () => CdcState): CdcMetrics {
  const read = meter.createCounter("inlet.cdc.changes.read", {
    description: "Changes read from PostgreSQL (snapshot rows included)",
    unit: "{change}",
  });
  const published = meter.createCounter("inlet.cdc.changes.published", {
    description: "Changes published to the CDC stream",
    unit: "{change}",
  });
  const duplicates = meter.createCounter("inlet.cdc.frames.duplicate", {
    description: "Frames JetStream already held (a replay after a restart)",
    unit: "{frame}",
  });
  const retries = meter.createCounter("inlet.cdc.publish.retries", {
    description: "Publishes the bus refused for now (stream full, server away), tried again",
    unit: "{frame}",
  });
  const deadLettered = meter.createCounter("inlet.cdc.changes.dead_lettered", {
    description: "Changes sent to the dead-letter stream with their reason",
    unit: "{change}",
  });
  meter
    .createObservableGauge("inlet.cdc.lag", {
      description: "Seconds since the newest published change's transaction committed",
      unit: "s",
    })
    .addCallback((result) => {
      const { lastCommittedAt } = state();
      if (lastCommittedAt > 0) result.observe((Date.now() - lastCommittedAt) / 1000);
    });
  meter
    .createObservableGauge("inlet.cdc.slot.lag", {
      description: "WAL bytes the replication slot holds back",
      unit: "By",
    })
    .addCallback((result) => {
      const { slotLagBytes } = state();
      if (slotLagBytes !== undefined) result.observe(slotLagBytes);
    });
  const attributes = new Map<string, Attributes>();
  const of = (dataset: string, op?: string): Attributes => {
    const key = `${dataset}\n${op ?? ""}`;
    let attrs = attributes.get(key);
    if (attrs === undefined) {
      attrs =
        op === undefined
          ? { [ATTR_INLET_DATASET]: dataset }
          : { [ATTR_INLET_DATASET]: dataset, "inlet.cdc.op": op };
      attributes.set(key, attrs);
    }
    return attrs;
  };
  return {
    read: (dataset, op, count = 1) => read.add(count, of(dataset, op)),
    published(dataset, events, duplicate) {
      published.add(events, of(dataset));
      if (duplicate) duplicates.add(1, of(dataset));
    },
    publishRetried: (dataset) => retries.add(1, of(dataset)),
    deadLettered: (dataset) => deadLettered.add(1, of(dataset)),
  };
}
