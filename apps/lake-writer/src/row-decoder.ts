import { walkFrame } from "@inlet/bus";
import type { AvroType, RegisteredSchema } from "@inlet/schema";
import { AvroRowReader } from "./avro-row-reader.js";
import type { BuilderColumn, ColumnsBuilder } from "./columns-builder.js";
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
 * Turns frame payloads into curated rows under the table's schema (the dataset's newest version):
 * a payload of an older version is read through an Avro resolver, so fields it lacks take their
 * defaults (null). Each row is checked against what the table can store. Payloads of the table's
 * own version go straight from bytes to columns ({@link AvroRowReader}) where the schema allows;
 * the events it gives up on, and every other payload, are decoded with avsc.
 */
export class RowDecoder {
  /** The table's schema: rows come out in its shape. */
  readonly schema: RegisteredSchema;
  readonly #check: RowCheck;
  readonly #eventTimeField: string;
  readonly #resolvers = new Map<string, Resolver | undefined>();
  // The byte reader and the builder columns it was made for (reader undefined: the schema needs avsc).
  #reader:
    | { readonly columns: readonly BuilderColumn[]; readonly reader: AvroRowReader | undefined }
    | undefined;

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
    const reader = resolver === undefined ? this.#readerFor(rows) : undefined;
    let newest = 0;
    walkFrame(body, (idBytes, ingestedAt, start, end) => {
      if (reader !== undefined) {
        const time = reader.read(
          body,
          start,
          end,
          rows,
          idBytes.start,
          idBytes.end,
          ingestedAt,
          traceId,
          schemaVersion,
        );
        if (!Number.isNaN(time)) {
          if (time > newest) newest = time;
          return;
        }
      }
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

  // The byte reader for `rows`' columns, made once per builder (a builder keeps its columns).
  #readerFor(rows: ColumnsBuilder): AvroRowReader | undefined {
    if (this.#reader?.columns !== rows.dataColumns) {
      this.#reader = {
        columns: rows.dataColumns,
        reader: AvroRowReader.for(this.schema.schema, rows, this.#eventTimeField),
      };
    }
    return this.#reader.reader;
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
