import type { FileHandle } from "node:fs/promises";
import { promisify } from "node:util";
import { deflateRaw } from "node:zlib";
import avro from "avsc";

// Avro object container files (Avro 1.11 specification, "Object Container Files"), framed here
// rather than through avsc's BlockEncoder: the raw zone stores events whose Avro bytes already
// exist, and BlockEncoder only takes values to encode. avsc still encodes every header and count.

const HEADER = avro.Type.forSchema({
  type: "record",
  name: "org.apache.avro.file.Header",
  fields: [
    { name: "magic", type: { type: "fixed", name: "Magic", size: 4 } },
    { name: "meta", type: { type: "map", values: "bytes" } },
    { name: "sync", type: { type: "fixed", name: "Sync", size: 16 } },
  ],
});
const LONG = avro.Type.forSchema("long");
const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const deflate = promisify(deflateRaw);
// Raw events deflate to a quarter of their size or less: an output buffer of half the input (and
// this) holds nearly every block in one piece; a larger output takes another trip.
const OUTPUT_SLACK = 64 * 1024;

/** Bytes of an OCF sync marker. */
export const SYNC_BYTES = 16;

/** The file header: magic, metadata (`avro.schema`, `avro.codec` = deflate) and the sync marker. */
export function containerHeader(schemaJson: string, sync: Buffer): Buffer {
  return HEADER.toBuffer({
    magic: MAGIC,
    meta: { "avro.schema": Buffer.from(schemaJson), "avro.codec": Buffer.from("deflate") },
    sync,
  });
}

/**
 * One data block: object count, size, the encoded objects (`objects`, concatenated) deflated at
 * zlib `level` (0–9) on libuv's thread pool, the sync marker. The output buffer is sized for the
 * whole result, so the deflate is a trip or two to the pool rather than one per 16 kB of output
 * (each trip waits for the event loop, and a busy loop turned a block's milliseconds into seconds).
 */
export async function containerBlock(
  count: number,
  objects: Buffer,
  sync: Buffer,
  level: number,
): Promise<Buffer> {
  const data = await deflate(objects, { level, chunkSize: Math.ceil(objects.length / 2) + OUTPUT_SLACK });
  return Buffer.concat([LONG.toBuffer(count), LONG.toBuffer(data.length), data, sync]);
}

/** Where a container file's last complete block ends and how many blocks precede it; undefined when the header itself is damaged. */
export async function scanContainer(
  handle: FileHandle,
): Promise<{ end: number; blocks: number } | undefined> {
  const { size } = await handle.stat();
  let header: { value: { magic: Buffer; sync: Buffer }; offset: number } | undefined;
  for (let length = Math.min(size, 64 * 1024); ; length = Math.min(size, length * 2)) {
    const buffer = await readAt(handle, 0, length);
    const decoded = HEADER.decode(buffer, 0);
    if (decoded.offset >= 0) {
      header = decoded;
      break;
    }
    if (length === size) return undefined;
  }
  if (!header.value.magic.equals(MAGIC)) return undefined;
  const sync = header.value.sync;
  let position = header.offset;
  let blocks = 0;
  while (position < size) {
    const prefix = await readAt(handle, position, Math.min(20, size - position));
    const count = LONG.decode(prefix, 0);
    const length = count.offset < 0 ? count : LONG.decode(prefix, count.offset);
    if (length.offset < 0 || length.value < 0) break;
    const marker = position + length.offset + length.value;
    if (marker + SYNC_BYTES > size || !(await readAt(handle, marker, SYNC_BYTES)).equals(sync)) break;
    position = marker + SYNC_BYTES;
    blocks++;
  }
  return { end: position, blocks };
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}
