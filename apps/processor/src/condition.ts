import { MAX_DECIMAL_PRECISION, parseDecimal } from "@inlet/schema";
import type { types } from "avsc";
import type { EventRecord, Predicate } from "./event-record.js";
import { FieldKind, type FieldShape, isNumeric } from "./field-shape.js";
import type { Condition } from "./pipeline-config.js";
import { mismatch, requireField, requireValid, storedValue } from "./rule-checks.js";

/**
 * Compiles `condition` for `record` (dataset `dataset`) into a predicate.
 * Throws {@link PipelineError} when the field is unknown or the value cannot match the field's type.
 */
export function compileCondition(condition: Condition, record: types.RecordType, dataset: string): Predicate {
  const field = requireField(record, condition.field, dataset, condition.op);
  const name = field.name;
  switch (condition.op) {
    case "eq":
    case "ne": {
      requireValid(field, condition.value, dataset, condition.op);
      const value = storedValue(field, condition.value);
      return condition.op === "eq" ? (e) => e[name] === value : (e) => e[name] !== value;
    }
    case "in":
    case "not_in": {
      for (const v of condition.value) requireValid(field, v, dataset, condition.op);
      const values = new Set<unknown>(condition.value.map((v) => storedValue(field, v)));
      return condition.op === "in" ? (e) => values.has(e[name]) : (e) => !values.has(e[name]);
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      if (field.kind === FieldKind.Decimal) {
        const sign = SIGNS[condition.op];
        const above = decimalComparison(field, condition.value, dataset, condition.op);
        return (e) => sign.includes(above(e[name]) ?? Number.NaN);
      }
      requireOrdered(field, condition.value, dataset, condition.op);
      return compare(name, condition.op, condition.value);
    case "between": {
      if (field.kind === FieldKind.Decimal) {
        const fromMin = decimalComparison(field, condition.min, dataset, condition.op);
        const fromMax = decimalComparison(field, condition.max, dataset, condition.op);
        return (e) => (fromMin(e[name]) ?? -1) >= 0 && (fromMax(e[name]) ?? 1) <= 0;
      }
      requireOrdered(field, condition.min, dataset, condition.op);
      const { min, max } = condition;
      return (e) => {
        const v = e[name] as number | null;
        return v !== null && v !== undefined && v >= min && v <= max;
      };
    }
    case "contains":
    case "not_contains": {
      if (field.kind !== FieldKind.String && field.kind !== FieldKind.Enum) {
        throw mismatch(dataset, field, condition.op, "a string field");
      }
      const needle = condition.value;
      const contains = (e: EventRecord) => {
        const v = e[name];
        return typeof v === "string" && v.includes(needle);
      };
      return condition.op === "contains" ? contains : (e) => !contains(e);
    }
    case "exists":
      return (e) => e[name] !== null && e[name] !== undefined;
    case "is_null":
      return (e) => e[name] === null || e[name] === undefined;
  }
}

/** Compiles conditions that must all hold; an empty list always holds. */
export function compileAll(
  conditions: readonly Condition[],
  record: types.RecordType,
  dataset: string,
): Predicate {
  const predicates = conditions.map((c) => compileCondition(c, record, dataset));
  if (predicates.length === 0) return () => true;
  if (predicates.length === 1) return predicates[0]!;
  return (e) => {
    for (const p of predicates) if (!p(e)) return false;
    return true;
  };
}

function compare(name: string, op: "gt" | "gte" | "lt" | "lte", value: number | string): Predicate {
  // null never compares: `amount > 10` does not hold for a missing amount.
  switch (op) {
    case "gt":
      return (e) => {
        const v = e[name] as number | string | null;
        return v !== null && v !== undefined && v > value;
      };
    case "gte":
      return (e) => {
        const v = e[name] as number | string | null;
        return v !== null && v !== undefined && v >= value;
      };
    case "lt":
      return (e) => {
        const v = e[name] as number | string | null;
        return v !== null && v !== undefined && v < value;
      };
    case "lte":
      return (e) => {
        const v = e[name] as number | string | null;
        return v !== null && v !== undefined && v <= value;
      };
  }
}

function requireOrdered(field: FieldShape, value: number | string, dataset: string, op: string): void {
  const fits = typeof value === "number" ? isNumeric(field.kind) : field.kind === FieldKind.String;
  if (!fits) throw mismatch(dataset, field, op, `a field of the same type as ${JSON.stringify(value)}`);
}

// What `value >op< bound` needs of the sign of value - bound.
const SIGNS: Readonly<Record<"gt" | "gte" | "lt" | "lte", readonly number[]>> = {
  gt: [1],
  gte: [0, 1],
  lt: [-1],
  lte: [-1, 0],
};

/**
 * For a decimal field, a function giving the sign of (an event's value - `bound`), compared exactly
 * whatever the digits of either (`amount > 10000.005` on a decimal(18,2) field), or undefined for
 * null. Throws when `bound` is not a decimal: a number of at most 15 significant digits, or text.
 */
function decimalComparison(
  field: FieldShape,
  bound: number | string,
  dataset: string,
  op: string,
): (value: unknown) => number | undefined {
  const scale = field.scale!;
  const fraction = /\.(\d+)$/.exec(String(bound))?.[1]?.length ?? 0;
  const common = Math.max(scale, fraction);
  const exact = parseDecimal(bound, { precision: MAX_DECIMAL_PRECISION + common, scale: common });
  if (exact === undefined) throw mismatch(dataset, field, op, "a decimal number", bound);
  const factor = 10n ** BigInt(common - scale);
  return (value) => {
    if (typeof value !== "string") return undefined;
    const v = BigInt(value.replace(".", "")) * factor;
    return v > exact ? 1 : v < exact ? -1 : 0;
  };
}
