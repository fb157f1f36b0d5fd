import { type FrameEvent, PayloadDecodeError } from "@inlet/bus";
import avsc from "avsc";
import { describe, expect, it } from "vitest";
import { compileEnrichment, enrichEvents } from "./enrich-events.js";
import type { ReferenceRow } from "./join.js";

const type = avsc.Type.forSchema(
  {
    type: "record",
    name: "sensor_readings",
    fields: [
      { name: "device_id", type: "string" },
      { name: "site", type: ["null", "string"], default: null },
      { name: "device_model", type: ["null", "string"], default: null },
      { name: "device_found", type: ["null", "boolean"], default: null },
    ],
  },
  { wrapUnions: false },
) as avsc.types.RecordType;

const devices = new Map<string, ReferenceRow>([
  ["dev-1", { site: "berlin-plant", model: "THS-200" }],
  ["dev-bad", { site: 42, model: "THS-100" }],
]);
const enrichment = compileEnrichment(
  [
    {
      table: "devices",
      key: "device_id",
      set: { site: "site", device_model: "model" },
      foundField: "device_found",
    },
  ],
  type,
  "sensor_readings",
  new Map([["devices", devices]]),
);

function frameEvent(id: string, deviceId: string): FrameEvent {
  return { id, ingestedAt: 1_700_000_000_000, payload: type.toBuffer({ device_id: deviceId }) };
}

describe("enrichEvents", () => {
  it("joins hits, marks misses, and keeps ids and ingest times", () => {
    const result = enrichEvents(
      [frameEvent("e1", "dev-1"), frameEvent("e2", "dev-404")],
      type,
      "sensor_readings@1",
      enrichment,
    );
    expect([result.hits, result.misses, result.rejected.length]).toEqual([1, 1, 0]);
    expect(result.out.map((e) => [e.id, e.ingestedAt])).toEqual([
      ["e1", 1_700_000_000_000],
      ["e2", 1_700_000_000_000],
    ]);
    expect(result.out.map((e) => ({ ...type.fromBuffer(Buffer.from(e.payload)) }))).toEqual([
      { device_id: "dev-1", site: "berlin-plant", device_model: "THS-200", device_found: true },
      { device_id: "dev-404", site: null, device_model: null, device_found: false },
    ]);
  });

  it("rejects an event whose reference value does not fit the field, naming it", () => {
    const result = enrichEvents(
      [frameEvent("e1", "dev-bad"), frameEvent("e2", "dev-1")],
      type,
      "sensor_readings@1",
      enrichment,
    );
    expect(result.out.map((e) => e.id)).toEqual(["e2"]);
    expect(result.rejected.map((r) => [r.event.id, r.issue.field])).toEqual([["e1", "site"]]);
    expect(result.rejected[0]?.issue.message).toBe(
      'dataset "sensor_readings": field "site" expected null or string, got 42',
    );
  });

  it("throws PayloadDecodeError for a payload that is not Avro of the schema", () => {
    const bad = { id: "e9", ingestedAt: 1, payload: new Uint8Array([0x80]) };
    expect(() => enrichEvents([bad], type, "sensor_readings@1", enrichment)).toThrow(PayloadDecodeError);
  });
});
