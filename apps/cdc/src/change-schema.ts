import { type AvroSchema, CDC_ATTRIBUTE, type CdcAttribute, ChangeField } from "@inlet/schema";
import { avroTypeOfPg } from "./pg-value.js";

/** One column of a captured table: its name, type oid and type modifier (-1 for none). */
export interface CapturedColumn {
  readonly name: string;
  readonly typeOid: number;
  /** `atttypmod`: a `numeric(p,s)`'s precision and scale, a `varchar(n)`'s length, … */
  readonly typeMod: number;
}

/** Where a captured table lives, as the record's `inlet.cdc.source` names it. */
export interface TableSource {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
}

/** Thrown when a table cannot be captured as it is: the message names the table and the reason. */
export class CaptureError extends Error {
  override readonly name = "CaptureError";
}

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set<string>([
  ...Object.values(ChangeField),
  "_event_id",
  "_ingested_at",
  "_trace_id",
  "_schema_version",
]);

/**
 * The Avro schema of a table's change events: a record named after the dataset with a field per
 * column (key columns required, every other column nullable with default null, so a column added
 * later is a BACKWARD compatible new version and a delete carries the key alone), then `_op`,
 * `_lsn` and `_committed_at`. The record's `inlet.cdc` attribute names the source and the key.
 * Throws {@link CaptureError} for a table without a primary key, or a column name Avro or the lake
 * cannot take.
 */
export function changeSchema(
  dataset: string,
  source: TableSource,
  columns: readonly CapturedColumn[],
  key: readonly string[],
): AvroSchema {
  const where = `table ${source.schema}.${source.table} (dataset "${dataset}")`;
  if (key.length === 0) {
    throw new CaptureError(
      `${where} has no primary key: change data capture needs one to know which row a change is about`,
    );
  }
  const seen = new Set<string>();
  for (const column of columns) {
    if (!AVRO_NAME.test(column.name)) {
      throw new CaptureError(
        `${where}: column ${JSON.stringify(column.name)} is not a valid Avro field name (letters, digits and _, not starting with a digit)`,
      );
    }
    if (RESERVED.has(column.name)) {
      throw new CaptureError(`${where}: column "${column.name}" clashes with a column Inlet adds`);
    }
    const folded = column.name.toLowerCase();
    if (seen.has(folded)) {
      throw new CaptureError(`${where}: columns "${column.name}" and another differ only by case`);
    }
    seen.add(folded);
  }
  for (const name of key) {
    if (!columns.some((c) => c.name === name)) {
      throw new CaptureError(`${where}: key column "${name}" is not among the table's columns`);
    }
  }
  const attribute: CdcAttribute = {
    source: `${source.database}.${source.schema}.${source.table}`,
    key: [...key],
  };
  return {
    type: "record",
    name: dataset,
    doc: `Changes of ${source.database}.${source.schema}.${source.table}, captured by the Inlet CDC source`,
    fields: [
      ...columns.map((column) =>
        key.includes(column.name)
          ? { name: column.name, type: avroTypeOfPg(column.typeOid, column.typeMod) }
          : {
              name: column.name,
              type: ["null", avroTypeOfPg(column.typeOid, column.typeMod)],
              default: null,
            },
      ),
      {
        name: ChangeField.Op,
        type: "string",
        doc: "r: read by the initial snapshot, c: insert, u: update, d: delete",
      },
      {
        name: ChangeField.Lsn,
        type: "long",
        doc: "commit LSN of the change's transaction (the snapshot's rows: the WAL position it started at)",
      },
      {
        name: ChangeField.CommittedAt,
        type: { type: "long", logicalType: "timestamp-millis" },
        doc: "when the change's transaction committed (the snapshot's rows: when it started)",
      },
    ],
    [CDC_ATTRIBUTE]: attribute,
  } as AvroSchema;
}

/** An LSN (`16/B374D848`) as a number: exact below 2^53 bytes of WAL. */
export function lsnToNumber(lsn: string): number {
  const [hi = "", lo = ""] = lsn.split("/");
  return Number.parseInt(hi, 16) * 2 ** 32 + Number.parseInt(lo, 16);
}
