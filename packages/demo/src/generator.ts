import { makeClick } from "./clicks.js";
import { type EventContext, TimestampFormat } from "./event-time.js";
import { createRng } from "./rng.js";
import { makeSensorReading } from "./sensor-readings.js";
import { makeTransaction } from "./transactions.js";

/** The demo datasets, as named in config/datasets. */
export const DEMO_DATASETS = ["clicks", "transactions", "sensor_readings"] as const;

/** One of {@link DEMO_DATASETS}. */
export type DemoDataset = (typeof DEMO_DATASETS)[number];

/** A plain JSON event, as a producer would send it. */
export type DemoEvent = Record<string, unknown>;

/** Options of {@link createGenerator}. */
export interface GeneratorOptions {
  /** Seed of the generator: the same seed (and clock) gives the same events. Default 1. */
  seed?: number;
  /** Clock for event times, ms since the epoch (default `Date.now`); fix it for repeatable output. */
  now?: () => number;
  /** How `ts` is written: `ms`, `iso` or `mixed` (default, half each). */
  timestamps?: TimestampFormat;
  /** Schema version to produce for (default 1; clicks v2 adds `campaign`). */
  version?: number;
}

/** An endless, seeded stream of one dataset's events. */
export interface EventGenerator {
  /** The next event. */
  next(): DemoEvent;
  /** The next `n` events. */
  batch(n: number): DemoEvent[];
}

const MAKERS: Record<DemoDataset, (ctx: EventContext) => DemoEvent> = {
  clicks: makeClick,
  transactions: makeTransaction,
  sensor_readings: makeSensorReading,
};

/** Whether `name` is one of {@link DEMO_DATASETS}. */
export function isDemoDataset(name: string): name is DemoDataset {
  return (DEMO_DATASETS as readonly string[]).includes(name);
}

/** A deterministic generator of `dataset` events (about 150–300 bytes each as JSON). */
export function createGenerator(dataset: DemoDataset, options: GeneratorOptions = {}): EventGenerator {
  if (!isDemoDataset(dataset)) throw new RangeError(`unknown demo dataset ${JSON.stringify(dataset)}`);
  const make = MAKERS[dataset];
  const ctx: EventContext = {
    rng: createRng(options.seed ?? 1),
    now: options.now ?? Date.now,
    timestamps: options.timestamps ?? TimestampFormat.Mixed,
    version: options.version ?? 1,
  };
  return {
    next: () => make(ctx),
    batch: (n) => Array.from({ length: n }, () => make(ctx)),
  };
}
