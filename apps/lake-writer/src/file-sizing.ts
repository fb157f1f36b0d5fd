import type { DeltaAddFile } from "@inlet/lake";

/**
 * Rows per partition: the UTC day of the event time (days since the epoch; null for none) → rows.
 * A frame not decoded yet counts all its events under null: a bound on any one partition's rows.
 */
export type PartitionRows = Map<number | null, number>;

/** Adds `more` into `into`. */
export function addPartitionRows(into: PartitionRows, more: PartitionRows): void {
  for (const [key, rows] of more) into.set(key, (into.get(key) ?? 0) + rows);
}

/**
 * Keeps the curated zone's data files near a target size. A flush writes one file per partition,
 * so the file size is the partition's rows times the bytes a row takes in ZSTD Parquet: learnt
 * from the table's own files (their sizes and row counts), or, before the first, taken as the Avro
 * payload bytes per row (larger than Parquet's, so the first files err small).
 */
export class FileSizer {
  /** The target size of a data file, bytes. */
  readonly targetBytes: number;
  #bytesPerRow: number | undefined;

  constructor(targetBytes: number) {
    this.targetBytes = targetBytes;
  }

  /** Learns the Parquet bytes per row from a table's live files (those with row counts). */
  learn(files: readonly DeltaAddFile[] | undefined): void {
    let bytes = 0;
    let rows = 0;
    for (const file of files ?? []) {
      const records = file.stats?.numRecords;
      if (records === undefined || records === 0) continue;
      bytes += file.size;
      rows += records;
    }
    if (rows > 0) this.#bytesPerRow = bytes / rows;
  }

  /** Rows of one partition that fill a file; `payloadBytesPerRow` stands in until files were seen. */
  rowsPerFile(payloadBytesPerRow: number): number {
    const perRow = this.#bytesPerRow ?? payloadBytesPerRow;
    return perRow > 0 ? Math.max(1, Math.floor(this.targetBytes / perRow)) : Number.POSITIVE_INFINITY;
  }

  /**
   * Cuts `entries` (frames, in stream order) into consecutive parts, one commit each: a part takes
   * frames until one of their partitions has reached `rowsPerFile` rows, so each file rolls at the
   * target (over it by less than one frame), as a flush started at the target does. A frame is
   * never cut.
   */
  split<E>(entries: readonly E[], partitionsOf: (entry: E) => PartitionRows, rowsPerFile: number): E[][] {
    const parts: E[][] = [];
    let part: E[] = [];
    let rows: PartitionRows = new Map();
    for (const entry of entries) {
      const more = partitionsOf(entry);
      let over = false;
      for (const key of more.keys()) if ((rows.get(key) ?? 0) >= rowsPerFile) over = true;
      if (over && part.length > 0) {
        parts.push(part);
        part = [];
        rows = new Map();
      }
      part.push(entry);
      addPartitionRows(rows, more);
    }
    if (part.length > 0 || parts.length === 0) parts.push(part);
    return parts;
  }
}
