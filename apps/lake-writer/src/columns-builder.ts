import { ByteArena, ColumnKind, type CuratedColumns, Utf8Column } from "@inlet/lake";

/** A data column of the table: its name and kind. */
export interface BuilderColumn {
  readonly name: string;
  readonly kind: ColumnKind;
}

/** One text column being built as UTF-8 in the builder's arena: each row's start and length (-1: NULL). */
class Utf8Builder {
  readonly #arena: ByteArena;
  readonly starts: Int32Array;
  readonly lengths: Int32Array;

  constructor(arena: ByteArena, capacity: number) {
    this.#arena = arena;
    this.starts = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
  }

  setNull(row: number): void {
    this.starts[row] = 0;
    this.lengths[row] = -1;
  }

  /** Row `row` is `length` bytes (well-formed UTF-8) at `start` of `source`. */
  setBytes(row: number, source: Uint8Array, start: number, length: number): void {
    this.starts[row] = this.#arena.appendBytes(source, start, length);
    this.lengths[row] = length;
  }

  /** Row `row` is the JS string `s` (lone surrogates become U+FFFD). */
  setString(row: number, s: string): void {
    const at = this.#arena.appendString(s);
    this.starts[row] = at;
    this.lengths[row] = this.#arena.used - at;
  }

  /** Row `row` is the `length` bytes at `at` of the arena, already another row's. */
  setShared(row: number, at: number, length: number): void {
    this.starts[row] = at;
    this.lengths[row] = length;
  }

  column(rows: number): Utf8Column {
    return new Utf8Column(this.#arena.bytes, this.starts.subarray(0, rows), this.lengths.subarray(0, rows));
  }
}

/**
 * Rows gathered as columns ({@link CuratedColumns}): the table's data columns, then the lineage.
 * String columns (and the event and trace ids) are kept as UTF-8 bytes ({@link Utf8Column}), all in
 * one arena, the others as one value per row. Rows come either from decoded event objects ({@link add}) or are
 * written field by field straight from Avro bytes ({@link row}, then {@link commit} or
 * {@link abort}).
 */
export class ColumnsBuilder {
  readonly #columns: readonly BuilderColumn[];
  readonly #index: ReadonlyMap<string, number>;
  // Per data column: its text builder (string columns) or its values (the rest).
  readonly #text: (Utf8Builder | undefined)[];
  readonly #values: (unknown[] | undefined)[];
  readonly #eventIds: Utf8Builder;
  readonly #ingestedAts: Float64Array;
  readonly #traceIds: Utf8Builder;
  readonly #schemaVersions: Int32Array;
  readonly #capacity: number;
  readonly #arena: ByteArena;
  #rows = 0;
  // Arena bytes used when the row in progress began.
  #mark = 0;
  // The last trace id written, and where its bytes lie in the arena (-1: none yet).
  #trace = "";
  #traceAt = -1;
  #traceLength = 0;

