import { type DeadLetters, Semaphore, Stage, type Subjects } from "@inlet/bus";
import type { RegisteredSchema } from "@inlet/schema";
import {
  ATTR_INLET_DATASET,
  ATTR_INLET_STAGE,
  type Logger,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  traceparentOfSpan,
  withSpan,
} from "@inlet/telemetry";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type BodyLimits, parseBody } from "./body.js";
import type { CollectorMetrics } from "./collector-metrics.js";
import type { InflightLimiter } from "./inflight.js";
import { IngestError, IngestErrorCode } from "./ingest-error.js";
import { type FrameOutcome, publishFrames } from "./publish-frames.js";
import { buildResponse, type IngestResponse } from "./response.js";
import { type Rejection, type ValidatedBatch, validateBatch } from "./validate-batch.js";

/** Where a request came in. */
export const Transport = { Http: "http", Nats: "nats", PubSub: "pubsub" } as const;

/** A {@link Transport} value. */
export type Transport = (typeof Transport)[keyof typeof Transport];

const SPAN_NAMES: Record<Transport, string> = {
  http: "POST /v1/events/:dataset",
  nats: "process inlet.collect",
  pubsub: "process pubsub message",
};

/** One ingest request, as any ingress hands it over. */
export interface IngestRequest {
  transport: Transport;
  dataset: string;
  body: Uint8Array;
  /** `Content-Type`, when the client sent one (`application/x-ndjson` selects NDJSON). */
  contentType: string | undefined;
  /** List only rejected and failed events in `results`. */
  errorsOnly: boolean;
  /** The client's W3C `traceparent`, when it sent one. */
  traceparent: string | undefined;
  /**
   * The id of the event at `index` of the body when it has no `_event_id` (default: a new UUIDv7).
   * An ingress that may deliver a message twice derives it from the message, so that both copies
   * make the same frames and JetStream keeps one.
   */
  assignedId?: (index: number) => string;
  /**
   * Nobody reads the answer (a subscription, not a client): a body refused as a whole (too large,
   * malformed, empty, of an unknown dataset) is dead-lettered, and when that dead letter cannot be
   * stored the answer is 503, to be tried again. Without it, only a malformed body is.
   */
  deadLetterRefusals?: boolean;
  /** The name of the access token the request came with, when the ingress checks tokens. */
  producer?: string;
}

/** The error body of a request refused as a whole (the runtime's HTTP error shape). */
export interface ErrorAnswer {
  error: { code: string; message: string };
}

/** The answer to one request: HTTP status (also sent on NATS as a header), JSON body, Retry-After. */
export interface IngestAnswer {
  status: number;
  body: IngestResponse | ErrorAnswer;
  /** Seconds, on a 503. */
  retryAfterSeconds?: number;
}

/** Where the latest schema of each dataset comes from (the {@link SchemaCache}). */
export interface LatestSchemas {
  latest(dataset: string): RegisteredSchema | undefined;
  datasets(): string[];
}

/** What {@link Ingestor} needs. */
export interface IngestorDeps {
  js: JetStreamClient;
  subjects: Subjects;
  deadLetters: DeadLetters;
  schemas: LatestSchemas;
  limiter: InflightLimiter;
  limits: BodyLimits;
  maxFrameEvents: number;
  /** Deadline of one frame publish (and of each dead letter), ms. */
  publishTimeoutMs: number;
  /** Retry-After sent on a 503, in seconds. */
  retryAfterSeconds: number;
  /** Why events cannot be taken now (e.g. no consumer reads INGEST yet), or undefined when they can. */
  unavailable: () => string | undefined;
  tracer: Tracer;
  metrics: CollectorMetrics;
  logger: Logger;
}

// Dead letters of one request published at once; the rest wait their turn.
const DEAD_LETTER_CONCURRENCY = 64;
// The raw text kept in the dead letter of a body that could not be split into events.
const MAX_RAW_DEAD_LETTER_CHARS = 64 * 1024;

/**
 * The ingest path shared by HTTP and NATS: parse the body, validate and encode each event against
 * its dataset's latest schema, dead-letter the rejected ones and publish the valid ones as frames,
 * then answer, only once every PubAck (and every dead letter) came back.
 */
export class Ingestor {
  readonly #deps: IngestorDeps;

  constructor(deps: IngestorDeps) {
    this.#deps = deps;
  }

