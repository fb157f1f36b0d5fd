import type { types } from "avsc";
import type { EventRecord, Predicate } from "./event-record.js";
import { FieldKind, type FieldShape, isNumeric } from "./field-shape.js";
import type { Condition } from "./pipeline-config.js";
import { mismatch, requireField, requireValid } from "./rule-checks.js";

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
      const value = condition.value;
      requireValid(field, value, dataset, condition.op);
      return condition.op === "eq" ? (e) => e[name] === value : (e) => e[name] !== value;
    }
    case "in":
    case "not_in": {
      for (const v of condition.value) requireValid(field, v, dataset, condition.op);
      const values = new Set<unknown>(condition.value);
      return condition.op === "in" ? (e) => values.has(e[name]) : (e) => !values.has(e[name]);
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      requireOrdered(field, condition.value, dataset, condition.op);
      return compare(name, condition.op, condition.value);
    case "between": {
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