  /**
   * `columns`: the table's data columns, in {@link CuratedTable.dataColumns} order; `capacity`: the
   * most rows that will be added (the arrays are made that long once, never grown); `textBytes`:
   * about how many bytes of text they will hold (the arena's first size, grown if short).
   */
  constructor(columns: readonly BuilderColumn[], capacity: number, textBytes = capacity * 64) {
    this.#columns = columns;
    this.#capacity = capacity;
    const arena = new ByteArena(textBytes);
    this.#arena = arena;
    this.#index = new Map(columns.map((c, i) => [c.name, i]));
    this.#text = columns.map((c) =>
      c.kind === ColumnKind.String ? new Utf8Builder(arena, capacity) : undefined,
    );
    this.#values = columns.map((c) =>
      c.kind === ColumnKind.String ? undefined : new Array<unknown>(capacity),
    );
    this.#eventIds = new Utf8Builder(arena, capacity);
    this.#ingestedAts = new Float64Array(capacity);
    this.#traceIds = new Utf8Builder(arena, capacity);
    this.#schemaVersions = new Int32Array(capacity);
  }

  get rows(): number {
    return this.#rows;
  }

  /**
   * Empties the builder for a batch of at most `capacity` rows of the same columns, keeping its
   * arrays and arena (a batch after batch allocates nothing new); false, and nothing changed, when
   * it cannot. Only once whatever read the last {@link columns} is done with them.
   */
  reuse(columns: readonly BuilderColumn[], capacity: number): boolean {
    if (capacity > this.#capacity || columns.length !== this.#columns.length) return false;
    if (columns.some((c, i) => c.name !== this.#columns[i]!.name || c.kind !== this.#columns[i]!.kind))
      return false;
    this.#rows = 0;
    this.#mark = 0;
    this.#arena.used = 0;
    this.#trace = "";
    this.#traceAt = -1;
    for (const values of this.#values) if (values !== undefined) values.length = this.#capacity;
    return true;
  }

  /** The data columns, as given. */
  get dataColumns(): readonly BuilderColumn[] {
    return this.#columns;
  }

  /** The index of data column `name`, or -1. */
  indexOf(name: string): number {
    return this.#index.get(name) ?? -1;
  }

  /** Adds a decoded event (a field the table has no column for is ignored; a missing one is NULL). */
  add(
    event: Readonly<Record<string, unknown>>,
    eventId: string,
    ingestedAt: number,
    traceId: string,
    schemaVersion: number,
  ): void {
    const row = this.#next();
    const columns = this.#columns;
    for (let c = 0; c < columns.length; c++) {
      const v = event[columns[c]!.name];
      const text = this.#text[c];
      if (text === undefined) this.#values[c]![row] = v;
      else if (v == null) text.setNull(row);
      else text.setString(row, v as string); // the row check let only strings through
    }
    this.#eventIds.setString(row, eventId);
    this.#finish(row, ingestedAt, traceId, schemaVersion);
  }

  /**
   * Starts a row written field by field (see {@link setText}, {@link setValue}, {@link setNull});
   * returns its index. Every data column must be set before {@link commit}.
   */
  row(): number {
    const row = this.#next();
    this.#mark = this.#arena.used;
    return row;
  }

  /** Sets string column `c` of `row` to `length` bytes of well-formed UTF-8 at `start` of `source`. */
  setText(c: number, row: number, source: Uint8Array, start: number, length: number): void {
    this.#text[c]!.setBytes(row, source, start, length);
  }

  /** Sets non-string column `c` of `row`. */
  setValue(c: number, row: number, value: unknown): void {
    this.#values[c]![row] = value;
  }

  /** Sets column `c` of `row` NULL. */
  setNull(c: number, row: number): void {
    const text = this.#text[c];
    if (text === undefined) this.#values[c]![row] = null;
    else text.setNull(row);
  }

  /** True when column `c` holds strings (set with {@link setText}). */
  isText(c: number): boolean {
    return this.#text[c] !== undefined;
  }

  /** Ends the row begun with {@link row}: its lineage, the id as UTF-8 bytes of `source`. */
  commit(
    row: number,
    source: Uint8Array,
    idStart: number,
    idLength: number,
    ingestedAt: number,
    traceId: string,
    schemaVersion: number,
  ): void {
    this.#eventIds.setBytes(row, source, idStart, idLength);
    this.#finish(row, ingestedAt, traceId, schemaVersion);
  }

  /** Drops the row begun with {@link row}: nothing it wrote is kept. */
  abort(): void {
    this.#arena.used = this.#mark;
  }

  /** The rows added, as columns (cut to their number: rejected events leave capacity unused). */
  columns(): CuratedColumns {
    const rows = this.#rows;
    return {
      rows,
      data: this.#columns.map((_, c) => {
        const text = this.#text[c];
        if (text !== undefined) return text.column(rows);
        const values = this.#values[c]!;
        values.length = rows;
        return values;
      }),
      eventIds: this.#eventIds.column(rows),
      ingestedAts: this.#ingestedAts.subarray(0, rows),
      traceIds: this.#traceIds.column(rows),
      schemaVersions: this.#schemaVersions.subarray(0, rows),
    };
  }

  #next(): number {
    const row = this.#rows;
    if (row >= this.#capacity) throw new RangeError(`more rows than the ${this.#capacity} expected`);
    return row;
  }

  #finish(row: number, ingestedAt: number, traceId: string, schemaVersion: number): void {
    this.#ingestedAts[row] = ingestedAt;
    if (traceId === "") this.#traceIds.setNull(row);
    else {
      // A frame's events share a trace id: its bytes are written once (here, at a row's commit,
      // so no abort takes them back), and its rows all point at them.
      if (traceId !== this.#trace || this.#traceAt < 0) {
        this.#trace = traceId;
        this.#traceIds.setString(row, traceId);
        this.#traceAt = this.#traceIds.starts[row]!;
        this.#traceLength = this.#traceIds.lengths[row]!;
      } else this.#traceIds.setShared(row, this.#traceAt, this.#traceLength);
    }
    this.#schemaVersions[row] = schemaVersion;
    this.#rows = row + 1;
  }
}
