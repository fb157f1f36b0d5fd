import { walkFrame } from "@inlet/bus";
import type { CuratedColumns } from "@inlet/lake";
import type { AvroType, RegisteredSchema } from "@inlet/schema";
import { RowCheck } from "./row-check.js";

/** Codes of events the lake-writer dead-letters (`Inlet-Error-Code`). */
export const RejectCode = {
  /** The payload is not Avro of the frame's schema. */
  Undecodable: "UNDECODABLE_EVENT",
  /** A value the curated table cannot store. */
  Unwritable: "UNWRITABLE_VALUE",
} as const;

/** A {@link RejectCode} value. */
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/** An event of a frame that cannot become a row. */
export interface RejectedEvent {
  readonly eventId: string;
  readonly code: RejectCode;
  readonly reason: string;
  readonly field?: string;
  readonly expected?: string;
  readonly got?: unknown;
  /** The decoded event, or the payload as base64 when it did not decode. */
  readonly event: unknown;
}

type Resolver = ReturnType<AvroType["createResolver"]>;

/**
 * Rows gathered as columns ({@link CuratedColumns}): the table's data columns by name, then the
 * lineage. Each event object is read once and can be collected young.
 */
export class ColumnsBuilder {
  readonly #names: readonly string[];
  readonly #data: unknown[][];
  readonly #eventIds: string[];
  readonly #ingestedAts: Float64Array;
  readonly #traceIds: (string | null)[];
  readonly #schemaVersions: Int32Array;
  #rows = 0;

  /**
   * `names`: the table's data columns, in {@link CuratedTable.dataColumns} order; `capacity`: the
   * most rows that will be added (the arrays are made that long once, never grown).
   */
  constructor(names: readonly string[], capacity: number) {
    this.#names = names;
    this.#data = names.map(() => new Array<unknown>(capacity));
    this.#eventIds = new Array<string>(capacity);
    this.#ingestedAts = new Float64Array(capacity);
    this.#traceIds = new Array<string | null>(capacity);
    this.#schemaVersions = new Int32Array(capacity);
  }

  get rows(): number {
    return this.#rows;
  }

  add(
    event: Readonly<Record<string, unknown>>,
    eventId: string,
    ingestedAt: number,
    traceId: string,
    schemaVersion: number,
  ): void {
    const row = this.#rows;
    if (row >= this.#eventIds.length)
      throw new RangeError(`more rows than the ${this.#eventIds.length} expected`);
    const names = this.#names;
    const data = this.#data;
    for (let c = 0; c < names.length; c++) data[c]![row] = event[names[c]!];
    this.#eventIds[row] = eventId;
    this.#ingestedAts[row] = ingestedAt;
    this.#traceIds[row] = traceId === "" ? null : traceId;
    this.#schemaVersions[row] = schemaVersion;
    this.#rows = row + 1;
  }

  /** The rows added, as columns (cut to their number: rejected events leave capacity unused). */
  columns(): CuratedColumns {
    const rows = this.#rows;
    const cut = <T>(values: T[]): T[] => {
      values.length = rows;
      return values;
    };
    return {
      rows,
      data: this.#data.map(cut),
      eventIds: cut(this.#eventIds),
      ingestedAts: this.#ingestedAts.subarray(0, rows),
      traceIds: cut(this.#traceIds),
      schemaVersions: this.#schemaVersions.subarray(0, rows),
    };
  }
}

/**
 * Turns frame payloads into curated rows under the table's schema (the dataset's newest version):
 * a payload of an older version is read through an Avro resolver, so fields it lacks take their
 * defaults (null). Each row is checked against what the table can store.
 */
export class RowDecoder {
  /** The table's schema: rows come out in its shape. */
  readonly schema: RegisteredSchema;
  readonly #check: RowCheck;
  readonly #eventTimeField: string;
  readonly #resolvers = new Map<string, Resolver | undefined>();

  constructor(schema: RegisteredSchema, eventTimeField: string) {
    this.schema = schema;
    this.#eventTimeField = eventTimeField;
    this.#check = new RowCheck(schema.dataset, schema.schema, eventTimeField);
  }

  /** Throws when payloads of `writer` cannot be read as the table's schema at all. */
  check(writer: RegisteredSchema): void {
    this.#resolver(writer);
  }

  /**
   * Decodes the events of a frame body written with `writer` into `rows`, or into `rejected` with
   * the reason. The body is read in place: no event object, no payload view per event. Throws when
   * `writer` cannot be read as the table's schema at all (before any row). Returns the newest event
   * time among the rows, ms since the epoch (0 when none).
   */
  decodeBody(
    body: Buffer,
    writer: RegisteredSchema,
    traceId: string,
    rows: ColumnsBuilder,
    rejected: RejectedEvent[],
  ): number {
    const type = this.schema.type;
    const resolver = this.#resolver(writer);
    const schemaVersion = writer.version;
    const timeField = this.#eventTimeField;
    let newest = 0;
    walkFrame(body, (idBytes, ingestedAt, start, end) => {
      const id = body.toString("utf8", idBytes.start, idBytes.end);
      let event: Record<string, unknown>;
      try {
        const decoded = type.decode(body, start, resolver);
        if (decoded.offset !== end)
          throw new Error(decoded.offset < 0 || decoded.offset > end ? "truncated buffer" : "trailing data");
        event = decoded.value as Record<string, unknown>;
      } catch (err) {
        rejected.push({
          eventId: id,
          code: RejectCode.Undecodable,
          reason: `dataset ${JSON.stringify(writer.dataset)}: event is not Avro of ${writer.id}: ${err instanceof Error ? err.message : String(err)}`,
          event: body.toString("base64", start, end),
        });
        return;
      }
      const problem = this.#check.problem(event);
      if (problem !== undefined) {
        rejected.push({ eventId: id, code: RejectCode.Unwritable, ...problem, event });
        return;
      }
      rows.add(event, id, ingestedAt, traceId, schemaVersion);
      const time = event[timeField];
      if (typeof time === "number" && time > newest) newest = time;
    });
    return newest;
  }

  // No resolver for the table's own version; one per older version, built once.
  #resolver(writer: RegisteredSchema): Resolver | undefined {
    if (writer.id === this.schema.id) return undefined;
    if (this.#resolvers.has(writer.id)) return this.#resolvers.get(writer.id);
    const resolver = this.schema.type.createResolver(writer.type);
    this.#resolvers.set(writer.id, resolver);
    return resolver;
  }
}
