import type { Attributes, Meter } from "@inlet/telemetry";

/** The query service's instruments. */
export interface QueryMetrics {
  /** Counts answered statements by outcome: `ok` or an error code (`NOT_SELECT`, `TIMEOUT`…). */
  query(outcome: string, format: string): void;
  /** Records one statement's time from request to the last byte, in seconds. */
  duration(seconds: number): void;
  /** Counts rows returned. */
  rows(count: number): void;
}

/** Creates the query service's instruments on `meter` (names under `inlet.query.`). */
export function createQueryMetrics(meter: Meter): QueryMetrics {
  const queries = meter.createCounter("inlet.query.statements", {
    description: "SQL statements answered, by outcome and format",
  });
  const duration = meter.createHistogram("inlet.query.duration", {
    description: "Time from receiving a statement to sending its last row",
    unit: "s",
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  });
  const rows = meter.createCounter("inlet.query.rows", { description: "Rows returned to clients" });
  const byOutcome = new Map<string, Attributes>();
  return {
    query(outcome, format) {
      const key = `${outcome} ${format}`;
      let attrs = byOutcome.get(key);
      if (attrs === undefined) {
        attrs = { outcome, format };
        byOutcome.set(key, attrs);
      }
      queries.add(1, attrs);
    },
    duration: (seconds) => duration.record(seconds),
    rows: (count) => rows.add(count),
  };
}
