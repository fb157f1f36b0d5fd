/** One reason an event was refused, as the client sees it (and the dead letter records it). */
export interface EventError {
  /** Dotted path of the field (`""` for the event as a whole). */
  field: string;
  /** What the schema wants, e.g. `double`. */
  expected: string;
  /** What came, rendered short, e.g. `"12,5"`. */
  got: string;
  /** The sentence for a person: `dataset "clicks": field "amount" expected double, got "12,5"`. */
  message: string;
}

/** What became of each event of one request, by index in the body. */
export interface RequestOutcome {
  /** Event ids by index (undefined where the event had no usable id). */
  ids: readonly (string | undefined)[];
  /** Refused events: index → why. */
  rejected: ReadonlyMap<number, readonly EventError[]>;
  /** Valid events the bus did not store: index → why. They were NOT accepted. */
  failed: ReadonlyMap<number, string>;
  /** Accepted events whose frame JetStream had already stored (a retry). */
  duplicates: ReadonlySet<number>;
}

/** One entry of {@link IngestResponse.results}. */
export type EventResult =
  | { index: number; status: "accepted"; id: string; duplicate?: true }
  | { index: number; status: "rejected"; id?: string; errors: readonly EventError[] }
  | { index: number; status: "failed"; id: string; reason: string };

/** The JSON answer to one ingest request (HTTP or NATS). */
export interface IngestResponse {
  /** Events stored in the INGEST stream (duplicates included: they are stored). */
  accepted: number;
  /** Events refused (invalid), each dead-lettered with its reason. */
  rejected: number;
  /** Events NOT stored because the bus refused or was unreachable (retry them), only when > 0. */
  failed?: number;
  /** Accepted events that JetStream reported as already stored (a retry), only when > 0. */
  duplicates?: number;
  /** What to do, when not every event was stored. */
  error?: string;
  /** Per event, in body order; only the rejected and failed ones when the client asked for errors only. */
  results: EventResult[];
}

/** The status and JSON body to answer with. */
export interface BuiltResponse {
  status: number;
  body: IngestResponse;
}

/**
 * Builds the answer: 200 when something was stored or there was nothing to store, 400 when every
 * event was rejected, 503 when the bus failed to store some valid events (the body names them).
 * `errorsOnly` lists only the rejected and failed events (for big batches).
 */
export function buildResponse(outcome: RequestOutcome, errorsOnly: boolean): BuiltResponse {
  const { ids, rejected, failed, duplicates } = outcome;
  const results: EventResult[] = [];
  for (let index = 0; index < ids.length; index++) {
    const id = ids[index];
    const errors = rejected.get(index);
    if (errors !== undefined) {
      results.push(
        id === undefined ? { index, status: "rejected", errors } : { index, status: "rejected", id, errors },
      );
      continue;
    }
    const reason = failed.get(index);
    if (reason !== undefined) {
      results.push({ index, status: "failed", id: id ?? "", reason });
      continue;
    }
    if (errorsOnly) continue;
    results.push(
      duplicates.has(index)
        ? { index, status: "accepted", id: id ?? "", duplicate: true }
        : { index, status: "accepted", id: id ?? "" },
    );
  }
  const accepted = ids.length - rejected.size - failed.size;
  let status = 200;
  let error: string | undefined;
  if (failed.size > 0) {
    status = 503;
    error =
      `${failed.size} event(s) were not stored: the bus is unavailable or full. ` +
      "Retry them later with the same _event_id values (a retry of stored events is deduplicated)";
  } else if (ids.length > 0 && rejected.size === ids.length) {
    status = 400;
    error = "every event was rejected: see results";
  }
  const body: IngestResponse = {
    accepted,
    rejected: rejected.size,
    ...(failed.size > 0 ? { failed: failed.size } : {}),
    ...(duplicates.size > 0 ? { duplicates: duplicates.size } : {}),
    ...(error !== undefined ? { error } : {}),
    results,
  };
  return { status, body };
}
