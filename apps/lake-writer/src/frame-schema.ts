import { setTimeout as sleep } from "node:timers/promises";
import { type RegisteredSchema, SchemaError, SchemaErrorCode, type SchemaRegistry } from "@inlet/schema";
import type { Logger } from "@inlet/telemetry";

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/** What {@link frameSchema} asks of the writer whose frame it is. */
export interface FrameSchemaOptions {
  readonly registry: SchemaRegistry;
  readonly log: Logger;
  /** True once the writer stops: a registry that does not answer then fails the call. */
  stopping(): boolean;
  /** Dead-letters the frame, whose schema id the registry refuses with `code` and `reason`. */
  refuse(code: string, reason: string): Promise<void>;
}

/**
 * The registered schema a frame names (the registry caches it). An id the registry refuses,
 * unknown or malformed, is the frame's fault: it is refused (dead-lettered) and this gives
 * undefined. A registry that does not answer is waited for, with pauses doubling from 0.5 s to
 * 30 s, and the frame never nak'ed: it would come back behind newer commits. Once the writer stops,
 * the registry's error is thrown instead.
 */
export async function frameSchema(
  schemaId: string,
  o: FrameSchemaOptions,
): Promise<RegisteredSchema | undefined> {
  let retryMs = FIRST_RETRY_MS;
  for (;;) {
    try {
      return await o.registry.get(schemaId);
    } catch (err) {
      if (
        err instanceof SchemaError &&
        (err.code === SchemaErrorCode.NotFound || err.code === SchemaErrorCode.InvalidSchemaId)
      ) {
        await o.refuse(err.code, err.message);
        return undefined;
      }
      if (o.stopping()) throw err;
      o.log.warn({ err, schemaId, retryMs }, "schema registry unavailable");
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  }
}
