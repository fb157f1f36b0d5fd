import avsc from "avsc";
import { type AvroSchema, type AvroType, createAvroType, describeType } from "./avro-type.js";
import { DecimalType } from "./decimal.js";
import { shorten } from "./render-value.js";

/** How a new schema version must relate to the latest one. */
export const CompatibilityMode = {
  /** Readers of the new schema can read data written with the old one (the default). */
  Backward: "BACKWARD",
  /** Readers of the old schema can read data written with the new one. */
  Forward: "FORWARD",
  /** Both BACKWARD and FORWARD. */
  Full: "FULL",
  /** Any change is accepted. */
  None: "NONE",
} as const;

/** A {@link CompatibilityMode} value. */
export type CompatibilityMode = (typeof CompatibilityMode)[keyof typeof CompatibilityMode];

/** The verdict of {@link checkCompatibility}; `reason` explains a refusal. */
export interface CompatibilityResult {
  compatible: boolean;
  reason?: string;
}

/** Whether `value` is a {@link CompatibilityMode}. */
export function isCompatibilityMode(value: unknown): value is CompatibilityMode {
  return Object.values(CompatibilityMode).includes(value as CompatibilityMode);
}

/**
 * Checks `newSchema` against `oldSchema` under `mode` (default BACKWARD) with avsc resolvers:
 * BACKWARD means `newType.createResolver(oldType)` succeeds. A refusal names the field and why.
 */
export function checkCompatibility(
  newSchema: AvroSchema | AvroType,
  oldSchema: AvroSchema | AvroType,
  mode: CompatibilityMode = CompatibilityMode.Backward,
): CompatibilityResult {
  if (mode === CompatibilityMode.None) return { compatible: true };
  const newType = toType(newSchema);
  const oldType = toType(oldSchema);
  if (mode === CompatibilityMode.Backward || mode === CompatibilityMode.Full) {
    const why = whyUnreadable(newType, oldType, "new", "old");
    if (why !== undefined) {
      return {
        compatible: false,
        reason: `not ${mode} compatible: the new schema cannot read data written with the old one: ${why}`,
      };
    }
  }
  if (mode === CompatibilityMode.Forward || mode === CompatibilityMode.Full) {
    const why = whyUnreadable(oldType, newType, "old", "new");
    if (why !== undefined) {
      return {
        compatible: false,
        reason: `not ${mode} compatible: the old schema cannot read data written with the new one: ${why}`,
      };
    }
  }
  return { compatible: true };
}

function toType(schema: AvroSchema | AvroType): AvroType {
  return avsc.Type.isType(schema) ? (schema as AvroType) : createAvroType(schema as AvroSchema);
}

function canRead(reader: AvroType, writer: AvroType): boolean {
  try {
    reader.createResolver(writer);
    return true;
  } catch {
    return false;
  }
}

/** Undefined when `reader` can read `writer`'s data, else one human reason. */
function whyUnreadable(reader: AvroType, writer: AvroType, r: string, w: string): string | undefined {
  const decimal = decimalConflict(reader, writer, "", r, w);
  if (decimal !== undefined) return decimal;
  let failure: unknown;
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    failure = err;
  }
  return explain(reader, writer, "", r, w) ?? shorten(String((failure as Error)?.message ?? failure), 300);
}

