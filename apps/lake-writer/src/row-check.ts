import { type AvroSchema, avroColumns, ColumnKind, fitsColumn } from "@inlet/lake";

/** Why the lake would refuse an event: the field at fault, what it needs, what came. */
export interface RowProblem {
  readonly field: string;
  readonly expected: string;
  readonly got: unknown;
  readonly reason: string;
}

// The instants a JS Date can hold (±100,000,000 days): the event time picks the row's
// event_date partition through a Date, and DuckDB's timestamps cover this range too.
const MAX_DATE_MS = 8.64e15;

interface CheckedColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
}

/**
 * Checks a decoded event against what the curated table accepts, before it joins a batch: one bad
 * value must cost its event a dead letter, not fail the whole commit. Uses the lake's own staging
 * conversions (`COLUMN_KINDS`), so the rule is the lake's, not a copy. JSON columns are skipped:
 * any decoded Avro value serializes.
 */
export class RowCheck {
  readonly #dataset: string;
  readonly #columns: readonly CheckedColumn[];
  readonly #eventTimeField: string | undefined;

  constructor(dataset: string, schema: AvroSchema, eventTimeField: string | undefined) {
    this.#dataset = dataset;
    this.#columns = avroColumns(schema)
      .filter((c) => c.kind !== ColumnKind.Json)
      .map((c) => ({ name: c.name, kind: c.kind, nullable: c.nullable }));
    this.#eventTimeField = eventTimeField;
  }

  /** The first problem of `event`, or undefined when the lake will take it. */
  problem(event: Readonly<Record<string, unknown>>): RowProblem | undefined {
    for (const column of this.#columns) {
      const value = event[column.name];
      if (value === null || value === undefined) {
        if (column.nullable) continue;
        return this.#problem(column.name, column.kind, null);
      }
      // What the Parquet writer's vectors take, checked without building a value.
      if (!fitsColumn(column.kind, value)) return this.#problem(column.name, column.kind, value);
    }
    const timeField = this.#eventTimeField;
    if (timeField !== undefined) {
      const time = event[timeField];
      if (typeof time === "number" && !(Math.abs(time) <= MAX_DATE_MS)) {
        return this.#problem(timeField, "a timestamp between the years -271821 and 275760", time);
      }
    }
    return undefined;
  }

  #problem(field: string, expected: string, got: unknown): RowProblem {
    const reason = `dataset ${JSON.stringify(this.#dataset)}: field ${JSON.stringify(field)} expected ${expected}, got ${show(got)}`;
    return { field, expected, got: typeof got === "bigint" ? got.toString() : got, reason };
  }
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === "bigint") return value.toString();
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
