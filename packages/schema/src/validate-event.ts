import type avsc from "avsc";
import { type AvroType, describeType } from "./avro-type.js";
import { renderValue } from "./render-value.js";

/** One reason an event does not match its schema. */
export interface ValidationIssue {
  /** Dotted path of the field (`amount`, `items.2.sku`); empty for the event itself. */
  field: string;
  /** What the schema wants there: an Avro type name such as `double` (see {@link describeType}). */
  expected: string;
  /** A short JSON rendering of what came, `undefined` when the field is missing. */
  got: string;
  /** The whole story for a person: `dataset "clicks": field "amount" expected double, got "12,5"`. */
  message: string;
}

const NO_ISSUES: readonly ValidationIssue[] = Object.freeze([]);
const STRICT = { noUndeclaredFields: true } as const;
const MAX_ISSUES = 20;

/**
 * Checks `value` against `type` and returns every problem found (an empty list when valid).
 * Fields not in the schema are problems too: strictness protects the lake. `source` is the schema
 * id (`clicks@1`) or the dataset name, used in messages. Valid events cost one `isValid` call.
 */
export function validateEvent(type: AvroType, value: unknown, source: string): readonly ValidationIssue[] {
  if (type.isValid(value, STRICT)) return NO_ISSUES;
  const at = source.indexOf("@");
  const dataset = at === -1 ? source : source.slice(0, at);
  const prefix = `dataset ${JSON.stringify(dataset)}:`;
  const issues: ValidationIssue[] = [];

  type.isValid(value, {
    errorHook: (path: string[], got: unknown, expectedType: avsc.Type) => {
      if (issues.length >= MAX_ISSUES) return;
      const field = path.join(".");
      const expected = describeType(expectedType);
      const shown = renderValue(got);
      const where = field === "" ? "event" : `field ${JSON.stringify(field)}`;
      const message =
        got === undefined
          ? `${prefix} ${where} is required (expected ${expected})`
          : `${prefix} ${where} expected ${expected}, got ${shown}`;
      issues.push({ field, expected, got: shown, message });
    },
  });

  const undeclared: Array<{ field: string; value: unknown }> = [];
  collectUndeclared(type, value, [], undeclared);
  for (const extra of undeclared) {
    if (issues.length >= MAX_ISSUES) break;
    issues.push({
      field: extra.field,
      expected: "no such field",
      got: renderValue(extra.value),
      message: `${prefix} field ${JSON.stringify(extra.field)} is not in schema ${source}`,
    });
  }

  if (issues.length === 0) {
    // isValid said no but found nothing to blame: report the event as a whole rather than pass it.
    issues.push({
      field: "",
      expected: describeType(type),
      got: renderValue(value),
      message: `${prefix} event does not match schema ${source}`,
    });
  }
  return issues;
}

// Walks records (and arrays, maps, nullable branches holding them) for keys the schema lacks.
function collectUndeclared(
  type: AvroType,
  value: unknown,
  path: string[],
  out: Array<{ field: string; value: unknown }>,
): void {
  if (value === null || typeof value !== "object" || out.length >= MAX_ISSUES) return;
  switch (type.typeName) {
    case "record":
    case "error": {
      const record = type as avsc.types.RecordType;
      const object = value as Record<string, unknown>;
      for (const key of Object.keys(object)) {
        if (record.field(key) === undefined)
          out.push({ field: [...path, key].join("."), value: object[key] });
      }
      for (const field of record.fields)
        collectUndeclared(field.type, object[field.name], [...path, field.name], out);
      return;
    }
    case "array": {
      if (!Array.isArray(value)) return;
      const items = (type as avsc.types.ArrayType).itemsType;
      for (let i = 0; i < value.length; i++) collectUndeclared(items, value[i], [...path, String(i)], out);
      return;
    }
    case "map": {
      const values = (type as avsc.types.MapType).valuesType as AvroType;
      for (const [key, item] of Object.entries(value)) collectUndeclared(values, item, [...path, key], out);
      return;
    }
    case "union:unwrapped": {
      // An unwrapped union holds at most one branch for objects (record or map) and one for arrays.
      const wanted = Array.isArray(value) ? ["array"] : ["record", "error", "map"];
      const branch = (type as avsc.types.UnwrappedUnionType).types.find((t) => wanted.includes(t.typeName));
      if (branch !== undefined) collectUndeclared(branch, value, path, out);
      return;
    }
    default:
      return;
  }
}
