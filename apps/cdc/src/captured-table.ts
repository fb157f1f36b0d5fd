import { type AvroType, ChangeField, type ChangeOp, type SchemaRegistry } from "@inlet/schema";
import { type CapturedColumn, changeSchema, type TableSource } from "./change-schema.js";
import type { CapturedTableSpec } from "./config.js";
import { PgValueError, pgTextToAvro } from "./pg-value.js";

/** A column value that cannot be written under the table's schema: `field` names the column. */
export class ChangeValueError extends Error {
  override readonly name = "ChangeValueError";
  readonly field: string;
  readonly expected: string;
  readonly got: unknown;

  constructor(message: string, field: string, expected: string, got: unknown) {
    super(message);
    this.field = field;
    this.expected = expected;
    this.got = got;
  }
}

/** A column's values by name, as PostgreSQL's text (null: SQL NULL, undefined: not sent). */
export type TextTuple = Readonly<Record<string, string | null | undefined>>;

/**
 * One captured table: its columns as the stream last described them, its key, and the registered
 * schema version its changes are written in.
 */
export class CapturedTable {
  readonly spec: CapturedTableSpec;
  readonly source: TableSource;
  /** The table's oid (pgoutput's relation id). */
  oid: number;
  #columns: readonly CapturedColumn[];
  readonly key: readonly string[];
  #schemaId = "";
  #type: AvroType | undefined;
  /**
   * Why the table's changes cannot be written any more (its columns changed in a way the registry
   * refused): each is dead-lettered with this reason until the source restarts with a schema that fits.
   */
  refused: string | undefined;

  constructor(
    spec: CapturedTableSpec,
    database: string,
    oid: number,
    columns: readonly CapturedColumn[],
    key: readonly string[],
  ) {
    this.spec = spec;
    this.source = { database, schema: spec.schema, table: spec.table };
    this.oid = oid;
    this.#columns = columns;
    this.key = key;
  }

  get dataset(): string {
    return this.spec.dataset;
  }

  /** `<dataset>@<version>` of the schema changes are encoded in. */
  get schemaId(): string {
    return this.#schemaId;
  }

  get columns(): readonly CapturedColumn[] {
    return this.#columns;
  }

  /** True when `columns` (names, types and type modifiers, in order) differ from the ones changes are encoded with. */
  differsFrom(columns: readonly CapturedColumn[]): boolean {
    return (
      columns.length !== this.#columns.length ||
      columns.some((c, i) => {
        const mine = this.#columns[i];
        return c.name !== mine?.name || c.typeOid !== mine.typeOid || c.typeMod !== mine.typeMod;
      })
    );
  }

  /**
   * Registers the schema of `columns` (the current ones by default) and encodes changes with it
   * from now on. Throws CaptureError for a shape that cannot be captured and SchemaError when the
   * registry refuses the version (a change it finds incompatible).
   */
  async register(
    registry: SchemaRegistry,
    columns: readonly CapturedColumn[] = this.#columns,
  ): Promise<void> {
    const schema = changeSchema(this.dataset, this.source, columns, this.key);
    const { id } = await registry.register(this.dataset, schema);
    const registered = await registry.get(id);
    this.#columns = columns;
    this.#schemaId = id;
    this.#type = registered.type;
    this.refused = undefined;
  }

  /**
   * The Avro payload of one change. `values` holds the row (a delete's: at least its key). Throws
   * {@link ChangeValueError} naming the column whose value the schema cannot hold.
   */
  encode(values: TextTuple, op: ChangeOp, lsn: number, committedAt: number): Buffer {
    const type = this.#type;
    if (type === undefined) throw new Error(`dataset "${this.dataset}": no schema registered yet`);
    const record: Record<string, unknown> = {};
    for (const column of this.#columns) {
      const text = values[column.name] ?? null;
      try {
        record[column.name] = pgTextToAvro(column.typeOid, text, column.typeMod);
      } catch (error) {
        if (!(error instanceof PgValueError)) throw error;
        throw new ChangeValueError(
          `dataset "${this.dataset}": field "${column.name}" ${error.message}`,
          column.name,
          `the value of type oid ${column.typeOid}`,
          text,
        );
      }
      if (record[column.name] === null && this.key.includes(column.name)) {
        throw new ChangeValueError(
          `dataset "${this.dataset}": key field "${column.name}" is missing from the change`,
          column.name,
          "a key value",
          null,
        );
      }
    }
    record[ChangeField.Op] = op;
    record[ChangeField.Lsn] = lsn;
    record[ChangeField.CommittedAt] = committedAt;
    return type.toBuffer(record);
  }
}