// Walks down to the first field that cannot be resolved and says why, in terms of old and new.
function explain(reader: AvroType, writer: AvroType, path: string, r: string, w: string): string | undefined {
  const where = path === "" ? "the record" : `field ${JSON.stringify(path)}`;
  const readerKind = reader.typeName;
  const writerKind = writer.typeName;

  if (writerKind.startsWith("union:") && !readerKind.startsWith("union:")) {
    for (const branch of (writer as avsc.types.UnwrappedUnionType).types) {
      if (!canRead(reader, branch)) {
        return `${where} is ${describeType(writer)} in the ${w} schema but ${describeType(reader)} in the ${r} one, which cannot hold ${describeType(branch)}`;
      }
    }
  }
  if ((readerKind === "record" || readerKind === "error") && readerKind === writerKind) {
    const readerRecord = reader as avsc.types.RecordType;
    const writerRecord = writer as avsc.types.RecordType;
    if (!sameOrAliased(readerRecord, writerRecord)) {
      return `${where} is named ${writerRecord.name} in the ${w} schema but ${readerRecord.name} in the ${r} one (add an alias)`;
    }
    for (const field of readerRecord.fields) {
      const fieldPath = path === "" ? field.name : `${path}.${field.name}`;
      const source = [field.name, ...field.aliases]
        .map((n) => writerRecord.field(n))
        .find((f) => f !== undefined);
      if (source === undefined) {
        if (field.defaultValue() === undefined) {
          return `field ${JSON.stringify(fieldPath)} is in the ${r} schema but not in the ${w} one, and has no default`;
        }
        continue;
      }
      if (!canRead(field.type, source.type)) return explain(field.type, source.type, fieldPath, r, w);
    }
    return undefined;
  }
  if (readerKind === "enum" && writerKind === "enum") {
    const known = new Set((reader as avsc.types.EnumType).symbols);
    const missing = (writer as avsc.types.EnumType).symbols.filter((s) => !known.has(s));
    if (missing.length > 0) {
      return `${where}: the ${w} schema has symbol(s) ${missing.join(", ")} that the ${r} one lacks (and it has no default symbol)`;
    }
  }
  if (readerKind === "array" && writerKind === "array") {
    const items = (reader as avsc.types.ArrayType).itemsType;
    return explain(items, (writer as avsc.types.ArrayType).itemsType, `${path}[]`, r, w);
  }
  if (readerKind === "map" && writerKind === "map") {
    const values = (reader as avsc.types.MapType).valuesType as AvroType;
    return explain(values, (writer as avsc.types.MapType).valuesType as AvroType, `${path}{}`, r, w);
  }
  return `${where} is ${describeType(writer)} in the ${w} schema but ${describeType(reader)} in the ${r} one, which cannot read it`;
}

function sameOrAliased(reader: avsc.types.RecordType, writer: avsc.types.RecordType): boolean {
  return reader.name === writer.name || (reader.aliases ?? []).includes(writer.name ?? "");
}

// Avro lets a string read bytes, so a decimal read as anything but the same decimal would pass
// avsc's resolver and read its two's complement as text: refused here, field by field.
function decimalConflict(
  reader: AvroType,
  writer: AvroType,
  path: string,
  r: string,
  w: string,
): string | undefined {
  const readerBase = nonNull(reader);
  const writerBase = nonNull(writer);
  if (readerBase instanceof DecimalType || writerBase instanceof DecimalType) {
    const same =
      readerBase instanceof DecimalType &&
      writerBase instanceof DecimalType &&
      readerBase.precision === writerBase.precision &&
      readerBase.scale === writerBase.scale;
    if (same) return undefined;
    const where = path === "" ? "the record" : `field ${JSON.stringify(path)}`;
    return `${where} is ${describeType(writer)} in the ${w} schema but ${describeType(reader)} in the ${r} one (a decimal reads only as the same precision and scale)`;
  }
  if (readerBase.typeName !== "record" || writerBase.typeName !== "record") return undefined;
  const writerRecord = writerBase as avsc.types.RecordType;
  for (const field of (readerBase as avsc.types.RecordType).fields) {
    const source = [field.name, ...field.aliases]
      .map((n) => writerRecord.field(n))
      .find((f) => f !== undefined);
    if (source === undefined) continue;
    const why = decimalConflict(
      field.type,
      source.type,
      path === "" ? field.name : `${path}.${field.name}`,
      r,
      w,
    );
    if (why !== undefined) return why;
  }
  return undefined;
}

// The one non-null branch of a nullable union, or the type itself.
function nonNull(type: AvroType): AvroType {
  if (!type.typeName.startsWith("union:")) return type;
  const branches = (type as avsc.types.UnwrappedUnionType).types.filter((t) => t.typeName !== "null");
  return branches.length === 1 ? branches[0]! : type;
}
