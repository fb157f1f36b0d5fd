export type { AvroSchema, AvroType } from "./avro-type.js";
export { createAvroType, describeType, normalizedSchema } from "./avro-type.js";
export type { CdcAttribute } from "./cdc-record.js";
export { CDC_ATTRIBUTE, ChangeField, ChangeOp, cdcKeyOf } from "./cdc-record.js";
export type { CompatibilityResult } from "./compatibility.js";
export { CompatibilityMode, checkCompatibility, isCompatibilityMode } from "./compatibility.js";
export type { DatasetDefinition, DatasetRegistration, DatasetSettings } from "./datasets.js";
export { loadDatasets, registerDatasets } from "./datasets.js";
export type { DecimalShape } from "./decimal.js";
export {
  DecimalType,
  decimalBytes,
  decimalFromBytes,
  formatDecimal,
  MAX_DECIMAL_PRECISION,
  parseDecimal,
} from "./decimal.js";
export type {
  Click,
  DatasetTypes,
  DemoDatasetName,
  SensorReading,
  Transaction,
} from "./generated/datasets.js";
export type {
  RegisteredSchema,
  RegisterOptions,
  RegisterResult,
  SchemaRegistryOptions,
} from "./registry.js";
export { SCHEMA_BUCKET, SchemaRegistry } from "./registry.js";
export { SchemaError, SchemaErrorCode } from "./schema-error.js";
export type { SchemaRef } from "./schema-id.js";
export {
  assertDatasetName,
  DATASET_NAME_PATTERN,
  DEAD_LETTERS_DATASET,
  formatSchemaId,
  isDatasetName,
  parseSchemaId,
} from "./schema-id.js";
export { parseTimestampMillis, TimestampMillisType } from "./timestamp-millis.js";
export type { ValidationIssue } from "./validate-event.js";
export { validateEvent } from "./validate-event.js";
