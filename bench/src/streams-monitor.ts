/** Messages waiting in each pipeline stream, from nats-server's `/jsz` monitoring endpoint. */
export interface Backlog {
  /** Frames held per stream (INGEST, PROCESSED, CURATED). */
  frames: Record<string, number>;
  /** Sum over the pipeline streams. */
  total: number;
}

const PIPELINE = ["INGEST", "PROCESSED", "CURATED"] as const;

interface Jsz {
  account_details?: Array<{ stream_detail?: Array<{ name: string; state: { messages: number } }> }>;
}

/** Reads the pipeline streams' message counts from `<monitorUrl>/jsz?streams=true`. */
export async function readBacklog(monitorUrl: string): Promise<Backlog> {
  const res = await fetch(`${monitorUrl}/jsz?streams=true`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`/jsz answered ${res.status}`);
  const jsz = (await res.json()) as Jsz;
  const frames: Record<string, number> = {};
  for (const account of jsz.account_details ?? []) {
    for (const s of account.stream_detail ?? []) {
      if ((PIPELINE as readonly string[]).includes(s.name))
        frames[s.name] = (frames[s.name] ?? 0) + s.state.messages;
    }
  }
  return { frames, total: Object.values(frames).reduce((a, b) => a + b, 0) };
}
