export type { AvroColumn, AvroSchema } from "./avro-columns.js";
export { avroColumns } from "./avro-columns.js";
export { ByteArena } from "./byte-arena.js";
export type { BaseColumnKind, ColumnKindSpec, DecimalKind } from "./column-kind.js";
export {
  COLUMN_KINDS,
  ColumnKind,
  columnKindSpec,
  decimalKind,
  decimalShape,
  fitsDecimal,
  isColumnKind,
} from "./column-kind.js";
export type { ColumnValues } from "./column-vectors.js";
export { fitsColumn, Utf8Column } from "./column-vectors.js";
export type {
  CompactedPartition,
  CompactionResult,
  CompactTableOptions,
  PartitionValues,
} from "./compact-table.js";
export { compactTable, DEFAULT_TARGET_FILE_BYTES } from "./compact-table.js";
export type {
  AppendOptions,
  AppendResult,
  CuratedColumns,
  CuratedColumnsSource,
  CuratedRow,
  CuratedTableOptions,
  MergeResult,
} from "./curated-table.js";
export {
  CuratedTable,
  DEFAULT_CHECKPOINT_INTERVAL,
  EVENT_DATE_COLUMN,
  LineageColumn,
  PartitionBy,
  SCHEMA_VERSION_KEY,
} from "./curated-table.js";
export type { LastCheckpoint, WriteCheckpointOptions, WrittenCheckpoint } from "./delta-checkpoint.js";
export {
  LAST_CHECKPOINT_FILE,
  readCheckpointRows,
  readLastCheckpoint,
  writeCheckpoint,
} from "./delta-checkpoint.js";
export type {
  DeltaAction,
  DeltaAddFile,
  DeltaFileStats,
  DeltaMetadata,
  DeltaProtocol,
  DeltaRemoveFile,
  DeltaReplayPlan,
  DeltaSnapshot,
  DeltaTxn,
  ReadDeltaSnapshotOptions,
} from "./delta-log.js";
export {
  applyDeltaActions,
  commitDelta,
  deltaCommitVersions,
  parseAction,
  planDeltaReplay,
  readCommit,
  readDeltaSnapshot,
  serializeAction,
} from "./delta-log.js";
export {
  DEFAULT_DELETED_FILE_RETENTION_MS,
  DEFAULT_LOG_RETENTION_MS,
  deletedFileRetentionMs,
  expiredLogCleanupEnabled,
  logRetentionMs,
} from "./delta-properties.js";
export type {
  DeltaArrayType,
  DeltaMapType,
  DeltaStructField,
  DeltaStructType,
  DeltaType,
} from "./delta-schema.js";
export { duckDbTypeOf, parseDeltaSchema, partitionValueSql, sameDeltaType } from "./delta-schema.js";
export { DeltaConflictError, DeltaLogError, LakeError, LakeErrorCode, LakeSchemaError } from "./errors.js";
export type { CleanupDeltaLogOptions, CleanupDeltaLogResult } from "./log-cleanup.js";
export { cleanupDeltaLog } from "./log-cleanup.js";
export type {
  ParquetColumn,
  ParquetFileStats,
  ParquetWriteRequest,
  ParquetWriterOptions,
  ParquetWriteSource,
  WrittenParquetFile,
} from "./parquet-writer.js";
export { DEFAULT_PARQUET_MEMORY_LIMIT, ParquetWriter } from "./parquet-writer.js";
export {
  assertDatasetName,
  curatedTableDir,
  deltaCheckpointFileName,
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
export type { RawEvent, RawFrameEvents, RawZoneWriterOptions } from "./raw-zone.js";
export { RAW_RANGE_FIELDS, RawZoneWriter, rawRecordSchema } from "./raw-zone.js";
export { Serial } from "./serial.js";
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
export type { TableHistoryEntry, TableHistoryOptions } from "./table-history.js";
export { tableHistory } from "./table-history.js";
export type { VacuumResult, VacuumTableOptions } from "./vacuum-table.js";
export { DEFAULT_VACUUM_RETENTION_MS, vacuumTable } from "./vacuum-table.js";
