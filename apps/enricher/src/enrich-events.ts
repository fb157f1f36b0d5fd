import { type FrameEvent, PayloadDecodeError } from "@inlet/bus";
import { type ValidationIssue, validateEvent } from "@inlet/schema";
import type { Type, types } from "avsc";
import type { Join } from "./enrichment-config.js";
import { compileJoin, type EventRecord, type JoinFn, type Lookup } from "./join.js";

/** A dataset's joins compiled for one schema version. */
export interface CompiledEnrichment {
  readonly dataset: string;
  readonly joins: readonly JoinFn[];
}

/** An event that no longer fits its schema after the join (a reference value of the wrong type). */
export interface RejectedEvent {
  readonly event: FrameEvent;
  readonly record: EventRecord;
  readonly issue: ValidationIssue;
}

/** What enrichment made of one frame's events. */
export interface EnrichedEvents {
  /** Every event that still encodes, enriched, in input order (same ids and ingest times). */
  readonly out: FrameEvent[];
  /** Lookups that found their key. */
  hits: number;
  /** Lookups that did not (the event is kept, marked not found). */
  misses: number;
  readonly rejected: RejectedEvent[];
}

/**
 * Compiles the joins of `dataset` for `record`; `tables` maps table names to their lookups.
 * Throws {@link EnrichmentError} when a join does not fit the schema.
 */
export function compileEnrichment(
  joins: readonly Join[],
  record: types.RecordType,
  dataset: string,
  tables: ReadonlyMap<string, Lookup>,
): CompiledEnrichment {
  return {
    dataset,
    joins: joins.map((join) => {
      const table = tables.get(join.table);
      if (table === undefined) throw new Error(`table "${join.table}" is not open`);
      return compileJoin(join, record, dataset, table);
    }),
  };
}

/**
 * Decodes each event of a frame written with `type` (`schemaId`), runs the joins and re-encodes
 * it with the same schema. An event that no longer encodes is rejected alone; an undecodable
 * payload throws {@link PayloadDecodeError}.
 */
export function enrichEvents(
  events: readonly FrameEvent[],
  type: Type,
  schemaId: string,
  enrichment: CompiledEnrichment,
): EnrichedEvents {
  const result: EnrichedEvents = { out: [], hits: 0, misses: 0, rejected: [] };
  for (const event of events) {
    let record: EventRecord;
    try {
      record = type.fromBuffer(asBuffer(event.payload));
    } catch (cause) {
      throw new PayloadDecodeError(schemaId, event.id, { cause });
    }
    for (const join of enrichment.joins) {
      if (join(record)) result.hits++;
      else result.misses++;
    }
    let payload: Buffer;
    try {
      payload = type.toBuffer(record);
    } catch {
      const issue = validateEvent(type, record, schemaId)[0]!;
      result.rejected.push({ event, record, issue });
      continue;
    }
    result.out.push({ id: event.id, ingestedAt: event.ingestedAt, payload });
  }
  return result;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
