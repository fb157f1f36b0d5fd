import { ATTR_INLET_DATASET, type Attributes, type Meter } from "@inlet/telemetry";

/** What one frame did, for {@link ProcessorMetrics.frame}. */
export interface FrameCounts {
  eventsIn: number;
  eventsOut: number;
  filtered: number;
  alerted: number;
  deadLettered: number;
}

/** The processor's counters and duration histogram, per dataset. */
export interface ProcessorMetrics {
  /** Records one handled frame of `dataset` and how long it took, in seconds. */
  frame(dataset: string, counts: FrameCounts, seconds: number): void;
}

/**
 * Creates the processor's instruments on `meter`: `inlet.processor.frames`,
 * `inlet.processor.events.{in,out,filtered,alerted,dead_lettered}` (counters) and
 * `inlet.processor.frame.duration` (histogram, s), each with the `inlet.dataset` attribute.
 */
export function createProcessorMetrics(meter: Meter): ProcessorMetrics {
  const frames = meter.createCounter("inlet.processor.frames", {
    description: "Frames handled",
    unit: "{frame}",
  });
  const counter = (name: string, description: string) =>
    meter.createCounter(`inlet.processor.events.${name}`, { description, unit: "{event}" });
  const eventsIn = counter("in", "Events read from INGEST");
  const eventsOut = counter("out", "Events published to PROCESSED");
  const filtered = counter("filtered", "Events dropped by a filter");
  const alerted = counter("alerted", "Alerts raised");
  const deadLettered = counter("dead_lettered", "Events dead-lettered by a failing transform");
  const duration = meter.createHistogram("inlet.processor.frame.duration", {
    description: "Time to process one frame, publish its outputs and collect their acks",
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
      filtered.add(counts.filtered, attrs);
      alerted.add(counts.alerted, attrs);
      deadLettered.add(counts.deadLettered, attrs);
      duration.record(seconds, attrs);
    },
  };
}
