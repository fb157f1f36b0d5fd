/** What waits in the pipeline, from nats-server's `/jsz` monitoring endpoint. */
export interface Backlog {
  /** Frames held per pipeline stream (INGEST, PROCESSED, CURATED): not yet acked by every consumer. */
  frames: Record<string, number>;
  /** Frames held in the pipeline streams, in all. */
  held: number;
  /** Frames not yet delivered, per durable consumer (`INGEST/processor`, …): the queue in front of each stage. */
  pending: Record<string, number>;
  /** Frames not yet delivered, over every consumer of the pipeline streams. */
  queued: number;
}

const PIPELINE = ["INGEST", "PROCESSED", "CURATED"] as const;

interface Jsz {
  account_details?: Array<{
    stream_detail?: Array<{
      name: string;
      state: { messages: number };
      consumer_detail?: Array<{ name: string; num_pending: number }>;
    }>;
  }>;
}

/** An empty {@link Backlog}. */
export function emptyBacklog(): Backlog {
  return { frames: {}, held: 0, pending: {}, queued: 0 };
}

/** Reads the pipeline streams and their consumers from `<monitorUrl>/jsz?consumers=true`. */
export async function readBacklog(monitorUrl: string): Promise<Backlog> {
  const res = await fetch(`${monitorUrl}/jsz?streams=true&consumers=true`, {
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`/jsz answered ${res.status}`);
  const jsz = (await res.json()) as Jsz;
  const backlog = emptyBacklog();
  for (const account of jsz.account_details ?? []) {
    for (const s of account.stream_detail ?? []) {
      if (!(PIPELINE as readonly string[]).includes(s.name)) continue;
      backlog.frames[s.name] = (backlog.frames[s.name] ?? 0) + s.state.messages;
      backlog.held += s.state.messages;
      for (const c of s.consumer_detail ?? []) {
        backlog.pending[`${s.name}/${c.name}`] = c.num_pending;
        backlog.queued += c.num_pending;
      }
    }
  }
  return backlog;
}
