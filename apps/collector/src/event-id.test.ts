import { describe, expect, it } from "vitest";
import { takeEventId } from "./event-id.js";

describe("takeEventId", () => {
  it("takes and removes a client-given id", () => {
    const event: Record<string, unknown> = { _event_id: "order-42", a: 1 };
    expect(takeEventId(event)).toEqual({ ok: true, id: "order-42" });
    expect(event).toEqual({ a: 1 });
  });

  it("assigns a time-ordered UUIDv7 when the event has none", () => {
    const first = takeEventId({});
    const second = takeEventId({});
    if (!first.ok || !second.ok) throw new Error("expected ids");
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.id).not.toBe(second.id);
    expect(first.id < second.id).toBe(true);
  });

  it("refuses an id that is not a string, is empty or is too long, still removing it", () => {
    for (const bad of [42, null, "", "x".repeat(129), { id: 1 }]) {
      const event: Record<string, unknown> = { _event_id: bad };
      const result = takeEventId(event);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toBe("_event_id must be a string of 1 to 128 characters");
      expect(event).toEqual({});
    }
  });

  it("accepts an id of exactly 128 characters", () => {
    expect(takeEventId({ _event_id: "x".repeat(128) }).ok).toBe(true);
  });
});
