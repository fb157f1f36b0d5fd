export type { Bus, BusConnectOptions } from "./connect.js";
export { connectBus } from "./connect.js";
export type { FrameHandler, RunConsumerOptions, RunningConsumer } from "./consumer.js";
export { runConsumer } from "./consumer.js";
export type { DeadLettersOptions, EventDeadLetter, FrameDeadLetter } from "./dead-letter.js";
export { DeadLetters } from "./dead-letter.js";
export type { DeadLetterProgressOptions } from "./dead-letter-progress.js";
export {
  DEAD_LETTER_PROGRESS_BUCKET,
  DeadLetterProgress,
  deadLetterProgressBucket,
} from "./dead-letter-progress.js";
export type {
  DeadLetterFilter,
  DeadLetterInfo,
  ListDeadLettersOptions,
  ReplayDeadLettersOptions,
  ReplayOutcome,
  ReplayReport,
  ReplayTotals,
} from "./dead-letter-replay.js";
export {
  deadLetterInfo,
  listDeadLetters,
  ReplayStatus,
  replayDeadLetters,
} from "./dead-letter-replay.js";
export { Delivery } from "./delivery.js";
export type { HandlerErrorOptions } from "./errors.js";
export {
  BusError,
  BusErrorCode,
  FrameError,
  PayloadDecodeError,
  PoisonError,
  TransientError,
} from "./errors.js";
export type {
  ChunkOptions,
  FrameEvent,
  FrameHead,
  FrameIdBytes,
  FrameVisitor,
  ReceivedFrame,
} from "./frame.js";
export {
  checkFrameBody,
  chunkEvents,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_FRAME_EVENTS,
  decodeFrame,
  encodeFrame,
  FRAME_SCHEMA,
  frameContentId,
  frameHeaders,
  readFrame,
  readFrameHead,
  walkFrame,
  walkFrameBody,
} from "./frame.js";
export { collectorFrameId, stageFrameId } from "./frame-id.js";
export { DlqKind, Header } from "./headers.js";
export type { BusLogger } from "./logger.js";
export { silentLogger } from "./logger.js";
export type { PerSchemaOptions } from "./per-schema.js";
export { PerSchema } from "./per-schema.js";
export type { FrameToPublish, PublishOptions } from "./publisher.js";
export { publishFrame, publishWithRetry } from "./publisher.js";
export { Semaphore } from "./semaphore.js";
export type { ConsumerSpec, EnsureAction, StreamSpec, StreamSpecOptions } from "./streams.js";
export {
  ARCHIVE_MAX_AGE_MS,
  DEFAULT_ARCHIVE_MAX_BYTES,
  DEFAULT_PIPELINE_MAX_BYTES,
  DUPLICATE_WINDOW_MS,
  DurableName,
  ensureConsumer,
  ensureStreams,
  StreamName,
  streamName,
  streamSpecs,
} from "./streams.js";
export type { SubjectWildcards } from "./subjects.js";
export {
  assertDatasetName,
  createSubjects,
  datasetOfSubject,
  isDatasetName,
  isStage,
  Stage,
  Subjects,
} from "./subjects.js";
export type { PipelineConsumer, TopologyOptions } from "./topology.js";
export {
  deleteConsumerIfExists,
  ensureConsumerExists,
  ensureTopology,
  pipelineConsumers,
} from "./topology.js";
