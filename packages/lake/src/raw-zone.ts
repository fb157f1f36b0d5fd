import { randomBytes, randomUUID } from "node:crypto";
import { type FileHandle, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import avro from "avsc";
import type { AvroSchema } from "./avro-columns.js";
import { containerBlock, containerHeader, scanContainer } from "./avro-container.js";
import { ensureDir, renameDurable, syncDir } from "./durable-fs.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { rawPartitionDir } from "./paths.js";
import { Serial } from "./serial.js";

/** One accepted event as the raw zone stores it. */
export interface RawEvent {
  readonly id: string;
  /** ms since the epoch; picks the `ingest_date=…/hour=…` directory (UTC). */
  readonly ingestedAt: number;
  /** 32 hex characters, or "" when the event carried no trace. */
  readonly traceId: string;
  /** The event's Avro binary encoding under its schema id. */
  readonly payload: Uint8Array;
}

/**
 * The events of one frame as byte ranges of one buffer, for {@link RawZoneWriter.appendFrame}: no
 * object, string or view per event.
 */
export interface RawFrameEvents {
  /** The buffer every range points into. */
  readonly bytes: Buffer;
  readonly count: number;
  /**
   * Five numbers per event, in order: id start, id end (UTF-8 bytes), ingestedAt (ms since the
   * epoch), payload start, payload end.
   */
  readonly ranges: Float64Array;
  /** The trace of every event of the frame: 32 hex characters, or "". */
  readonly traceId: string;
}

/** Numbers per event in {@link RawFrameEvents.ranges}. */
export const RAW_RANGE_FIELDS = 5;

/** Options of {@link RawZoneWriter.create}. */
export interface RawZoneWriterOptions {
  /** The lake's root directory; files go under `<lakeDir>/raw/<ds>/`. */
  readonly lakeDir: string;
  /** A file is closed once it reaches this many bytes; default 128 MiB. */
  readonly maxFileBytes?: number;
  /** A file is closed at the first flush after it is this old, ms; default 10 minutes. */
  readonly maxFileAgeMs?: number;
  /** Uncompressed bytes buffered per file before a block is compressed and written; default 1 MiB. */
  readonly blockBytes?: number;
  /** zlib level of the blocks' deflate, 0 (stored) to 9; default 1 (fastest: about 5% larger than 6, half the CPU). */
  readonly compressionLevel?: number;
  /** Files open at once (one per dataset, schema and hour); the least recently used is closed past it. Default 16. */
  readonly maxOpenFiles?: number;
  /**
   * An `.inprogress` file untouched this long, ms, belongs to a writer that died: create() trims
   * it to its last complete block and closes it. Default twice `maxFileAgeMs`.
   */
  readonly recoverAfterMs?: number;
}

/** The record every raw file holds: lineage, schema id and the event (docs/contracts.md, The lake). */
export function rawRecordSchema(eventSchema: AvroSchema): AvroSchema {
  return {
    type: "record",
    name: "InletRawEvent",
    doc: "An event as the collector accepted it, with its lineage.",
    fields: [
      { name: "_event_id", type: "string" },
      { name: "_ingested_at", type: { type: "long", logicalType: "timestamp-millis" } },
      { name: "_trace_id", type: "string" },
      { name: "_schema", type: "string" },
      { name: "event", type: eventSchema },
    ],
  } as AvroSchema;
}

// A raw record is its lineage fields (`_event_id`, `_ingested_at`, `_trace_id`, `_schema`) followed
// by the event: a record's encoding is its fields' encodings in order, so the payload bytes are
// copied as they are, never decoded. The lineage is encoded here, straight into the block.

/** Most bytes an Avro long takes (zig-zag varint of a safe integer). */
const MAX_LONG_BYTES = 10;

const IN_PROGRESS = ".inprogress";
// Room past `blockBytes` in a block buffer, so a block rarely ends short of it.
const BLOCK_SLACK = 64 * 1024;
// Blocks of one file waiting to be compressed and written before appending waits for them.
const MAX_BLOCKS_IN_FLIGHT = 2;
const MS_PER_HOUR = 3_600_000;

interface OpenFile {
  readonly key: string;
  readonly path: string; // final name; the file is `${path}.inprogress` until closed
  readonly handle: FileHandle;
  readonly sync: Buffer;
  readonly createdAt: number;
  entryDurable: boolean; // the file's directory entry has been fsynced
  lastUsed: number;
  bytes: number; // written so far: where the next block goes
  block: Buffer; // the block being filled: encoded records, uncompressed
  blockLength: number;
  blockCount: number;
  inFlight: number; // blocks sealed, not yet written
  spares: Buffer[]; // block buffers whose compression is done, to fill again
  writing: Promise<void>; // the sealed blocks' writes, in order; rejected for good after a failed write
  syncing: Promise<unknown>; // the fsyncs started on this file
  dirty: boolean; // a block was sealed since the last flush began
}

/**
 * Writes the raw zone: Avro object container files (deflate), one per dataset, schema id and
 * ingest hour at a time, at `raw/<ds>/ingest_date=YYYY-MM-DD/hour=HH/part-<uuid>.avro`. A file
 * being written is named `….avro.inprogress`; it is renamed once complete, so every `.avro` file
 * is a whole, valid container.
 *
 * Records are encoded straight into a block; a full block is compressed on libuv's thread pool
 * and written in the background while the next fills, so appending costs the event loop little
 * more than the copy. A flush hands every open block off at once and resolves once they are
 * written and fsynced; appends go on meanwhile. Memory is bounded by about three blocks per open
 * file. After a failed operation, close the writer and start a new one: events not yet flushed
 * must be delivered again.
 */
export class RawZoneWriter {
  readonly #lakeDir: string;
  readonly #maxFileBytes: number;
  readonly #maxFileAgeMs: number;
  readonly #blockBytes: number;
  readonly #level: number;
  readonly #maxOpenFiles: number;
  readonly #recoverAfterMs: number;
  readonly #files = new Map<string, OpenFile>();
  readonly #schemas = new Map<string, string>(); // "<ds>\0<schema id>" → raw record schema JSON
  readonly #background = new Set<Promise<unknown>>(); // flushes and file closes under way
  readonly #serial = new Serial();
  #closed = false;

  private constructor(options: RawZoneWriterOptions) {
    this.#lakeDir = options.lakeDir;
    this.#maxFileBytes = options.maxFileBytes ?? 128 * 1024 * 1024;
    this.#maxFileAgeMs = options.maxFileAgeMs ?? 10 * 60_000;
    this.#blockBytes = options.blockBytes ?? 1024 * 1024;
    this.#level = options.compressionLevel ?? 1;
    this.#maxOpenFiles = options.maxOpenFiles ?? 16;
    this.#recoverAfterMs = options.recoverAfterMs ?? 2 * this.#maxFileAgeMs;
  }

  /** Starts a writer, first closing `.inprogress` files left by writers that died (see `recoverAfterMs`). */
  static async create(options: RawZoneWriterOptions): Promise<RawZoneWriter> {
    const writer = new RawZoneWriter(options);
    await writer.recoverAbandoned();
    return writer;
  }

  /**
   * Buffers events of one dataset and schema; a full block is compressed and written in the
   * background. `schema` is the dataset's Avro schema of `schemaId` (the payloads' writer schema).
   * Not durable until a later {@link flush} resolves.
   */
  append(dataset: string, schemaId: string, schema: AvroSchema, events: readonly RawEvent[]): Promise<void> {
    return this.#serialize(async () => {
      // Runs of events with one trace, as frames.
      for (let from = 0; from < events.length; ) {
        let to = from + 1;
        while (to < events.length && events[to]!.traceId === events[from]!.traceId) to++;
        await this.#appendFrame(dataset, schemaId, schema, asFrame(events.slice(from, to)));
        from = to;
      }
    });
  }

  /** {@link append} of one frame's events, read in place from its bytes. */
  appendFrame(dataset: string, schemaId: string, schema: AvroSchema, frame: RawFrameEvents): Promise<void> {
    return this.#serialize(() => this.#appendFrame(dataset, schemaId, schema, frame));
  }

  /**
   * Resolves once every event appended before the call is written and fsynced. Appends may go on
   * while it waits for the disk. Closes files past their age or size.
   */
  async flush(): Promise<void> {
    const { durable } = await this.#serialize(async () => ({ durable: this.#handOff() }));
    await durable;
  }

  /** Flushes and closes every file (renaming it to its final `.avro` name). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#serialize(async () => {
        // Every file is closed, even after one fails; the first failure is reported.
        const closing = [...this.#files.values()].map((f) => this.#closeFile(f));
        const results = await Promise.allSettled([...this.#background, ...closing]);
        const failed = results.find((r) => r.status === "rejected");
        if (failed !== undefined) throw failed.reason;
      });
    } finally {
      this.#closed = true;
    }
  }

  /**
   * Closes `.inprogress` files under `raw/` not modified for `recoverAfterMs` and not open here:
   * each is trimmed to its last complete block and renamed, or removed when it holds no block.
   * Resolves to the number of files recovered.
   */
  recoverAbandoned(): Promise<number> {
    return this.#serialize(() => this.#recoverAbandoned());
  }

  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(new LakeError("raw zone writer is closed", LakeErrorCode.InvalidArgument));
    return this.#serial.run(operation);
  }

  // Keeps `work` in sight until it settles, so close() can wait for it.
  #track<T>(work: Promise<T>): Promise<T> {
    this.#background.add(work);
    const forget = (): void => {
      this.#background.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  async #appendFrame(
    dataset: string,
    schemaId: string,
    schema: AvroSchema,
    frame: RawFrameEvents,
  ): Promise<void> {
    const schemaJson = this.#recordSchema(dataset, schemaId, schema);
    const schemaBytes = Buffer.from(schemaId);
    const traceBytes = Buffer.from(frame.traceId);
    const { bytes, ranges } = frame;
    // The file of the hour of the previous event: most frames fall in one hour.
    let file: OpenFile | undefined;
    let fileHour = Number.NaN;
    for (let i = 0, r = 0; i < frame.count; i++, r += RAW_RANGE_FIELDS) {
      const idStart = ranges[r]!;
      const idEnd = ranges[r + 1]!;
      const ingestedAt = ranges[r + 2]!;
      const start = ranges[r + 3]!;
      const end = ranges[r + 4]!;
      if (!Number.isSafeInteger(ingestedAt)) {
        throw new LakeError(
          `dataset "${dataset}": event ${bytes.toString("utf8", idStart, idEnd)} has invalid lineage (ingestedAt ${ingestedAt})`,
          LakeErrorCode.InvalidArgument,
        );
      }
      const hour = Math.floor(ingestedAt / MS_PER_HOUR);
      if (file === undefined || hour !== fileHour || this.#files.get(file.key) !== file) {
        const key = `${dataset}\0${schemaId}\0${hour}`;
        file = this.#files.get(key) ?? (await this.#openFile(key, dataset, ingestedAt, schemaJson));
        fileHour = hour;
      }
      const idBytes = idEnd - idStart;
      const size = 4 * MAX_LONG_BYTES + idBytes + traceBytes.length + schemaBytes.length + (end - start);
      if (file.blockLength + size > file.block.length) {
        if (file.blockCount > 0) await this.#sealFull(file);
        if (size > file.block.length) file.block = Buffer.allocUnsafe(size); // one record larger than a block
      }
      const { block } = file;
      let at = file.blockLength;
      at = writeLong(block, at, idBytes);
      at += bytes.copy(block, at, idStart, idEnd);
      at = writeLong(block, at, ingestedAt);
      at = writeLong(block, at, traceBytes.length);
      block.set(traceBytes, at);
      at += traceBytes.length;
      at = writeLong(block, at, schemaBytes.length);
      block.set(schemaBytes, at);
      at += schemaBytes.length;
      at += bytes.copy(block, at, start, end);
      file.blockLength = at;
      file.blockCount++;
      file.lastUsed = Date.now();
      if (file.blockLength >= this.#blockBytes) {
        await this.#sealFull(file);
        if (file.bytes >= this.#maxFileBytes) await this.#closeFile(file);
      }
    }
  }

  // Seals a full block once fewer than MAX_BLOCKS_IN_FLIGHT of the file's blocks wait for the disk.
  async #sealFull(file: OpenFile): Promise<void> {
    if (file.inFlight >= MAX_BLOCKS_IN_FLIGHT) await file.writing;
    this.#seal(file);
  }

  // Hands every open block to the background at once, without waiting; the result settles when
  // they are written and their files fsynced. Files past their age or size are closed.
  #handOff(): Promise<void> {
    const now = Date.now();
    const work: Promise<void>[] = [];
    for (const file of [...this.#files.values()]) {
      if (file.bytes + file.blockLength >= this.#maxFileBytes || now - file.createdAt >= this.#maxFileAgeMs) {
        work.push(this.#closeFile(file));
        continue;
      }
      this.#seal(file);
      if (!file.dirty) continue;
      file.dirty = false;
      work.push(this.#syncAfter(file, file.writing));
    }
    return this.#track(Promise.all(work).then(() => {}));
  }

  // Validates the raw record schema once per dataset and schema id.
  #recordSchema(dataset: string, schemaId: string, schema: AvroSchema): string {
    const key = `${dataset}\0${schemaId}`;
    let json = this.#schemas.get(key);
    if (json === undefined) {
      const record = rawRecordSchema(schema);
      try {
        avro.Type.forSchema(record);
      } catch (cause) {
        throw new LakeError(
          `dataset "${dataset}": schema ${schemaId} cannot be stored`,
          LakeErrorCode.InvalidArgument,
          {
            cause,
          },
        );
      }
      json = JSON.stringify(record);
      this.#schemas.set(key, json);
    }
    return json;
  }

  async #openFile(key: string, dataset: string, ingestedAt: number, schemaJson: string): Promise<OpenFile> {
    if (this.#files.size >= this.#maxOpenFiles) {
      const idle = [...this.#files.values()].reduce((a, b) => (a.lastUsed <= b.lastUsed ? a : b));
      await this.#closeFile(idle);
    }
    const dir = rawPartitionDir(this.#lakeDir, dataset, ingestedAt);
    await ensureDir(dir);
    const path = join(dir, `part-${randomUUID()}.avro`);
    const handle = await open(`${path}${IN_PROGRESS}`, "wx");
    const sync = randomBytes(16);
    const header = containerHeader(schemaJson, sync);
    const file: OpenFile = {
      key,
      path,
      handle,
      sync,
      createdAt: Date.now(),
      entryDurable: false,
      lastUsed: Date.now(),
      bytes: header.length,
      block: Buffer.allocUnsafe(this.#blockBytes + BLOCK_SLACK),
      blockLength: 0,
      blockCount: 0,
      inFlight: 0,
      spares: [],
      writing: writeAt(handle, header, 0),
      syncing: Promise.resolve(),
      dirty: true,
    };
    file.writing.catch(() => {}); // reported by whoever awaits it next
    this.#files.set(key, file);
    return file;
  }

  // Hands the block being filled to the background: compressed at once on the thread pool,
  // written after the file's earlier blocks. A failed write fails every later one of the file.
  #seal(file: OpenFile): void {
    if (file.blockCount === 0) return;
    const sealed = file.block;
    const compressed = containerBlock(
      file.blockCount,
      sealed.subarray(0, file.blockLength),
      file.sync,
      this.#level,
    );
    // Block buffers are reused rather than left to the garbage collector: in a process with a
    // large heap, megabytes of buffers churned per second set off costly full collections.
    const blockSize = this.#blockBytes + BLOCK_SLACK;
    compressed.then(
      () => {
        if (sealed.length === blockSize) file.spares.push(sealed);
      },
      () => {}, // reported through `writing`
    );
    file.block = file.spares.pop() ?? Buffer.allocUnsafe(blockSize);
    file.blockLength = 0;
    file.blockCount = 0;
    file.dirty = true;
    file.inFlight++;
    file.writing = file.writing
      .then(async () => {
        const block = await compressed;
        await writeAt(file.handle, block, file.bytes);
        file.bytes += block.length;
      })
      .finally(() => {
        file.inFlight--;
      });
    file.writing.catch(() => {}); // reported by whoever awaits it next
  }

  // Fsyncs `file` once `written` (its blocks so far) is on the file, and its directory entry the
  // first time.
  #syncAfter(file: OpenFile, written: Promise<void>): Promise<void> {
    const synced = (async () => {
      await written;
      await file.handle.sync();
      if (!file.entryDurable) {
        await syncDir(dirname(file.path));
        file.entryDurable = true;
      }
    })();
    file.syncing = Promise.allSettled([file.syncing, synced]);
    return synced;
  }

  // Stops appending to `file`, writes and fsyncs what it holds, closes it and gives it its final name.
  #closeFile(file: OpenFile): Promise<void> {
    this.#files.delete(file.key);
    this.#seal(file);
    return this.#track(
      (async () => {
        try {
          await this.#syncAfter(file, file.writing);
        } finally {
          await Promise.allSettled([file.writing, file.syncing]); // nothing may use the handle after close
          await file.handle.close();
        }
        try {
          await renameDurable(`${file.path}${IN_PROGRESS}`, file.path);
        } catch (error) {
          // Another writer's recovery may have closed this file for us (it looked abandoned).
          if ((error as NodeJS.ErrnoException).code !== "ENOENT" || !(await exists(file.path))) throw error;
        }
      })(),
    );
  }

  async #recoverAbandoned(): Promise<number> {
    const root = join(this.#lakeDir, "raw");
    let names: string[];
    try {
      names = await readdir(root, { recursive: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw error;
    }
    const open = new Set([...this.#files.values()].map((f) => `${f.path}${IN_PROGRESS}`));
    let recovered = 0;
    for (const name of names) {
      if (!name.endsWith(`.avro${IN_PROGRESS}`)) continue;
      const path = join(root, name);
      if (open.has(path)) continue;
      const info = await stat(path);
      // mtime has sub-millisecond precision, the clock here does not: compare whole milliseconds.
      if (Date.now() - Math.floor(info.mtimeMs) < this.#recoverAfterMs) continue;
      if (await recoverFile(path)) recovered++;
    }
    return recovered;
  }
}

// Trims an abandoned file to its last complete block and gives it its final name; a file with no
// complete block is removed. True when a file was kept.
async function recoverFile(path: string): Promise<boolean> {
  const handle = await open(path, "r+");
  let blocks = 0;
  try {
    const scan = await scanContainer(handle);
    if (scan !== undefined && scan.blocks > 0) {
      blocks = scan.blocks;
      await handle.truncate(scan.end);
      await handle.sync();
    }
  } finally {
    await handle.close();
  }
  if (blocks === 0) {
    await rm(path, { force: true });
    await syncDir(dirname(path));
    return false;
  }
  await rename(path, path.slice(0, -IN_PROGRESS.length));
  await syncDir(dirname(path));
  return true;
}

async function writeAt(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, position + offset);
    offset += bytesWritten;
  }
}

// Writes `value` as an Avro long (zig-zag varint) at `at`; returns where it ends. Exact for safe
// integers (arithmetic, not 32-bit bitwise operators).
function writeLong(buffer: Buffer, at: number, value: number): number {
  let n = value >= 0 ? value * 2 : -value * 2 - 1;
  let i = at;
  while (n >= 0x80) {
    buffer[i++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buffer[i++] = n;
  return i;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

// Events (one trace) as a frame: their ids and payloads copied into one buffer.
function asFrame(events: readonly RawEvent[]): RawFrameEvents {
  let size = 0;
  for (const e of events) size += Buffer.byteLength(e.id) + e.payload.byteLength;
  const bytes = Buffer.allocUnsafe(size);
  const ranges = new Float64Array(events.length * RAW_RANGE_FIELDS);
  let at = 0;
  events.forEach((e, i) => {
    const r = i * RAW_RANGE_FIELDS;
    ranges[r] = at;
    at += bytes.write(e.id, at, "utf8");
    ranges[r + 1] = at;
    ranges[r + 2] = e.ingestedAt;
    ranges[r + 3] = at;
    bytes.set(e.payload, at);
    at += e.payload.byteLength;
    ranges[r + 4] = at;
  });
  return { bytes, count: events.length, ranges, traceId: events[0]?.traceId ?? "" };
}
