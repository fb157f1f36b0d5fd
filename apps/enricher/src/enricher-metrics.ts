import { ATTR_INLET_DATASET, type Attributes, type Meter } from "@inlet/telemetry";

/** What one frame did, for {@link EnricherMetrics.frame}. */
export interface FrameCounts {
  eventsIn: number;
  eventsOut: number;
  hits: number;
  misses: number;
  deadLettered: number;
}

/** The enricher's counters and duration histogram, per dataset. */
export interface EnricherMetrics {
  /** Records one handled frame of `dataset` and how long it took, in seconds. */
  frame(dataset: string, counts: FrameCounts, seconds: number): void;
}

/**
 * Creates the enricher's instruments on `meter`: `inlet.enricher.frames`,
 * `inlet.enricher.events.{in,out,dead_lettered}`, `inlet.enricher.lookups.{hit,miss}` (counters) and
 * `inlet.enricher.frame.duration` (histogram, s), each with the `inlet.dataset` attribute.
 */
export function createEnricherMetrics(meter: Meter): EnricherMetrics {
  const frames = meter.createCounter("inlet.enricher.frames", {
    description: "Frames handled",
    unit: "{frame}",
  });
  const eventsIn = meter.createCounter("inlet.enricher.events.in", {
    description: "Events read from PROCESSED",
    unit: "{event}",
  });
  const eventsOut = meter.createCounter("inlet.enricher.events.out", {
    description: "Events published to CURATED",
    unit: "{event}",
  });
  const deadLettered = meter.createCounter("inlet.enricher.events.dead_lettered", {
    description: "Events dead-lettered because a reference value did not fit the schema",
    unit: "{event}",
  });
  const hits = meter.createCounter("inlet.enricher.lookups.hit", {
    description: "Reference lookups that found their key",
    unit: "{lookup}",
  });
  const misses = meter.createCounter("inlet.enricher.lookups.miss", {
    description: "Reference lookups that did not (event kept, marked not found)",
    unit: "{lookup}",
  });
  const duration = meter.createHistogram("inlet.enricher.frame.duration", {
    description: "Time to enrich one frame, publish it and collect the acks",
    unit: "s",
  });
  // One attribute object per dataset, not one per frame.
  const attributes = new Map<string, Attributes>();
  return {
    frame(dataset, counts, seconds) {
      let attrs = attributes.get(dataset);
      if (attrs === undefined) {
        attrs = { [ATTR_INLET_DATASET]: dataset };
        attributes.set(dataset, attrs);
      }
      frames.add(1, attrs);
      eventsIn.add(counts.eventsIn, attrs);
      eventsOut.add(counts.eventsOut, attrs);
      deadLettered.add(counts.deadLettered, attrs);
      hits.add(counts.hits, attrs);
      misses.add(counts.misses, attrs);
      duration.record(seconds, attrs);
    },
  };
}
