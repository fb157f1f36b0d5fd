import { Agent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Transport } from "./options.js";

/** One request to send: an NDJSON body of one dataset. `onAck` runs when the collector stored it. */
export interface Outgoing {
  dataset: string;
  data: Buffer;
  events: number;
  onAck?: (ackAt: number) => void;
}

/** What the producers did. */
export interface LoadStats {
  requests: number;
  /** Events the collector stored. */
  accepted: number;
  /** Events the collector refused as invalid. */
  rejected: number;
  /** 503 answers (backpressure), each followed by a back-off and a retry. */
  busy: number;
  /** Other failures (retried as well). */
  errors: number;
  lastError?: string;
}

/** A fresh {@link LoadStats}. */
export function emptyStats(): LoadStats {
  return { requests: 0, accepted: 0, rejected: 0, busy: 0, errors: 0 };
}

type Outcome =
  | { kind: "ok"; accepted: number; rejected: number }
  | { kind: "busy"; accepted: number; retryAfterMs: number }
  | { kind: "error"; message: string };

/** Sends bodies to the collector over HTTP (keep-alive) or NATS request/reply. */
export class CollectorClient {
  readonly #url: URL;
  readonly #agent: Agent;
  readonly #nc: NatsConnection | undefined;

  private constructor(collectorUrl: string, agent: Agent, nc: NatsConnection | undefined) {
    this.#url = new URL(collectorUrl);
    this.#agent = agent;
    this.#nc = nc;
  }

  /** Opens the transport; `natsUrl` is needed for {@link Transport.Nats}. */
  static async create(transport: Transport, collectorUrl: string, natsUrl: string): Promise<CollectorClient> {
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    const nc =
      transport === Transport.Nats
        ? await connect({ servers: natsUrl, name: "inlet-bench-producer" })
        : undefined;
    return new CollectorClient(collectorUrl, agent, nc);
  }

  /** Sends one body once; never throws. */
  send(dataset: string, data: Buffer): Promise<Outcome> {
    return this.#nc === undefined ? this.#http(dataset, data) : this.#nats(this.#nc, dataset, data);
  }

  async close(): Promise<void> {
    this.#agent.destroy();
    await this.#nc?.close();
  }

  #http(dataset: string, data: Buffer): Promise<Outcome> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: this.#url.hostname,
          port: this.#url.port,
          method: "POST",
          path: `/v1/events/${dataset}?results=errors`,
          agent: this.#agent,
          headers: { "content-type": "application/x-ndjson", "content-length": data.byteLength },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve(
              outcomeOf(
                res.statusCode ?? 0,
                Buffer.concat(chunks).toString("utf8"),
                res.headers["retry-after"],
              ),
            ),
          );
          res.on("error", (err) => resolve({ kind: "error", message: err.message }));
        },
      );
      req.on("timeout", () => req.destroy(new Error("request timed out")));
      req.on("error", (err) => resolve({ kind: "error", message: err.message }));
      req.end(data);
    });
  }

  async #nats(nc: NatsConnection, dataset: string, data: Buffer): Promise<Outcome> {
    const h = natsHeaders();
    h.set("Inlet-Results", "errors");
    h.set("Content-Type", "application/x-ndjson");
    try {
      const reply = await nc.request(`inlet.collect.${dataset}`, data, { timeout: 60_000, headers: h });
      const status = Number(reply.headers?.get("Inlet-Status") ?? "200");
      return outcomeOf(status, reply.string(), reply.headers?.get("Retry-After"));
    } catch (err) {
      return { kind: "error", message: err instanceof Error ? err.message : String(err) };
    }
  }
}

function outcomeOf(status: number, text: string, retryAfter: string | string[] | undefined): Outcome {
  let body: { accepted?: number; rejected?: number; error?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: judged by the status alone
  }
  if (status === 200 || status === 400) {
    return { kind: "ok", accepted: body.accepted ?? 0, rejected: body.rejected ?? 0 };
  }
  if (status === 503) {
    const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    return {
      kind: "busy",
      accepted: body.accepted ?? 0,
      retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : 1_000,
    };
  }
  return { kind: "error", message: `HTTP ${status}: ${text.slice(0, 200)}` };
}

// Backoff after a 503: short at first (pushing as hard as the collector accepts), never longer than
// the collector's Retry-After.
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

/**
 * Sends `body` until the collector stores it (retrying after 503s and errors with backoff) or the
 * signal aborts; counts into `stats`.
 */
export async function deliver(
  client: CollectorClient,
  body: Outgoing,
  stats: LoadStats,
  signal: AbortSignal,
): Promise<void> {
  let backoff = FIRST_BACKOFF_MS;
  while (!signal.aborted) {
    stats.requests++;
    const outcome = await client.send(body.dataset, body.data);
    if (outcome.kind === "ok") {
      stats.accepted += outcome.accepted;
      stats.rejected += outcome.rejected;
      if (outcome.accepted > 0) body.onAck?.(performance.now());
      return;
    }
    let wait = backoff;
    if (outcome.kind === "busy") {
      stats.busy++;
      // Some events may have been stored before the bus refused: count them and move on rather
      // than send them twice (they carry no ids, so a retry would make new rows).
      if (outcome.accepted > 0) {
        stats.accepted += outcome.accepted;
        return;
      }
      wait = Math.min(backoff, outcome.retryAfterMs);
    } else {
      stats.errors++;
      stats.lastError = outcome.message;
    }
    await sleep(wait * (0.5 + Math.random() / 2), undefined, { signal }).catch(() => {});
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

/** Options of {@link runClosedLoop}. */
export interface ClosedLoopOptions {
  client: CollectorClient;
  next: () => Outgoing;
  /** Requests in flight. */
  concurrency: number;
  stats: LoadStats;
  signal: AbortSignal;
  /** While this says true, workers hold off (the pipeline's backlog is at its bound). */
  paused?: () => boolean;
}

/** `concurrency` workers, each sending the next body as soon as the previous one was stored. */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<void> {
  const { client, next, stats, signal, paused } = options;
  const worker = async () => {
    while (!signal.aborted) {
      if (paused?.()) {
        await sleep(20, undefined, { signal }).catch(() => {});
        continue;
      }
      await deliver(client, next(), stats, signal);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}

/** Options of {@link runAtRate}. */
export interface RateOptions {
  client: CollectorClient;
  next: () => Outgoing;
  /** Target events per second. */
  eventsPerS: number;
  /** Events per body (to turn the rate into requests). */
  eventsPerBody: number;
  stats: LoadStats;
  signal: AbortSignal;
  /** Most requests in flight; past it the sender falls behind (counted in `lagging`). Default 64. */
  maxInFlight?: number;
}

/** Sends bodies at a steady rate (open loop: sends do not wait for earlier answers). Resolves with ticks it fell behind. */
export async function runAtRate(options: RateOptions): Promise<{ lagging: number }> {
  const { client, next, stats, signal } = options;
  const maxInFlight = options.maxInFlight ?? 64;
  const bodiesPerS = options.eventsPerS / options.eventsPerBody;
  const started = performance.now();
  let sent = 0;
  let lagging = 0;
  const inFlight = new Set<Promise<void>>();
  while (!signal.aborted) {
    const due = Math.floor(((performance.now() - started) / 1000) * bodiesPerS);
    while (sent < due) {
      if (inFlight.size >= maxInFlight) {
        lagging++;
        break;
      }
      sent++;
      const p: Promise<void> = deliver(client, next(), stats, signal).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(10, undefined, { signal }).catch(() => {});
  }
  await Promise.all(inFlight);
  return { lagging };
}
