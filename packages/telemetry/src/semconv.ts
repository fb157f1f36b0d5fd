// OpenTelemetry messaging semantic conventions (https://opentelemetry.io/docs/specs/semconv/messaging/),
// copied rather than imported: the messaging names are still incubating, and OpenTelemetry advises
// copying incubating names so a semconv release cannot rename them under us.

/** Resource attribute: the logical name of the service (stable). */
export const ATTR_SERVICE_NAME = "service.name";
/** Resource attribute: the version of the service (stable). */
export const ATTR_SERVICE_VERSION = "service.version";

/** The messaging system; ours is always {@link MESSAGING_SYSTEM_VALUE_NATS}. */
export const ATTR_MESSAGING_SYSTEM = "messaging.system";
/** The kind of messaging operation, one of {@link MessagingOperationType}. */
export const ATTR_MESSAGING_OPERATION_TYPE = "messaging.operation.type";
/** The system-specific operation name, e.g. `publish`, `fetch`, `ack`, `nak`, `term`. */
export const ATTR_MESSAGING_OPERATION_NAME = "messaging.operation.name";
/** The subject a message was published to or consumed from, e.g. `ingest.clicks`. */
export const ATTR_MESSAGING_DESTINATION_NAME = "messaging.destination.name";
/** The number of messages in a batch operation (for us: events in a frame, or frames in a commit). */
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count";
/** The message id: our frame id (the `Nats-Msg-Id` header). */
export const ATTR_MESSAGING_MESSAGE_ID = "messaging.message.id";
/** The consumer group: for JetStream, the durable consumer name (`processor`, `lake-writer-clicks`). */
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name";

/** The `messaging.system` value for NATS. */
export const MESSAGING_SYSTEM_VALUE_NATS = "nats";

/** Values of `messaging.operation.type`. */
export const MessagingOperationType = {
  /** Sending a message (a JetStream publish). */
  Publish: "publish",
  /** Handling a consumed message. */
  Process: "process",
  /** Pulling messages from the server (a JetStream fetch). */
  Receive: "receive",
  /** Deciding a message's fate: ack, nak, term. */
  Settle: "settle",
} as const;

/** A {@link MessagingOperationType} value. */
export type MessagingOperationType = (typeof MessagingOperationType)[keyof typeof MessagingOperationType];

/** Inlet attribute: the dataset an operation is about, e.g. `clicks`. */
export const ATTR_INLET_DATASET = "inlet.dataset";
/** Inlet attribute: the schema id of the payloads, e.g. `clicks@1`. */
export const ATTR_INLET_SCHEMA_ID = "inlet.schema_id";
/** Inlet attribute: the pipeline stage, e.g. `collector`, `processor`, `enricher`, `lake-writer`. */
export const ATTR_INLET_STAGE = "inlet.stage";
