import { datasetOfSubject, Header, type Subjects } from "@inlet/bus";
import type { Logger } from "@inlet/telemetry";
import {
  headers as createHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import { type Ingestor, Transport } from "./ingest.js";

/** The queue group every collector instance joins, so each request is handled once. */
export const COLLECT_QUEUE_GROUP = "collector";

/** Request header: `errors` lists only the events that were not accepted (like `?results=errors`). */
export const RESULTS_HEADER = "Inlet-Results";

/** A running NATS request/reply ingress. */
export interface NatsIngress {
  /** Stops taking requests and waits for those in flight to be answered. */
  stop(): Promise<void>;
}

/** What {@link startNatsIngress} needs. */
export interface NatsIngressDeps {
  nc: NatsConnection;
  subjects: Subjects;
  ingestor: Ingestor;
  logger: Logger;
}

/**
 * Subscribes to `inlet.collect.*` in queue group `collector`: each request body is ingested like an
 * HTTP one and answered with the same JSON, the status in header `Inlet-Status` (and `Retry-After`
 * on a 503). Request headers may carry `traceparent`, `Content-Type` and `Inlet-Results: errors`.
 */
export function startNatsIngress(deps: NatsIngressDeps): NatsIngress {
  const { nc, subjects, ingestor, logger } = deps;
  const inFlight = new Set<Promise<void>>();
  const encoder = new TextEncoder();

  const handle = async (msg: Msg): Promise<void> => {
    const dataset = datasetOfSubject(msg.subject) ?? msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    const answer = await ingestor.handle({
      transport: Transport.Nats,
      dataset,
      body: msg.data,
      contentType: msg.headers?.get("Content-Type") || undefined,
      errorsOnly: msg.headers?.get(RESULTS_HEADER) === "errors",
      traceparent: msg.headers?.get("traceparent") || undefined,
    });
    if (msg.reply === undefined || msg.reply === "") return;
    const h = createHeaders();
    h.set(Header.Status, String(answer.status));
    h.set("Content-Type", "application/json");
    if (answer.retryAfterSeconds !== undefined) h.set("Retry-After", String(answer.retryAfterSeconds));
    msg.respond(encoder.encode(JSON.stringify(answer.body)), { headers: h });
  };

  const subscription: Subscription = nc.subscribe(subjects.all.collect, {
    queue: COLLECT_QUEUE_GROUP,
    callback: (err, msg) => {
      if (err !== null) {
        logger.warn({ err }, "collect subscription error");
        return;
      }
      const work = handle(msg)
        .catch((error: unknown) => {
          logger.error({ err: error, subject: msg.subject }, "collect request failed");
          if (msg.reply) {
            const h = createHeaders();
            h.set(Header.Status, "500");
            msg.respond(
              encoder.encode(JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } })),
              {
                headers: h,
              },
            );
          }
        })
        .finally(() => inFlight.delete(work));
      inFlight.add(work);
    },
  });

  return {
    async stop() {
      await subscription.drain().catch(() => subscription.unsubscribe());
      await Promise.all(inFlight);
    },
  };
}
