import { type EventContext, eventTime } from "./event-time.js";
import { DEVICE_IDS, UNKNOWN_DEVICE_IDS } from "./reference-ids.js";

const FIRMWARE = ["2.3.0", "2.4.1", "2.4.2", "3.0.0-rc1"] as const;

/** Share of readings from devices not in the reference data (enrichment misses). */
export const UNKNOWN_DEVICE_SHARE = 0.02;
/** Share of readings with an implausible temperature (a failing sensor), below -30 °C or above 60 °C. */
export const TEMPERATURE_OUTLIER_SHARE = 0.005;

/** One reading of dataset `sensor_readings`, without the enrichment fields. */
export function makeSensorReading(ctx: EventContext): Record<string, unknown> {
  const { rng } = ctx;
  const unknown = rng.chance(UNKNOWN_DEVICE_SHARE);
  const device = unknown ? rng.pick(UNKNOWN_DEVICE_IDS) : rng.pick(DEVICE_IDS);
  // A device's number decides whether it runs on mains (no battery), so it stays the same per device.
  const mains = Number(device.slice(-1)) % 3 === 0;
  const temperature = rng.chance(TEMPERATURE_OUTLIER_SHARE)
    ? rng.pick([rng.float(-60, -30), rng.float(60, 125)])
    : rng.normal(21, 3);
  return {
    ts: eventTime(ctx),
    device_id: device,
    temperature_c: round2(temperature),
    humidity_pct: round2(Math.min(100, Math.max(0, rng.normal(45, 12)))),
    battery_pct: mains ? null : round2(rng.float(3, 100)),
    firmware: rng.pick(FIRMWARE),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
