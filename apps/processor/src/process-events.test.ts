import { type FrameEvent, PayloadDecodeError } from "@inlet/bus";
import avsc from "avsc";
import { describe, expect, it } from "vitest";
import { compileRules } from "./dataset-rules.js";
import { parsePipelineConfig } from "./pipeline-config.js";
import { processEvents } from "./process-events.js";
import { TransformError } from "./transform-error.js";

const type = avsc.Type.forSchema(
  {
    type: "record",
    name: "clicks",
    fields: [
      { name: "page", type: "string" },
      { name: "country", type: "string" },
      { name: "user_agent", type: "string" },
      { name: "duration_ms", type: "int" },
    ],
  },
  { wrapUnions: false },
) as avsc.types.RecordType;

const rules = compileRules(
  parsePipelineConfig(
    {
      datasets: {
        clicks: {
          filter: [{ field: "user_agent", op: "not_contains", value: "bot" }],
          transform: [
            { field: "country", op: "uppercase" },
            { field: "page", op: "lowercase" },
            { field: "duration_ms", op: "scale", multiply: 1000 },
          ],
        },
      },
      alerts: [
        {
          name: "long_visit",
          dataset: "clicks",
          when: [{ field: "duration_ms", op: "gte", value: 600_000 }],
        },
      ],
    },
    "p.json",
  ),
  "clicks",
  type,
);

function frameEvent(id: string, fields: Record<string, unknown>): FrameEvent {
  const event = { page: "/Home", country: "de", user_agent: "Mozilla/5.0", duration_ms: 10, ...fields };
  return { id, ingestedAt: 1_700_000_000_000, payload: type.toBuffer(event) };
}

describe("processEvents", () => {
  it("filters, transforms and re-encodes the kept events with their ids and ingest times", () => {
    const events = [
      frameEvent("e1", {}),
      frameEvent("e2", { user_agent: "Googlebot/2.1" }),
      frameEvent("e3", { page: "/A" }),
    ];
    const result = processEvents(events, type, "clicks@1", rules);
    expect(result.filtered).toBe(1);
    expect(result.rejected).toEqual([]);
    expect(result.out.map((e) => [e.id, e.ingestedAt])).toEqual([
      ["e1", 1_700_000_000_000],
      ["e3", 1_700_000_000_000],
    ]);
    expect(result.out.map((e) => ({ ...type.fromBuffer(Buffer.from(e.payload)) }))).toEqual([
      { page: "/home", country: "DE", user_agent: "Mozilla/5.0", duration_ms: 10_000 },
      { page: "/a", country: "DE", user_agent: "Mozilla/5.0", duration_ms: 10_000 },
    ]);
  });

  it("keeps the bytes of an event the transforms leave as it was, and re-encodes one they change", () => {
    const same = frameEvent("same", { page: "/home", country: "DE", duration_ms: 0 });
    const changed = frameEvent("changed", { page: "/home", country: "de", duration_ms: 0 });
    const result = processEvents([same, changed], type, "clicks@1", rules);
    expect(result.out.map((e) => e.id)).toEqual(["same", "changed"]);
    // Not merely equal bytes: the very payload that arrived.
    expect(result.out[0]!.payload).toBe(same.payload);
    expect(result.out[1]!.payload).not.toBe(changed.payload);
    expect({ ...type.fromBuffer(Buffer.from(result.out[1]!.payload)) }).toEqual({
      page: "/home",
      country: "DE",
      user_agent: "Mozilla/5.0",
      duration_ms: 0,
    });
  });

  it("reports alerts on kept events after their transforms", () => {
    const events = [frameEvent("e1", { duration_ms: 600 }), frameEvent("e2", { duration_ms: 599 })];
    const result = processEvents(events, type, "clicks@1", rules);
    expect(result.alerts.map((a) => [a.rule, a.event.id, a.record.duration_ms])).toEqual([
      ["long_visit", "e1", 600_000],
    ]);
  });

  it("rejects an event a transform cannot handle and keeps the rest of the frame", () => {
    const events = [frameEvent("e1", {}), frameEvent("e2", { duration_ms: 3_000_000 }), frameEvent("e3", {})];
    const result = processEvents(events, type, "clicks@1", rules);
    expect(result.out.map((e) => e.id)).toEqual(["e1", "e3"]);
    expect(result.rejected).toHaveLength(1);
    const [rejected] = result.rejected;
    expect(rejected?.event.id).toBe("e2");
    expect(rejected?.error).toBeInstanceOf(TransformError);
    expect(rejected?.error.field).toBe("duration_ms");
    expect(rejected?.error.message).toContain('dataset "clicks": field "duration_ms"');
    expect({ ...rejected?.record }).toMatchObject({ page: "/Home", country: "de", duration_ms: 3_000_000 });
  });

  it("throws PayloadDecodeError when a payload is not Avro of the frame's schema", () => {
    const events = [
      frameEvent("e1", {}),
      { id: "e2", ingestedAt: 1, payload: new Uint8Array([0xff, 0xff, 0xff]) },
    ];
    expect(() => processEvents(events, type, "clicks@1", rules)).toThrow(PayloadDecodeError);
    expect(() => processEvents(events, type, "clicks@1", rules)).toThrow(
      /event "e2" cannot be decoded as clicks@1/,
    );
  });
});
