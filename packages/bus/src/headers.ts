/** The NATS header names Inlet writes and reads (docs/contracts.md). */
export const Header = {
  /** Frame id; JetStream drops a second message with the same id inside the duplicate window. */
  MsgId: "Nats-Msg-Id",
  /** Schema id of every payload in the frame, `clicks@1`. */
  Schema: "Inlet-Schema",
  /** Number of events in the frame. */
  Count: "Inlet-Count",
  /** W3C trace context of the span that produced the message. */
  Traceparent: "traceparent",
  /** Dead letter: the reason, one line. */
  Error: "Inlet-Error",
  /** Dead letter: the error code. */
  ErrorCode: "Inlet-Error-Code",
  /** Dead letter: the stage that rejected it. */
  Stage: "Inlet-Stage",
  /** Dead letter: the dataset. */
  Dataset: "Inlet-Dataset",
  /** Dead letter: the rejected event's id, when known. */
  EventId: "Inlet-Event-Id",
  /** Dead letter: `event` or `frame`. */
  DlqKind: "Inlet-DLQ-Kind",
  /** Frame dead letter: the subject the frame was read from. */
  SourceSubject: "Inlet-Source-Subject",
  /** Frame dead letter: the frame's stream sequence. */
  SourceSeq: "Inlet-Source-Seq",
  /** Frame dead letter: the frame's own `Nats-Msg-Id` (the dead letter has its own). */
  SourceMsgId: "Inlet-Source-Msg-Id",
  /** The collector's answer on `inlet.collect.<ds>`: its HTTP-like status (`200`, `207`, `400`, `503`…). */
  Status: "Inlet-Status",
  /** A replayed frame: the DLQ stream sequence of the dead letter it was replayed from (lineage). */
  ReplayOf: "Inlet-Replay-Of",
  /** A CDC frame that carries no changes but an operation on the whole table: `truncate`. */
  CdcOp: "Inlet-CDC-Op",
} as const;

/** One of {@link Header}. */
export type Header = (typeof Header)[keyof typeof Header];

/** The two kinds of dead letters, the value of `Inlet-DLQ-Kind`. */
export const DlqKind = {
  /** One rejected event; body JSON. */
  Event: "event",
  /** A whole frame; body the original frame bytes. */
  Frame: "frame",
} as const;

/** One of {@link DlqKind}. */
export type DlqKind = (typeof DlqKind)[keyof typeof DlqKind];
