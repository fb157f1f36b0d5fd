import { randomBytes } from "node:crypto";

let counter = 0;

/**
 * A name unique to this call, usable as a stream, consumer, bucket name and a subject token:
 * `<prefix>_<base36 counter><hex>`, e.g. `t_3a1f9c2`. Tests use it so many share one server.
 */
export function uniqueName(prefix = "t"): string {
  counter += 1;
  return `${prefix}_${counter.toString(36)}${randomBytes(4).toString("hex")}`;
}
