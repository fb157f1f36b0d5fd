/**
 * Bytes appended back to back into one buffer, grown by doubling (so bounded by what is appended).
 * Setting {@link used} back gives the tail up; the bytes before it stay where they are.
 */
export class ByteArena {
  /** The buffer; replaced by a larger copy when an append does not fit. */
  bytes: Buffer;
  /** Bytes in use, from the start of {@link bytes}. */
  used = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafe(Math.max(1024, size));
  }

  /** Appends `length` bytes at `start` of `source`; returns where they begin. */
  appendBytes(source: Uint8Array, start: number, length: number): number {
    const at = this.#reserve(length);
    const bytes = this.bytes;
    if (length <= 64) for (let k = 0; k < length; k++) bytes[at + k] = source[start + k]!;
    else bytes.set(source.subarray(start, start + length), at);
    this.used = at + length;
    return at;
  }

  /**
   * Appends `s` as UTF-8 (a lone surrogate as U+FFFD); returns where it begins, its length being
   * {@link used} minus that.
   */
  appendString(s: string): number {
    const at = this.#reserve(s.length * 3);
    const bytes = this.bytes;
    let n = 0;
    // ASCII, the usual case, without a native call; anything else through Buffer's encoder.
    for (; n < s.length; n++) {
      const c = s.charCodeAt(n);
      if (c >= 0x80) break;
      bytes[at + n] = c;
    }
    if (n < s.length) n = bytes.write(s, at, s.length * 3, "utf8");
    this.used = at + n;
    return at;
  }

  // Room for `length` more bytes; returns where they go.
  #reserve(length: number): number {
    const needed = this.used + length;
    if (needed > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    return this.used;
  }
}
