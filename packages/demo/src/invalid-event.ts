import { createGenerator, type DemoDataset, type DemoEvent } from "./generator.js";
import type { Rng } from "./rng.js";

/** The ways {@link invalidEvent} breaks an event. */
export const InvalidKind = {
  WrongType: "wrong_type",
  MissingField: "missing_field",
  BadEnum: "bad_enum",
  BadTimestamp: "bad_timestamp",
} as const;

/** An {@link InvalidKind} value. */
export type InvalidKind = (typeof InvalidKind)[keyof typeof InvalidKind];

/** A realistic bad event and the field a validator should blame. */
export interface InvalidEvent {
  event: DemoEvent;
  /** The field at fault (top-level field name). */
  field: string;
  kind: InvalidKind;
}

type Breakage = { kind: InvalidKind; field: string; value?: unknown };

// Mistakes producers really make: decimal commas, numbers as text, free-text enums, local dates.
const BREAKAGES: Record<DemoDataset, readonly Breakage[]> = {
  clicks: [
    { kind: InvalidKind.WrongType, field: "duration_ms", value: "1.2s" },
    { kind: InvalidKind.WrongType, field: "duration_ms", value: 1234.5 },
    { kind: InvalidKind.MissingField, field: "user_id" },
    { kind: InvalidKind.BadEnum, field: "device", value: "smartwatch" },
    { kind: InvalidKind.BadTimestamp, field: "ts", value: "31/12/2024 23:59" },
  ],
  transactions: [
    { kind: InvalidKind.WrongType, field: "amount", value: "12,5" },
    { kind: InvalidKind.WrongType, field: "is_test", value: "yes" },
    { kind: InvalidKind.MissingField, field: "currency" },
    { kind: InvalidKind.BadEnum, field: "status", value: "pending" },
    { kind: InvalidKind.BadTimestamp, field: "ts", value: "yesterday" },
  ],
  sensor_readings: [
    { kind: InvalidKind.WrongType, field: "temperature_c", value: "21,5" },
    { kind: InvalidKind.WrongType, field: "humidity_pct", value: null },
    { kind: InvalidKind.MissingField, field: "device_id" },
    { kind: InvalidKind.BadTimestamp, field: "ts", value: "2024-13-45T10:00:00Z" },
    { kind: InvalidKind.BadTimestamp, field: "ts", value: 1.7e12 + 0.5 },
  ],
};

/** A valid `dataset` event with one realistic mistake, drawn with `rng`, and the field to blame. */
export function invalidEvent(dataset: DemoDataset, rng: Rng, now: () => number = Date.now): InvalidEvent {
  const event = createGenerator(dataset, { seed: rng.int(0, 2 ** 31), now }).next();
  const breakage = rng.pick(BREAKAGES[dataset]);
  if (breakage.kind === InvalidKind.MissingField) delete event[breakage.field];
  else event[breakage.field] = breakage.value;
  return { event, field: breakage.field, kind: breakage.kind };
}
