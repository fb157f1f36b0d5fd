// OpenTelemetry messaging semantic conventions (https://opentelemetry.io/docs/specs/semconv/messaging/),
// copied rather than imported: the messaging names are still incubating, and OpenTelemetry advises
// copying incubating names so a semconv release cannot rename them under us.

import type { Attributes } from "@opentelemetry/api";

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

/** The frame a stage's span is about: one JetStream message it consumed (a frame of events). */
export interface ConsumedFrame {
  /** The subject it was read from, e.g. `ingest.clicks`. */
  readonly subject: string;
  readonly dataset: string;
  /** The schema id of its payloads, e.g. `clicks@1`. */
  readonly schemaId: string;
  /** Events in the frame. */
  readonly count: number;
  /** Its frame id (`Nats-Msg-Id`), when it has one. */
  readonly msgId?: string | undefined;
}

/**
 * The attributes of the span a stage opens over one frame it consumed: the messaging conventions'
 * (system, operation, subject, consumer group, message id, batch size) and Inlet's (dataset,
 * schema, stage). Every consuming hop uses these, so its spans read alike in any trace viewer.
 */
export function consumedFrameAttributes(
  frame: ConsumedFrame,
  consumerGroup: string,
  stage: string,
): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_NATS,
    [ATTR_MESSAGING_OPERATION_TYPE]: MessagingOperationType.Process,
    [ATTR_MESSAGING_OPERATION_NAME]: "process",
    [ATTR_MESSAGING_DESTINATION_NAME]: frame.subject,
    [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: consumerGroup,
    [ATTR_MESSAGING_MESSAGE_ID]: frame.msgId ?? "",
    [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: frame.count,
    [ATTR_INLET_DATASET]: frame.dataset,
    [ATTR_INLET_SCHEMA_ID]: frame.schemaId,
    [ATTR_INLET_STAGE]: stage,
  };
}
