import { formatDecimal, MAX_DECIMAL_PRECISION, parseDecimal } from "@inlet/schema";
import type { types } from "avsc";
import { describeField, FieldKind, type FieldShape } from "./field-shape.js";
import { PipelineError, PipelineErrorCode } from "./pipeline-error.js";

/** Looks up `name` in `record` or throws a {@link PipelineError} naming the dataset, field and rule. */
export function requireField(
  record: types.RecordType,
  name: string,
  dataset: string,
  op: string,
): FieldShape {
  const field = describeField(record, name);
  if (field === undefined) {
    const known = record.fields.map((f) => f.name).join(", ");
    throw new PipelineError(
      `dataset "${dataset}": rule "${op}" names field "${name}", which is not in the schema (fields: ${known})`,
      PipelineErrorCode.UnknownField,
    );
  }
  return field;
}

/** Throws a {@link PipelineError} unless `value` is valid for the field's Avro type. */
export function requireValid(field: FieldShape, value: unknown, dataset: string, op: string): void {
  if (!field.type.isValid(value)) {
    throw mismatch(dataset, field, op, `a value of type ${describeType(field)}`, value);
  }
}

/** Builds the error for a rule whose value or result does not fit the field's type. */
export function mismatch(
  dataset: string,
  field: FieldShape,
  op: string,
  needs: string,
  got?: unknown,
): PipelineError {
  const gotText = got === undefined ? "" : `, got ${JSON.stringify(got)}`;
  return new PipelineError(
    `dataset "${dataset}": rule "${op}" on field "${field.name}" (${describeType(field)}) needs ${needs}${gotText}`,
    PipelineErrorCode.TypeMismatch,
  );
}

/** The field's type for messages: `double`, `string or null`. */
export function describeType(field: FieldShape): string {
  return field.nullable ? `${field.typeName} or null` : field.typeName;
}

/**
 * A rule's value (checked with {@link requireValid}) as the field's events hold it: a decimal as
 * its text at the field's scale (`10.5` is `"10.50"` in a decimal(8,2) field), so that comparing
 * and setting see the same text; anything else unchanged.
 */
export function storedValue(field: FieldShape, value: unknown): unknown {
  if (field.kind !== FieldKind.Decimal || value === null) return value;
  const scale = field.scale!;
  return formatDecimal(parseDecimal(value, { precision: MAX_DECIMAL_PRECISION, scale })!, scale);
}
