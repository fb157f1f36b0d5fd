/** Number of merchants in config/reference/merchants.json (`m-0001` … `m-0050`). */
export const MERCHANT_COUNT = 50;

/** Number of devices in config/reference/devices.json (`dev-0001` … `dev-0200`). */
export const DEVICE_COUNT = 200;

/** The merchant id with number `n` (1-based), as in the reference file: `m-0007`. */
export function merchantId(n: number): string {
  return `m-${String(n).padStart(4, "0")}`;
}

/** The device id with number `n` (1-based), as in the reference file: `dev-0042`. */
export function deviceId(n: number): string {
  return `dev-${String(n).padStart(4, "0")}`;
}

/** Every merchant id of the reference file. */
export const MERCHANT_IDS: readonly string[] = Array.from({ length: MERCHANT_COUNT }, (_, i) =>
  merchantId(i + 1),
);

/** Every device id of the reference file. */
export const DEVICE_IDS: readonly string[] = Array.from({ length: DEVICE_COUNT }, (_, i) => deviceId(i + 1));

/** Merchant ids not in the reference file (`m-99990` … `m-99999`), so enrichment misses happen. */
export const UNKNOWN_MERCHANT_IDS: readonly string[] = Array.from({ length: 10 }, (_, i) => `m-9999${i}`);

/** Device ids not in the reference file (`dev-99990` … `dev-99999`). */
export const UNKNOWN_DEVICE_IDS: readonly string[] = Array.from({ length: 10 }, (_, i) => `dev-9999${i}`);
