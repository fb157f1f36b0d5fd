import type { Attributes, Meter } from "@inlet/telemetry";

/** The collector's instruments; attribute sets are cached per dataset so counting allocates nothing. */
export interface CollectorMetrics {
  /** Counts events stored in the INGEST stream. */
  accepted(dataset: string, count: number): void;
  /** Counts events refused (and dead-lettered). */
  rejected(dataset: string, count: number): void;
  /** Counts valid events the bus did not store (answered 503). */
  failed(dataset: string, count: number): void;
  /** Counts events in frames JetStream reported as duplicates (retries). */
  duplicates(dataset: string, count: number): void;
  /** Counts answered requests by transport (`http`, `nats`) and status. */
  request(transport: string, status: number): void;
  /** Records how long one frame publish took until its PubAck, in seconds. */
  publishDuration(dataset: string, seconds: number): void;
  /** Stops observing the in-flight gauges. */
  close(): void;
}

/** What is in flight now, read at each scrape (the {@link InflightLimiter}). */
export interface InflightCounts {
  readonly inflight: number;
  readonly inflightBytes: number;
}

/**
 * Creates the collector's counters and histogram on `meter` (names under `inlet.collector.`), and
 * gauges of the events and body bytes in flight read from `inflight` at each scrape.
 */
export function createCollectorMetrics(meter: Meter, inflight: InflightCounts): CollectorMetrics {
  const inflightGauge = meter.createObservableGauge("inlet.collector.events.inflight", {
    description: "Events being validated or published now, across requests",
  });
  const observeInflight: Parameters<typeof inflightGauge.addCallback>[0] = (result) =>
    result.observe(inflight.inflight);
  inflightGauge.addCallback(observeInflight);
  const bytesGauge = meter.createObservableGauge("inlet.collector.bytes.inflight", {
    description: "Request body bytes being validated or published now, across requests",
    unit: "By",
  });
  const observeBytes: Parameters<typeof bytesGauge.addCallback>[0] = (result) =>
    result.observe(inflight.inflightBytes);
  bytesGauge.addCallback(observeBytes);
  const accepted = meter.createCounter("inlet.collector.events.accepted", {
    description: "Events stored in the INGEST stream",
  });
  const rejected = meter.createCounter("inlet.collector.events.rejected", {
    description: "Events refused as invalid and dead-lettered",
  });
  const failed = meter.createCounter("inlet.collector.events.failed", {
    description: "Valid events not stored because the bus refused or was unreachable",
  });
  const duplicates = meter.createCounter("inlet.collector.events.duplicate", {
    description: "Events in frames JetStream had already stored (client retries)",
  });
  const requests = meter.createCounter("inlet.collector.requests", {
    description: "Ingest requests answered, by transport and status",
  });
  const publish = meter.createHistogram("inlet.collector.publish.duration", {
    description: "Time from publishing a frame to its PubAck",
    unit: "s",
    advice: {
      explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    },
  });

  const byDataset = new Map<string, Attributes>();
  const datasetAttrs = (dataset: string): Attributes => {
    let attrs = byDataset.get(dataset);
    if (attrs === undefined) {
      attrs = { dataset };
      byDataset.set(dataset, attrs);
    }
    return attrs;
  };
  const byRequest = new Map<string, Attributes>();

  return {
    accepted: (dataset, count) => accepted.add(count, datasetAttrs(dataset)),
    rejected: (dataset, count) => rejected.add(count, datasetAttrs(dataset)),
    failed: (dataset, count) => failed.add(count, datasetAttrs(dataset)),
    duplicates: (dataset, count) => duplicates.add(count, datasetAttrs(dataset)),
    request(transport, status) {
      const key = `${transport} ${status}`;
      let attrs = byRequest.get(key);
      if (attrs === undefined) {
        attrs = { transport, status: String(status) };
        byRequest.set(key, attrs);
      }
      requests.add(1, attrs);
    },
    publishDuration: (dataset, seconds) => publish.record(seconds, datasetAttrs(dataset)),
    close() {
      inflightGauge.removeCallback(observeInflight);
      bytesGauge.removeCallback(observeBytes);
    },
  };
}
