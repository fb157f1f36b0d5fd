import {
  type Bus,
  createSubjects,
  DeadLetters,
  DurableName,
  decodeFrame,
  ensureConsumer,
  ensureConsumerExists,
  ensureStreams,
  frameHeaders,
  Header,
  publishFrame,
  publishWithRetry,
  type ReceivedFrame,
  type RunningConsumer,
  runConsumer,
  Stage,
  StreamName,
  stageFrameId,
  streamName,
  streamSpecs,
} from "@inlet/bus";
import type { SchemaRegistry } from "@inlet/schema";
import {
  consumedFrameAttributes,
  type Logger,
  type Meter,
  SpanKind,
  type Tracer,
  traceIdFromTraceparent,
  traceparentOfSpan,
  withSpan,
} from "@inlet/telemetry";
import type { JsMsg } from "@nats-io/jetstream";
import { headers as createHeaders } from "@nats-io/nats-core";
import type { Type } from "avsc";
import { alertMsgId, encodeAlert } from "./alert-message.js";
import type { CompiledRules } from "./dataset-rules.js";
import type { PipelineConfig } from "./pipeline-config.js";
import { processEvents } from "./process-events.js";
import { createProcessorMetrics, type FrameCounts } from "./processor-metrics.js";
import { RuleBook } from "./rule-book.js";

/** What {@link createProcessor} needs; main.ts builds these, tests build their own. */
export interface ProcessorDeps {
  /** A connected bus; its connection belongs to the caller. */
  bus: Bus;
  registry: SchemaRegistry;
  /** The parsed `pipeline.json`. */
  pipeline: PipelineConfig;
  logger: Logger;
  tracer: Tracer;
  meter: Meter;
  /** Stream replicas (`INLET_STREAM_REPLICAS`). */
  replicas: number;
  /** Frames handled at once (default 8). */
  concurrency?: number;
  /** Unacknowledged frames the server lets the consumer hold (default 64). */
  maxAckPending?: number;
  /** Deliveries of a failing frame before it is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** Prefix of stream names and subjects, so tests can share a server (default none). */
  streamPrefix?: string;
}

/** A processor: consumes INGEST, applies the pipeline rules, publishes to PROCESSED and ALERTS. */
export interface Processor {
  /** Ensures streams and consumers, checks the rules against registered schemas, starts consuming. */
  start(): Promise<void>;
  /** Stops pulling, finishes and acks the frames in flight. The bus stays open (the caller closes it). */
  stop(): Promise<void>;
  /** True between a successful start and stop. */
  ready(): boolean;
}

