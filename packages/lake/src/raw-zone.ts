import { randomBytes, randomUUID } from "node:crypto";
import { type FileHandle, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import avro from "avsc";
import type { AvroSchema } from "./avro-columns.js";
import { containerBlock, containerHeader, scanContainer } from "./avro-container.js";
import { ensureDir, renameDurable, syncDir } from "./durable-fs.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { rawPartitionDir } from "./paths.js";

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

/** Options of {@link RawZoneWriter.create}. */
export interface RawZoneWriterOptions {
  /** The lake's root directory; files go under `<lakeDir>/raw/<ds>/`. */
  readonly lakeDir: string;
  /** A file is closed once it reaches this many bytes; default 128 MiB. */
  readonly maxFileBytes?: number;
  /** A file is closed at the first flush after it is this old, ms; default 10 minutes. */
  readonly maxFileAgeMs?: number;
  /** Uncompressed bytes buffered per file before a block is written; default 1 MiB. */
  readonly blockBytes?: number;
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

// The fields before `event`: a record's encoding is its fields' encodings in order, so a raw
// record is this prefix followed by the payload bytes as they are, never decoded.
const PREFIX = avro.Type.forSchema({
  type: "record",
  name: "InletRawEventPrefix",
  fields: [
    { name: "_event_id", type: "string" },
    { name: "_ingested_at", type: "long" },
    { name: "_trace_id", type: "string" },
    { name: "_schema", type: "string" },
  ],
});

const IN_PROGRESS = ".inprogress";
const MS_PER_HOUR = 3_600_000;

interface OpenFile {
  readonly key: string;
  readonly path: string; // final name; the file is `${path}.inprogress` until closed
  readonly handle: FileHandle;
  readonly sync: Buffer;
  readonly createdAt: number;
  entryDurable: boolean; // the file's directory entry has been fsynced
  lastUsed: number;
  bytes: number;
  pending: Buffer[];
  pendingBytes: number;
  pendingCount: number;
  unsynced: boolean;
}

/**
 * Writes the raw zone: Avro object container files (deflate), one per dataset, schema id and
 * ingest hour at a time, at `raw/<ds>/ingest_date=YYYY-MM-DD/hour=HH/part-<uuid>.avro`. A file
 * being written is named `….avro.inprogress`; it is renamed once complete, so every `.avro` file
 * is a whole, valid container. Memory is bounded by `blockBytes` per open file. Operations are
 * serialized. After a failed operation, close the writer and start a new one: events not yet
 * flushed must be delivered again.
 */
export class RawZoneWriter {
  readonly #lakeDir: string;
  readonly #maxFileBytes: number;
  readonly #maxFileAgeMs: number;
  readonly #blockBytes: number;
  readonly #maxOpenFiles: number;
  readonly #recoverAfterMs: number;
  readonly #files = new Map<string, OpenFile>();
  readonly #schemas = new Map<string, string>(); // "<ds>\0<schema id>" → raw record schema JSON
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(options: RawZoneWriterOptions) {
    this.#lakeDir = options.lakeDir;
    this.#maxFileBytes = options.maxFileBytes ?? 128 * 1024 * 1024;
    this.#maxFileAgeMs = options.maxFileAgeMs ?? 10 * 60_000;
    this.#blockBytes = options.blockBytes ?? 1024 * 1024;
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
   * Buffers events of one dataset and schema; a full block is compressed and written at once.
   * `schema` is the dataset's Avro schema of `schemaId` (the payloads' writer schema). Not durable
   * until {@link flush} resolves.
   */
  append(dataset: string, schemaId: string, schema: AvroSchema, events: readonly RawEvent[]): Promise<void> {
    return this.#serialize(() => this.#append(dataset, schemaId, schema, events));
  }

  /** Writes every buffered event and fsyncs the files: resolves once all appended events are on disk. Closes files past their age. */
  flush(): Promise<void> {
    return this.#serialize(() => this.#flush());
  }

  /** Flushes and closes every file (renaming it to its final `.avro` name). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#serialize(async () => {
      for (const file of [...this.#files.values()]) await this.#closeFile(file);
    });
    this.#closed = true;
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
    const run = this.#queue.then(operation);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #append(
    dataset: string,
    schemaId: string,
    schema: AvroSchema,
    events: readonly RawEvent[],
  ): Promise<void> {
    const schemaJson = this.#recordSchema(dataset, schemaId, schema);
    for (const event of events) {
      const hour = Math.floor(event.ingestedAt / MS_PER_HOUR);
      const key = `${dataset}\0${schemaId}\0${hour}`;
      const file = this.#files.get(key) ?? (await this.#openFile(key, dataset, event.ingestedAt, schemaJson));
      let prefix: Buffer;
      try {
        prefix = PREFIX.toBuffer({
          _event_id: event.id,
          _ingested_at: event.ingestedAt,
          _trace_id: event.traceId,
          _schema: schemaId,
        });
      } catch (cause) {
        throw new LakeError(
          `dataset "${dataset}": event ${event.id} has invalid lineage`,
          LakeErrorCode.InvalidArgument,
          {
            cause,
          },
        );
      }
      file.pending.push(
        prefix,
        Buffer.from(event.payload.buffer, event.payload.byteOffset, event.payload.byteLength),
      );
      file.pendingBytes += prefix.length + event.payload.byteLength;
      file.pendingCount++;
      file.lastUsed = Date.now();
      if (file.pendingBytes >= this.#blockBytes) {
        await this.#writeBlock(file);
        if (file.bytes >= this.#maxFileBytes) await this.#closeFile(file);
      }
    }
  }

  async #flush(): Promise<void> {
    const now = Date.now();
    for (const file of [...this.#files.values()]) {
      if (
        file.bytes + file.pendingBytes >= this.#maxFileBytes ||
        now - file.createdAt >= this.#maxFileAgeMs
      ) {
        await this.#closeFile(file);
        continue;
      }
      await this.#writeBlock(file);
      await this.#syncFile(file);
    }
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
      bytes: 0,
      pending: [],
      pendingBytes: 0,
      pendingCount: 0,
      unsynced: true,
    };
    this.#files.set(key, file);
    await writeAt(handle, header, 0);
    file.bytes = header.length;
    return file;
  }

  async #writeBlock(file: OpenFile): Promise<void> {
    if (file.pendingCount === 0) return;
    const block = await containerBlock(file.pendingCount, file.pending, file.sync);
    await writeAt(file.handle, block, file.bytes);
    file.bytes += block.length;
    file.pending = [];
    file.pendingBytes = 0;
    file.pendingCount = 0;
    file.unsynced = true;
  }

  async #syncFile(file: OpenFile): Promise<void> {
    if (!file.unsynced) return;
    await file.handle.sync();
    file.unsynced = false;
    if (!file.entryDurable) {
      await syncDir(dirname(file.path));
      file.entryDurable = true;
    }
  }

  async #closeFile(file: OpenFile): Promise<void> {
    this.#files.delete(file.key);
    try {
      await this.#writeBlock(file);
      await this.#syncFile(file);
    } finally {
      await file.handle.close();
    }
    try {
      await renameDurable(`${file.path}${IN_PROGRESS}`, file.path);
    } catch (error) {
      // Another writer's recovery may have closed this file for us (it looked abandoned).
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || !(await exists(file.path))) throw error;
    }
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
      if (Date.now() - info.mtimeMs < this.#recoverAfterMs) continue;
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

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
