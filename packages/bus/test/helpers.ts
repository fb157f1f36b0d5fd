import type { NatsServer } from "@inlet/testing";
import { uniqueName } from "@inlet/testing";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { type Bus, connectBus } from "../src/connect.js";
import type { FrameEvent } from "../src/frame.js";
import { ensureStreams, type StreamName, streamName, streamSpecs } from "../src/streams.js";
import { createSubjects, type Subjects } from "../src/subjects.js";

/** A connection plus a private set of streams (unique prefix) on a shared server. */
export interface TestBus {
  bus: Bus;
  prefix: string;
  subjects: Subjects;
  stream(name: StreamName): string;
  close(): Promise<void>;
}

/** Connects (reconnecting fast) and creates this test's streams, 16 MiB each unless told. */
export async function openTestBus(
  server: NatsServer,
  maxBytes: Partial<Record<StreamName, number>> = {},
): Promise<TestBus> {
  const bus = await connectBus({
    servers: server.url,
    name: "bus-test",
    reconnectTimeWaitMs: 100,
    reconnectJitterMs: 100,
  });
  const prefix = uniqueName("t");
  const limit = 16 * 1024 ** 2;
  await ensureStreams(
    bus.jsm,
    streamSpecs({
      prefix,
      maxBytes: {
        INGEST: limit,
        PROCESSED: limit,
        CURATED: limit,
        CDC: limit,
        DLQ: limit,
        ALERTS: limit,
        ...maxBytes,
      },
    }),
  );
  return {
    bus,
    prefix,
    subjects: createSubjects(prefix),
    stream: (name) => streamName(name, prefix),
    close: () => bus.close(),
  };
}

/** `n` small events with ids `<tag>-<i>`. */
export function makeEvents(n: number, tag = "e", payloadBytes = 16): FrameEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    ingestedAt: 1_767_225_600_000 + i,
    payload: new Uint8Array(payloadBytes).fill(i % 256),
  }));
}

/** How many messages a stream holds now. */
export async function messageCount(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/** Every message a stream holds, read by sequence (for small streams in tests). */
export async function storedMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg !== null) out.push(msg);
  }
  return out;
}
