import { DecimalType } from "@inlet/schema";
import type { Type, types } from "avsc";

/** What a rule needs to know about a field: its kind of value and whether it may be null. */
export const FieldKind = {
  String: "string",
  Integer: "integer",
  Number: "number",
  Boolean: "boolean",
  Enum: "enum",
  /** An exact decimal: its values are text with exactly `scale` digits after the point. */
  Decimal: "decimal",
  Other: "other",
} as const;

/** A {@link FieldKind} value. */
export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

/** A field of a dataset's record schema, as the rule compiler sees it. */
export interface FieldShape {
  readonly name: string;
  /** The field's full Avro type (with its null branch, if any): validates rule values. */
  readonly type: Type;
  /** The non-null branch's kind. */
  readonly kind: FieldKind;
  /** Avro type name of the non-null branch, for messages (`int`, `string`, …). */
  readonly typeName: string;
  readonly nullable: boolean;
  /** For `int` fields: values must stay within 32 bits. */
  readonly int32: boolean;
  /** For decimal fields: the digits after the point. */
  readonly scale?: number;
}

/** Describes field `name` of `record`, or returns undefined when the record has no such field. */
export function describeField(record: types.RecordType, name: string): FieldShape | undefined {
  const field = record.fields.find((f) => f.name === name);
  if (field === undefined) return undefined;
  const branches = unionBranches(field.type);
  const nullable = branches.some((t) => t.typeName === "null");
  const values = branches.filter((t) => t.typeName !== "null");
  const only = values.length === 1 ? values[0]! : undefined;
  if (only instanceof DecimalType) {
    const decimal = { name, type: field.type, kind: FieldKind.Decimal, typeName: only.describe() };
    return { ...decimal, nullable, int32: false, scale: only.scale };
  }
  const base = only === undefined ? undefined : underlying(only);
  const typeName = base === undefined ? field.type.typeName : base.typeName;
  return {
    name,
    type: field.type,
    kind: base === undefined ? FieldKind.Other : kindOf(base.typeName),
    typeName,
    nullable,
    int32: typeName === "int",
  };
}

function unionBranches(type: Type): Type[] {
  const union = type as Partial<types.UnwrappedUnionType>;
  return type.typeName.startsWith("union") && union.types !== undefined ? [...union.types] : [type];
}

// A logical type (timestamp-millis) is compared and transformed as its underlying type.
function underlying(type: Type): Type {
  const logical = type as Partial<types.LogicalType>;
  return logical.underlyingType ?? type;
}

function kindOf(typeName: string): FieldKind {
  switch (typeName) {
    case "string":
      return FieldKind.String;
    case "int":
    case "long":
      return FieldKind.Integer;
    case "float":
    case "double":
      return FieldKind.Number;
    case "boolean":
      return FieldKind.Boolean;
    case "enum":
      return FieldKind.Enum;
    default:
      return FieldKind.Other;
  }
}

/** True for kinds holding numbers. */
export function isNumeric(kind: FieldKind): boolean {
  return kind === FieldKind.Integer || kind === FieldKind.Number;
}