  /** Handles one request under a SERVER span (child of the client's traceparent); never throws for a bad request. */
  handle(request: IngestRequest): Promise<IngestAnswer> {
    const { tracer, metrics } = this.#deps;
    const name = SPAN_NAMES[request.transport];
    const attributes = {
      [ATTR_INLET_DATASET]: request.dataset,
      [ATTR_INLET_STAGE]: "collector",
      transport: request.transport,
      ...(request.producer === undefined ? {} : { "inlet.producer": request.producer }),
    };
    const options = {
      // A subscription's message is consumed; a request, served.
      kind: request.transport === Transport.PubSub ? SpanKind.CONSUMER : SpanKind.SERVER,
      attributes,
      ...(request.traceparent === undefined ? {} : { parent: request.traceparent }),
    };
    return withSpan(tracer, name, options, async (span) => {
      let answer: IngestAnswer;
      try {
        answer = await this.#ingest(request, traceparentOfSpan(span));
      } catch (error) {
        if (!(error instanceof IngestError)) throw error;
        answer = {
          status: error.status,
          body: { error: { code: error.code, message: error.message } },
          ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
        };
      }
      span.setAttribute("http.response.status_code", answer.status);
      if (answer.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      metrics.request(request.transport, answer.status);
      return answer;
    });
  }

  // #ingestBody, with a body refused as a whole dead-lettered when the request asks for it (and a
  // malformed body always).
  async #ingest(request: IngestRequest, traceparent: string | undefined): Promise<IngestAnswer> {
    try {
      return await this.#ingestBody(request, traceparent);
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      const deadLettered =
        error.code === IngestErrorCode.MalformedBody || (request.deadLetterRefusals && error.status < 500);
      if (!deadLettered) throw error;
      const failure = await this.#deadLetterBody(request.dataset, request.body, error, traceparent);
      if (failure !== undefined && request.deadLetterRefusals) {
        throw new IngestError(
          IngestErrorCode.Unavailable,
          `dataset ${JSON.stringify(request.dataset)}: ${error.message}, and its dead letter could not be stored (${failure})`,
          { retryAfterSeconds: this.#deps.retryAfterSeconds },
        );
      }
      throw error;
    }
  }

  async #ingestBody(request: IngestRequest, traceparent: string | undefined): Promise<IngestAnswer> {
    const d = this.#deps;
    const { dataset } = request;
    const schema = d.schemas.latest(dataset);
    if (schema === undefined) {
      const known = d.schemas.datasets().join(", ");
      throw new IngestError(
        IngestErrorCode.UnknownDataset,
        `unknown dataset ${JSON.stringify(dataset)} (known: ${known === "" ? "none yet" : known})`,
      );
    }
    const unavailable = d.unavailable();
    if (unavailable !== undefined) {
      throw new IngestError(IngestErrorCode.Unavailable, unavailable, {
        retryAfterSeconds: d.retryAfterSeconds,
      });
    }
    if (d.limiter.full) throw this.#overloaded();

    const sent = this.#send(request, schema, traceparent);
    try {
      const [frames, deadLettered] = await Promise.all([sent.frames, sent.deadLettered]);
      const { failed, duplicates, rejected } = outcomeOf(sent, frames);
      const stored = sent.validCount - failed.size;
      if (stored > 0) d.metrics.accepted(dataset, stored);
      if (rejected.size > 0) d.metrics.rejected(dataset, rejected.size);
      if (failed.size > 0) {
        d.metrics.failed(dataset, failed.size);
        d.logger.warn(
          { dataset, failed: failed.size, reason: failed.values().next().value },
          "frames not stored",
        );
      }
      if (duplicates.size > 0) d.metrics.duplicates(dataset, duplicates.size);

      const built = buildResponse({ ids: sent.ids, rejected, failed, duplicates }, request.errorsOnly);
      if (deadLettered !== undefined && built.status < 500) {
        // The rejected events are not in the DLQ yet: the client must send them again.
        return {
          status: 503,
          body: {
            ...built.body,
            error: `rejected events could not be dead-lettered (${deadLettered}): retry the request`,
          },
          retryAfterSeconds: d.retryAfterSeconds,
        };
      }
      return built.status === 503 ? { ...built, retryAfterSeconds: d.retryAfterSeconds } : built;
    } finally {
      d.limiter.release(sent.count, sent.bytes);
    }
  }

