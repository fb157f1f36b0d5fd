import { createHash } from "node:crypto";
import { formatDecimal } from "@inlet/schema";
import type { types } from "avsc";
import type { EventRecord, Mutator } from "./event-record.js";
import { FieldKind, type FieldShape, isNumeric } from "./field-shape.js";
import type { Transform } from "./pipeline-config.js";
import { mismatch, requireField, requireValid, storedValue } from "./rule-checks.js";
import { TransformError } from "./transform-error.js";

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/**
 * Compiles `transform` for `record` (dataset `dataset`) into a mutator. Null values pass every
 * transform unchanged except `set` and `default`. Throws {@link PipelineError} when the field is
 * unknown or the transform's result does not fit the field's type; the mutator throws
 * {@link TransformError} for a value it cannot handle (e.g. an int overflow).
 */
export function compileTransform(transform: Transform, record: types.RecordType, dataset: string): Mutator {
  const field = requireField(record, transform.field, dataset, transform.op);
  const name = field.name;
  switch (transform.op) {
    case "lowercase":
    case "uppercase":
    case "trim":
    case "hash": {
      if (field.kind !== FieldKind.String) throw mismatch(dataset, field, transform.op, "a string field");
      const change = STRING_OPS[transform.op];
      return (e) => {
        const v = e[name];
        if (typeof v === "string") e[name] = change(v);
      };
    }
    case "round": {
      if (field.kind === FieldKind.Decimal) return roundDecimal(name, field.scale!, transform.digits);
      requireNumeric(field, dataset, transform.op);
      const factor = 10 ** transform.digits;
      return (e) => {
        const v = e[name];
        if (typeof v === "number") e[name] = round(v, factor);
      };
    }
    case "clamp": {
      const { min, max } = transform;
      if (field.kind === FieldKind.Decimal) {
        // Bounds the field holds exactly, compared and stored as its own text.
        requireValid(field, min, dataset, transform.op);
        requireValid(field, max, dataset, transform.op);
        return clampDecimal(
          name,
          field.scale!,
          storedValue(field, min) as string,
          storedValue(field, max) as string,
        );
      }
      requireNumeric(field, dataset, transform.op);
      if (field.kind === FieldKind.Integer && !(Number.isInteger(min) && Number.isInteger(max))) {
        throw mismatch(dataset, field, transform.op, "integer bounds", [min, max]);
      }
      return (e) => {
        const v = e[name];
        if (typeof v === "number") e[name] = Math.min(Math.max(v, min), max);
      };
    }
    case "scale": {
      requireNumeric(field, dataset, transform.op);
      const { multiply, add } = transform;
      if (field.kind !== FieldKind.Integer) {
        return (e) => {
          const v = e[name];
          if (typeof v === "number") e[name] = v * multiply + add;
        };
      }
      if (!(Number.isInteger(multiply) && Number.isInteger(add))) {
        throw mismatch(dataset, field, transform.op, "integer multiply and add", [multiply, add]);
      }
      const [low, high] = field.int32
        ? [INT32_MIN, INT32_MAX]
        : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      return (e) => {
        const v = e[name];
        if (typeof v !== "number") return;
        const scaled = v * multiply + add;
        if (scaled < low || scaled > high)
          throw new TransformError(dataset, name, `${field.typeName} after scale`, String(scaled));
        e[name] = scaled;
      };
    }
    case "set": {
      requireValid(field, transform.value, dataset, transform.op);
      const value = storedValue(field, transform.value);
      return (e) => {
        e[name] = value;
      };
    }
    case "default": {
      requireValid(field, transform.value, dataset, transform.op);
      const value = storedValue(field, transform.value);
      return (e) => {
        if (e[name] === null || e[name] === undefined) e[name] = value;
      };
    }
  }
}

/** Compiles transforms that run in order; an empty list does nothing. */
export function compileTransforms(
  transforms: readonly Transform[],
  record: types.RecordType,
  dataset: string,
): Mutator {
  const mutators = transforms.map((t) => compileTransform(t, record, dataset));
  if (mutators.length === 0) return () => {};
  if (mutators.length === 1) return mutators[0]!;
  return (e: EventRecord) => {
    for (const m of mutators) m(e);
  };
}

const STRING_OPS = {
  lowercase: (v: string) => v.toLowerCase(),
  uppercase: (v: string) => v.toUpperCase(),
  trim: (v: string) => v.trim(),
  hash: (v: string) => createHash("sha256").update(v, "utf8").digest("hex"),
} as const;

/**
 * Rounds half away from zero to `factor` = 10^digits. The (1 + EPSILON) nudge makes decimal
 * halves that binary floating point stores a hair low (1.005) round up, as people expect.
 */
export function round(value: number, factor: number): number {
  if (!Number.isFinite(value)) return value;
  const rounded = Math.round(Math.abs(value) * factor * (1 + Number.EPSILON)) / factor;
  return value < 0 && rounded !== 0 ? -rounded : rounded;
}

// A decimal's text at its scale as its unscaled integer: "-12.50" at scale 2 is -1250n.
const unscaled = (text: string) => BigInt(text.replace(".", ""));

// Rounds a decimal field's values to `digits` after the point, half away from zero, exactly; the
// result keeps the field's scale ("12.35" rounded to 1 digit is "12.40").
function roundDecimal(name: string, scale: number, digits: number): Mutator {
  if (digits >= scale) return () => {};
  const step = 10n ** BigInt(scale - digits);
  return (e) => {
    const v = e[name];
    if (typeof v !== "string") return;
    const n = unscaled(v);
    const magnitude = ((n < 0n ? -n : n) + step / 2n) / step;
    e[name] = formatDecimal((n < 0n ? -magnitude : magnitude) * step, scale);
  };
}

// Limits a decimal field's values to [min, max] (both its own text), exactly.
function clampDecimal(name: string, scale: number, min: string, max: string): Mutator {
  const low = unscaled(min);
  const high = unscaled(max);
  return (e) => {
    const v = e[name];
    if (typeof v !== "string") return;
    const n = unscaled(v);
    if (n < low) e[name] = formatDecimal(low, scale);
    else if (n > high) e[name] = formatDecimal(high, scale);
  };
}

function requireNumeric(field: FieldShape, dataset: string, op: string): void {
  if (!isNumeric(field.kind)) throw mismatch(dataset, field, op, "a numeric field");
}
