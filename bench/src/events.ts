import {
  createGenerator,
  DEMO_DATASETS,
  type DemoDataset,
  type DemoEvent,
  TimestampFormat,
} from "@inlet/demo";

/** The datasets the bench sends: the three demo datasets, in equal parts. */
export const BENCH_DATASETS: readonly DemoDataset[] = DEMO_DATASETS;

/** One NDJSON request body of one dataset, ready to send again and again. */
export interface Body {
  dataset: DemoDataset;
  data: Buffer;
  events: number;
}

/**
 * `n` demo events of `dataset` for schema `version` (timestamps as epoch ms, as most producers send
 * them), seeded so every run sends the same events.
 */
export function generateEvents(dataset: DemoDataset, n: number, seed: number, version = 1): DemoEvent[] {
  return createGenerator(dataset, { seed, timestamps: TimestampFormat.Millis, version }).batch(n);
}

/** `n` events of `dataset` as JSON lines. */
export function generateLines(dataset: DemoDataset, n: number, seed: number): string[] {
  return generateEvents(dataset, n, seed).map((e) => JSON.stringify(e));
}

/**
 * `perDataset` distinct NDJSON bodies of `eventsPerBody` events for each bench dataset, interleaved
 * (clicks, transactions, sensor_readings, clicks, …). The events carry no `_event_id`: the
 * collector gives each a fresh id, so sending a body again makes new rows.
 */
export function makeBodies(perDataset: number, eventsPerBody: number, seed: number): Body[] {
  const byDataset = BENCH_DATASETS.map((dataset, d) => {
    const lines = generateLines(dataset, perDataset * eventsPerBody, seed + d);
    return Array.from({ length: perDataset }, (_, i) => ({
      dataset,
      data: Buffer.from(lines.slice(i * eventsPerBody, (i + 1) * eventsPerBody).join("\n")),
      events: eventsPerBody,
    }));
  });
  const bodies: Body[] = [];
  for (let i = 0; i < perDataset; i++) for (const list of byDataset) bodies.push(list[i]!);
  return bodies;
}

/** Mean size of the bodies' events as JSON, in bytes (newlines included). */
export function meanEventBytes(bodies: readonly Body[]): number {
  let bytes = 0;
  let events = 0;
  for (const b of bodies) {
    bytes += b.data.byteLength + 1;
    events += b.events;
  }
  return events === 0 ? 0 : bytes / events;
}
