/**
 * Content ids (a hash of the event ids, see `collectorFrameId`) of the frames a curated writer has
 * committed recently, so that a frame coming back under a **new** stream sequence is recognised.
 *
 * Stage hand-offs rely on JetStream's duplicate window, and nats-server rebuilds that window after
 * a restart only from the messages still stored. When the server dies (SIGKILL, power loss) just
 * as a stage published its output and acked its input, the ack may not survive while the output
 * has already been consumed and removed (interest retention): the stage gets its input again,
 * publishes the same frame again, and nothing upstream can drop it. Only the sink still can.
 *
 * Bounded by age (`windowMs`) and count (`maxFrames`): the oldest ids go first.
 */
export class RecentFrames {
  readonly #windowMs: number;
  readonly #maxFrames: number;
  // Insertion order is commit order: the first entries are the oldest.
  readonly #committedAt = new Map<string, number>();

  constructor(windowMs: number, maxFrames: number) {
    this.#windowMs = windowMs;
    this.#maxFrames = maxFrames;
  }

  /** Ids remembered. */
  get size(): number {
    return this.#committedAt.size;
  }

  /** True when a frame with this content id was committed within the window. */
  has(contentId: string): boolean {
    return this.#committedAt.has(contentId);
  }

  /** Remembers the content ids of a commit made at `now` (ms), and forgets what fell out of the window. */
  remember(contentIds: Iterable<string>, now: number): void {
    for (const id of contentIds) {
      this.#committedAt.delete(id);
      this.#committedAt.set(id, now);
    }
    for (const [id, at] of this.#committedAt) {
      if (this.#committedAt.size <= this.#maxFrames && now - at <= this.#windowMs) break;
      this.#committedAt.delete(id);
    }
  }
}
