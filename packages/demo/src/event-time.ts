import type { Rng } from "./rng.js";

/** How generated events carry their `ts`: epoch ms, ISO-8601 strings, or either at random. */
export const TimestampFormat = { Millis: "ms", Iso: "iso", Mixed: "mixed" } as const;

/** A {@link TimestampFormat} value. */
export type TimestampFormat = (typeof TimestampFormat)[keyof typeof TimestampFormat];

/** What every dataset's event maker needs. */
export interface EventContext {
  rng: Rng;
  /** The clock events are stamped from, in ms since the epoch. */
  now: () => number;
  timestamps: TimestampFormat;
  /** Schema version to produce events for (only clicks has a v2, which adds `campaign`). */
  version: number;
}

/**
 * An event time shortly before now (0–2 s), or for 1% of events up to 2 hours late, so late data
 * lands in older partitions. Returned as ms or an ISO-8601 string per the context's format.
 */
export function eventTime(ctx: EventContext): number | string {
  const lateness = ctx.rng.chance(0.01) ? ctx.rng.int(60_000, 7_200_000) : ctx.rng.int(0, 2_000);
  const ms = Math.floor(ctx.now()) - lateness;
  const iso =
    ctx.timestamps === TimestampFormat.Iso ||
    (ctx.timestamps === TimestampFormat.Mixed && ctx.rng.chance(0.5));
  return iso ? new Date(ms).toISOString() : ms;
}
