import type { AvroSchema } from "./avro-type.js";
import { SchemaError, SchemaErrorCode } from "./schema-error.js";

// The change record of a CDC dataset (docs/contracts.md, "Change data capture"): written by the
// CDC source (apps/cdc), read by the lake-writer.

/** The fields every change record carries after the table's columns. */
export const ChangeField = {
  /** `r` (read by the snapshot), `c` (insert), `u` (update), `d` (delete). */
  Op: "_op",
  /** The commit LSN of the change's transaction, as a number (the snapshot's: the WAL position it started at). */
  Lsn: "_lsn",
  /** When the transaction committed (the snapshot's rows: when the snapshot started), ms. */
  CommittedAt: "_committed_at",
} as const;

/** A change's `_op`. */
export const ChangeOp = {
  Read: "r",
  Insert: "c",
  Update: "u",
  Delete: "d",
} as const;

/** One of {@link ChangeOp}. */
export type ChangeOp = (typeof ChangeOp)[keyof typeof ChangeOp];

/** The record attribute naming a CDC dataset's source table and key. */
export const CDC_ATTRIBUTE = "inlet.cdc";

/** The value of {@link CDC_ATTRIBUTE}. */
export interface CdcAttribute {
  /** `<database>.<schema>.<table>`. */
  source: string;
  /** The primary key's columns, in key order. */
  key: string[];
}

/**
 * The key columns a CDC dataset's schema names (its {@link CDC_ATTRIBUTE}); throws
 * {@link SchemaError} (INVALID_SCHEMA) for a schema without one: not a CDC dataset.
 */
export function cdcKeyOf(schema: AvroSchema): readonly string[] {
  const attribute = (schema as unknown as Record<string, unknown>)[CDC_ATTRIBUTE] as
    | { key?: unknown }
    | undefined;
  const key = attribute?.key;
  if (!Array.isArray(key) || key.length === 0 || !key.every((k) => typeof k === "string")) {
    throw new SchemaError(
      `schema has no "${CDC_ATTRIBUTE}" attribute naming its key: not a CDC dataset`,
      SchemaErrorCode.InvalidSchema,
    );
  }
  return key as string[];
}
