import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

/** Options of {@link connectBus}. */
export interface BusConnectOptions {
  /** NATS URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Connection name shown by the server (`/connz`), e.g. the service name. */
  name: string;
  user?: string;
  pass?: string;
  token?: string;
  /** Wait between reconnect attempts, in ms (default 500), plus a random jitter up to `reconnectJitterMs` (default 500). */
  reconnectTimeWaitMs?: number;
  reconnectJitterMs?: number;
  /** Timeout of JetStream API calls and PubAcks, in ms (default 5 s). */
  requestTimeoutMs?: number;
  /** Keep trying when no server answers at start instead of failing (default false). */
  waitOnFirstConnect?: boolean;
}

/** A connection to the bus: core NATS, the JetStream client and manager. */
export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Drains the connection (pending publishes and acks are flushed) and closes it. */
  close(): Promise<void>;
}

/**
 * Connects to NATS, reconnecting forever with jitter once connected (a NATS restart is survived),
 * and opens JetStream on it.
 */
export async function connectBus(options: BusConnectOptions): Promise<Bus> {
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.pass === undefined ? {} : { pass: options.pass }),
    ...(options.token === undefined ? {} : { token: options.token }),
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 500,
    reconnectJitter: options.reconnectJitterMs ?? 500,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    // By default nats.js captures a stack trace for every request when it starts (a RequestError
    // and a TimeoutError made in advance, to tell where a timeout came from): with async frames,
    // tens of µs each. Every PubAck is a request, so a stage paid it per frame: a fifth of the
    // collector's CPU with Pub/Sub messages of one event. Our errors name the subject themselves.
    noAsyncTraces: true,
  });
  const timeout = options.requestTimeoutMs ?? 5_000;
  try {
    const jsm = await jetstreamManager(nc, { timeout });
    const js = jetstream(nc, { timeout });
    return {
      nc,
      js,
      jsm,
      async close() {
        if (nc.isClosed()) return;
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
