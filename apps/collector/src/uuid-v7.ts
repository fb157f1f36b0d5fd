import { randomFillSync } from "node:crypto";

/** Random bytes drawn from the OS in one call: 6,553 ids' worth, instead of one call per id. */
const POOL_BYTES = 64 * 1024;
/** Random bytes one id takes: 4 seed a new millisecond's counter, 6 fill the id's random tail. */
const ID_BYTES = 10;

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const DIGIT = "0123456789abcdef";

/**
 * Time-ordered UUIDv7 ids (RFC 9562): a 48-bit Unix millisecond timestamp, then a 32-bit counter
 * (seeded at random each new millisecond, with room for 2^31 ids in it) and 42 random bits. Ids from
 * one generator always sort in the order they were made, even when the clock stands still or steps
 * back. Random bits come from a pooled buffer filled by `crypto.randomFillSync`.
 */
export class UuidV7Generator {
  readonly #now: () => number;
  readonly #pool = Buffer.allocUnsafe(POOL_BYTES);
  #at = POOL_BYTES;
  #ms = Number.NEGATIVE_INFINITY;
  #seq = 0;
  /** The id's first 14 characters (timestamp and version), the same for every id of a millisecond. */
  #head = "";

  /** `now`: the clock, in Unix ms (default `Date.now`). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A new id, e.g. `019ab2c4-5e6f-7a12-b345-6789abcdef01`. */
  next(): string {
    if (this.#at + ID_BYTES > POOL_BYTES) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    const random = this.#pool;
    const at = this.#at;
    this.#at += ID_BYTES;

    const now = this.#now();
    if (now > this.#ms) {
      this.#setMs(now);
      // Top bit clear: at least 2^31 more ids fit in this millisecond before the counter wraps.
      this.#seq = random.readUInt32BE(at) & 0x7fffffff;
    } else {
      this.#seq = (this.#seq + 1) >>> 0;
      // The counter wrapped: borrow the next millisecond, so ids keep increasing.
      if (this.#seq === 0) this.#setMs(this.#ms + 1);
    }
    const seq = this.#seq;
    return (
      this.#head +
      DIGIT[seq >>> 28] +
      HEX[(seq >>> 20) & 0xff] +
      "-" +
      HEX[0x80 | ((seq >>> 14) & 0x3f)] +
      HEX[(seq >>> 6) & 0xff] +
      "-" +
      HEX[((seq << 2) & 0xfc) | (random[at + 4]! & 0x03)] +
      HEX[random[at + 5]!] +
      HEX[random[at + 6]!] +
      HEX[random[at + 7]!] +
      HEX[random[at + 8]!] +
      HEX[random[at + 9]!]
    );
  }

  /** Moves to millisecond `ms` and renders its timestamp part, up to the version digit. */
  #setMs(ms: number): void {
    this.#ms = ms;
    this.#head =
      HEX[Math.floor(ms / 0x10000000000) & 0xff]! +
      HEX[Math.floor(ms / 0x100000000) & 0xff] +
      HEX[Math.floor(ms / 0x1000000) & 0xff] +
      HEX[Math.floor(ms / 0x10000) & 0xff] +
      "-" +
      HEX[Math.floor(ms / 0x100) & 0xff] +
      HEX[ms & 0xff] +
      "-7";
  }
}
