import { createHash } from "node:crypto";
import type { Stage } from "./subjects.js";

/**
 * The collector's frame id: `<ds>:` + the first 32 hex chars of SHA-256 over the event ids joined
 * by `\n`. A client retrying with the same event ids produces the same ids, so JetStream dedupes.
 */
export function collectorFrameId(dataset: string, eventIds: readonly string[]): string {
  // One update of the joined text: a native call per id costs more than the hashing itself.
  return contentIdOf(dataset, eventIds.join("\n"));
}

/** {@link collectorFrameId} from the ids already joined by `\n` (text, or its UTF-8 bytes). */
export function contentIdOf(dataset: string, joinedIds: string | Uint8Array): string {
  return `${dataset}:${createHash("sha256").update(joinedIds).digest("hex").slice(0, 32)}`;
}

/**
 * A later stage's frame id: `<stage>:<ds>:<input stream sequence>`. Redelivery of the input frame
 * gives the same id, so JetStream drops the second output (exactly-once hand-off in the window).
 */
export function stageFrameId(stage: Stage, dataset: string, inputSeq: number): string {
  return `${stage}:${dataset}:${inputSeq}`;
}