  // Parses, validates and encodes the body within the in-flight limits, and starts publishing its
  // frames and dead letters. Synchronous on purpose: the parsed and encoded events are garbage once
  // it returns, rather than live through young collections while the publishes are awaited.
  #send(request: IngestRequest, schema: RegisteredSchema, traceparent: string | undefined): SentBatch {
    const d = this.#deps;
    const { dataset } = request;
    const body = parseBody(request.body, request.contentType, d.limits);
    const count = body.events.length;
    const bytes = request.body.byteLength;
    if (!d.limiter.tryAcquire(count, bytes)) throw this.#overloaded();
    try {
      const batch = validateBatch(body, schema, Date.now(), request.assignedId);
      return {
        count,
        bytes,
        ids: batch.ids,
        validIndex: batch.validIndex,
        rejected: batch.rejected,
        validCount: batch.valid.length,
        frames:
          batch.valid.length === 0
            ? Promise.resolve([])
            : publishFrames(batch.valid, {
                js: d.js,
                tracer: d.tracer,
                metrics: d.metrics,
                subject: d.subjects.ingest(dataset),
                dataset,
                schemaId: schema.id,
                maxFrameEvents: d.maxFrameEvents,
                timeoutMs: d.publishTimeoutMs,
              }),
        deadLettered: this.#deadLetterEvents(dataset, batch.rejected, traceparent),
      };
    } catch (error) {
      d.limiter.release(count, bytes);
      throw error;
    }
  }

  #overloaded(): IngestError {
    return new IngestError(IngestErrorCode.Overloaded, this.#deps.limiter.refusal, {
      retryAfterSeconds: this.#deps.retryAfterSeconds,
    });
  }

  /** Dead-letters every rejected event; resolves with why it failed, or undefined when all were stored. */
  async #deadLetterEvents(
    dataset: string,
    rejected: ReadonlyMap<number, Rejection>,
    traceparent: string | undefined,
  ): Promise<string | undefined> {
    if (rejected.size === 0) return undefined;
    const { deadLetters, logger } = this.#deps;
    const slots = new Semaphore(DEAD_LETTER_CONCURRENCY);
    let failure: string | undefined;
    const publishes: Promise<void>[] = [];
    for (const rejection of rejected.values()) {
      await slots.acquire();
      const first = rejection.errors[0];
      publishes.push(
        deadLetters
          .event({
            stage: Stage.Collector,
            dataset,
            code: rejection.code,
            reason: rejection.errors.map((e) => e.message).join("; "),
            ...(first === undefined ? {} : { field: first.field, expected: first.expected, got: first.got }),
            ...(rejection.id === undefined ? {} : { eventId: rejection.id }),
            event: rejection.event,
            ...(traceparent === undefined ? {} : { traceparent }),
          })
          .then(
            () => undefined,
            (error: unknown) => {
              failure ??= error instanceof Error ? error.message : String(error);
            },
          )
          .finally(() => slots.release()),
      );
    }
    await Promise.all(publishes);
    if (failure !== undefined) logger.error({ dataset, reason: failure }, "dead letters not stored");
    return failure;
  }

  /**
   * One dead letter for a body refused as a whole: the raw text, cut to a bound. Resolves with why
   * it could not be stored, or undefined once it is.
   */
  async #deadLetterBody(
    dataset: string,
    bytes: Uint8Array,
    error: IngestError,
    traceparent: string | undefined,
  ): Promise<string | undefined> {
    const { deadLetters, logger } = this.#deps;
    const raw = Buffer.from(
      bytes.buffer,
      bytes.byteOffset,
      Math.min(bytes.byteLength, MAX_RAW_DEAD_LETTER_CHARS * 4),
    )
      .toString("utf8")
      .slice(0, MAX_RAW_DEAD_LETTER_CHARS);
    try {
      await deadLetters.event({
        stage: Stage.Collector,
        dataset,
        code: error.code,
        reason: `dataset ${JSON.stringify(dataset)}: ${error.message}`,
        event: raw,
        ...(traceparent === undefined ? {} : { traceparent }),
      });
      this.#deps.metrics.rejected(dataset, 1);
      return undefined;
    } catch (failure) {
      // A client is told 400 either way; a subscription's message is tried again (#ingest).
      logger.error({ err: failure, dataset }, "dead letter of a refused body not stored");
      return failure instanceof Error ? failure.message : String(failure);
    }
  }
}

/**
 * A body under way: what its answer needs (ids by body index, where each valid event came from, the
 * refusals) and the publishes started, with the in-flight budget it holds.
 */
interface SentBatch extends Pick<ValidatedBatch, "ids" | "validIndex" | "rejected"> {
  /** Events and bytes of the body, held in the in-flight limiter until the answer. */
  count: number;
  bytes: number;
  validCount: number;
  frames: Promise<FrameOutcome[]>;
  /** Why the rejected events could not be dead-lettered, if they could not. */
  deadLettered: Promise<string | undefined>;
}

/** Maps frame outcomes back to body indexes: which valid events failed, which were duplicates. */
function outcomeOf(batch: Pick<ValidatedBatch, "validIndex" | "rejected">, frames: readonly FrameOutcome[]) {
  const failed = new Map<number, string>();
  const duplicates = new Set<number>();
  for (const frame of frames) {
    for (let i = frame.start; i < frame.start + frame.count; i++) {
      const index = batch.validIndex[i]!;
      if (!frame.stored) failed.set(index, frame.reason);
      else if (frame.duplicate) duplicates.add(index);
    }
  }
  const rejected = new Map<number, Rejection["errors"]>();
  for (const [index, rejection] of batch.rejected) rejected.set(index, rejection.errors);
  return { failed, duplicates, rejected };
}