/** Builds a processor from its dependencies; nothing happens until `start()`. */
export function createProcessor(deps: ProcessorDeps): Processor {
  const { bus, logger, tracer } = deps;
  const prefix = deps.streamPrefix ?? "";
  const subjects = createSubjects(prefix);
  const deadLetters = new DeadLetters(bus.js, { subjects });
  const rules = new RuleBook(deps.pipeline, deps.registry, logger);
  const metrics = createProcessorMetrics(deps.meter);
  const ingest = streamName(StreamName.Ingest, prefix);
  const processed = streamName(StreamName.Processed, prefix);
  let consumer: RunningConsumer | undefined;

  // Applies the rules to a frame's events and starts every publish: the kept events as one frame,
  // each alert, each dead letter. The input is acked only when all of them are accepted.
  const route = (
    frame: ReceivedFrame,
    type: Type,
    compiled: CompiledRules,
    msgId: string,
    traceparent: string | undefined,
  ): { pending: Promise<unknown>[]; counts: FrameCounts } => {
    const { dataset, schemaId } = frame;
    // A payload that does not decode throws PayloadDecodeError: the frame is poison.
    const result = processEvents(decodeFrame(frame.body), type, schemaId, compiled);
    const pending: Promise<unknown>[] = [];
    if (result.out.length > 0) {
      pending.push(
        publishFrame(bus.js, subjects.processed(dataset), {
          events: result.out,
          schemaId,
          msgId,
          traceparent,
        }),
      );
    }
    const traceId = traceIdFromTraceparent(traceparent) ?? "";
    for (const hit of result.alerts) {
      const headers = createHeaders();
      headers.set(Header.MsgId, alertMsgId(hit.rule, hit.event.id));
      if (traceparent !== undefined) headers.set(Header.Traceparent, traceparent);
      const body = encodeAlert({
        rule: hit.rule,
        dataset,
        eventId: hit.event.id,
        ingestedAt: hit.event.ingestedAt,
        traceId,
        event: hit.record,
      });
      pending.push(publishWithRetry(bus.js, subjects.alert(hit.rule), body, headers));
    }
    for (const rejected of result.rejected) {
      pending.push(
        deadLetters.event({
          stage: Stage.Processor,
          dataset,
          code: rejected.error.code,
          reason: rejected.error.message,
          field: rejected.error.field,
          expected: rejected.error.expected,
          got: rejected.error.got,
          eventId: rejected.event.id,
          event: rejected.record,
          traceparent,
        }),
      );
    }
    const counts = {
      eventsIn: frame.count,
      eventsOut: result.out.length,
      filtered: result.filtered,
      alerted: result.alerts.length,
      deadLettered: result.rejected.length,
    };
    return { pending, counts };
  };

  const handle = async (frame: ReceivedFrame, msg: JsMsg): Promise<void> => {
    const started = performance.now();
    const { dataset, schemaId } = frame;
    const out = subjects.processed(dataset);
    await withSpan(
      tracer,
      `process ${frame.subject}`,
      {
        kind: SpanKind.CONSUMER,
        parent: frame.traceparent,
        attributes: consumedFrameAttributes(frame, DurableName.Processor, Stage.Processor),
      },
      async (span) => {
        const traceparent = traceparentOfSpan(span);
        const msgId = stageFrameId(Stage.Processor, dataset, frame.seq);
        const count = frame.count;
        if (!rules.hasRules(dataset)) {
          // No rules: the frame body goes on unchanged, not even decoded.
          const headers = frameHeaders({ msgId, schemaId, count, traceparent });
          await publishWithRetry(bus.js, out, msg.data, headers);
          metrics.frame(
            dataset,
            { eventsIn: count, eventsOut: count, filtered: 0, alerted: 0, deadLettered: 0 },
            (performance.now() - started) / 1_000,
          );
          return;
        }
        const { schema, rules: compiled } = await rules.forSchema(schemaId, dataset);
        // Decoded, processed and encoded in one synchronous call: while the publishes are awaited
        // the frame's events are garbage already, not objects that live through young collections.
        const { pending, counts } = route(frame, schema.type, compiled, msgId, traceparent);
        await settleAll(pending);
        if (counts.deadLettered > 0) {
          logger.warn(
            { dataset, schemaId, seq: frame.seq, rejected: counts.deadLettered },
            "events dead-lettered",
          );
        }
        metrics.frame(dataset, counts, (performance.now() - started) / 1_000);
      },
    );
  };

  return {
    async start() {
      await ensureStreams(bus.jsm, streamSpecs({ replicas: deps.replicas, prefix }));
      await ensureConsumer(bus.jsm, ingest, {
        durable: DurableName.Processor,
        maxAckPending: deps.maxAckPending ?? 64,
        description: "processor: filters, transforms and alerts",
      });
      await ensureConsumerExists(bus.jsm, processed, { durable: DurableName.Enricher });
      const checked = await rules.checkRegistered();
      logger.info({ schemas: checked }, "pipeline rules checked");
      consumer = await runConsumer({
        js: bus.js,
        stream: ingest,
        durable: DurableName.Processor,
        handle,
        stage: Stage.Processor,
        deadLetters,
        concurrency: deps.concurrency ?? 8,
        maxAttempts: deps.maxDeliveries ?? 5,
        logger,
      });
    },
    async stop() {
      const running = consumer;
      consumer = undefined;
      await running?.stop();
    },
    ready() {
      return consumer !== undefined;
    },
  };
}

// Waits for every publish, then throws the first failure: the frame is nak'ed only once nothing
// of it is still in flight.
async function settleAll(pending: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(pending);
  for (const result of results) if (result.status === "rejected") throw result.reason;
}
