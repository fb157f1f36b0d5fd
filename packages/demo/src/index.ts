export { BOT_SHARE } from "./clicks.js";
export { TimestampFormat } from "./event-time.js";
export type { DemoDataset, DemoEvent, EventGenerator, GeneratorOptions } from "./generator.js";
export { createGenerator, DEMO_DATASETS, isDemoDataset } from "./generator.js";
export type { InvalidEvent } from "./invalid-event.js";
export { InvalidKind, invalidEvent } from "./invalid-event.js";
export {
  DEVICE_COUNT,
  DEVICE_IDS,
  deviceId,
  MERCHANT_COUNT,
  MERCHANT_IDS,
  merchantId,
  UNKNOWN_DEVICE_IDS,
  UNKNOWN_MERCHANT_IDS,
} from "./reference-ids.js";
export type { Rng } from "./rng.js";
export { createRng } from "./rng.js";
export { TEMPERATURE_OUTLIER_SHARE, UNKNOWN_DEVICE_SHARE } from "./sensor-readings.js";
export { LARGE_AMOUNT_SHARE, TEST_PAYMENT_SHARE, UNKNOWN_MERCHANT_SHARE } from "./transactions.js";
