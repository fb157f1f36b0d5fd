export type { AvroColumn, AvroSchema } from "./avro-columns.js";
export { avroColumns } from "./avro-columns.js";
export type { ColumnKindSpec } from "./column-kind.js";
export { COLUMN_KINDS, ColumnKind } from "./column-kind.js";
export type { AppendResult, CuratedRow, CuratedTableOptions } from "./curated-table.js";
export {
  CuratedTable,
  EVENT_DATE_COLUMN,
  LineageColumn,
  PartitionBy,
  SCHEMA_VERSION_KEY,
} from "./curated-table.js";
export type {
  DeltaAction,
  DeltaAddFile,
  DeltaFileStats,
  DeltaMetadata,
  DeltaProtocol,
  DeltaRemoveFile,
  DeltaSnapshot,
  DeltaTxn,
  ReadDeltaSnapshotOptions,
} from "./delta-log.js";
export {
  applyDeltaActions,
  commitDelta,
  parseAction,
  readCommit,
  readDeltaSnapshot,
  serializeAction,
} from "./delta-log.js";
export type {
  DeltaArrayType,
  DeltaMapType,
  DeltaStructField,
  DeltaStructType,
  DeltaType,
} from "./delta-schema.js";
export { duckDbTypeOf, parseDeltaSchema, partitionValueSql, sameDeltaType } from "./delta-schema.js";
export { DeltaConflictError, DeltaLogError, LakeError, LakeErrorCode, LakeSchemaError } from "./errors.js";
export type {
  ParquetColumn,
  ParquetFileStats,
  ParquetWriteRequest,
  ParquetWriterOptions,
  WrittenParquetFile,
} from "./parquet-writer.js";
export { ParquetWriter } from "./parquet-writer.js";
export {
  assertDatasetName,
  curatedTableDir,
  deltaCommitFileName,
  deltaFilePath,
  deltaLogDir,
  encodeDeltaPath,
  HIVE_NULL_PARTITION,
  hivePartitionSegment,
  MS_PER_DAY,
  rawDatasetDir,
  rawPartitionDir,
  utcDateOfDay,
  utcDayOf,
} from "./paths.js";
export type { RawEvent, RawZoneWriterOptions } from "./raw-zone.js";
export { RawZoneWriter, rawRecordSchema } from "./raw-zone.js";
export { snapshotScanSql } from "./snapshot-scan.js";
export { quoteIdent, quoteString } from "./sql.js";
export type {
  SqlColumn,
  SqlDataset,
  SqlDatasetDetail,
  SqlEngineOptions,
  SqlQueryOptions,
  SqlResult,
  SqlRows,
} from "./sql-engine.js";
export { SqlEngine, SqlEngineError, SqlEngineErrorCode, SqlFormat } from "./sql-engine.js";
