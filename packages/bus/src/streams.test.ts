import { describe, expect, it } from "vitest";
import {
  ARCHIVE_MAX_AGE_MS,
  DEFAULT_PIPELINE_MAX_BYTES,
  DUPLICATE_WINDOW_MS,
  StreamName,
  streamName,
  streamSpecs,
} from "./streams.js";

const NANOS_PER_MS = 1_000_000;

describe("streamSpecs", () => {
  it("defines the six streams of the contract", () => {
    const specs = streamSpecs();
    expect(specs.map((s) => [s.name, s.subjects])).toEqual([
      ["INGEST", ["ingest.*"]],
      ["PROCESSED", ["processed.*"]],
      ["CURATED", ["curated.*"]],
      ["CDC", ["cdc.*.*"]],
      ["DLQ", ["dlq.*.*"]],
      ["ALERTS", ["alerts.*"]],
    ]);
    for (const spec of specs) {
      expect(spec.storage).toBe("file");
      expect(spec.num_replicas).toBe(1);
      expect(spec.duplicate_window).toBe(DUPLICATE_WINDOW_MS * NANOS_PER_MS);
    }
  });

  it("uses interest retention and refuses writes when full on the pipeline streams", () => {
    const ingest = streamSpecs().find((s) => s.name === "INGEST")!;
    expect(ingest).toMatchObject({
      retention: "interest",
      discard: "new",
      max_bytes: DEFAULT_PIPELINE_MAX_BYTES,
      max_age: 0,
    });
  });

  it("keeps dead letters and alerts for 7 days", () => {
    for (const name of ["DLQ", "ALERTS"]) {
      const spec = streamSpecs().find((s) => s.name === name)!;
      expect(spec).toMatchObject({
        retention: "limits",
        discard: "old",
        max_age: ARCHIVE_MAX_AGE_MS * NANOS_PER_MS,
      });
    }
  });

  it("applies replicas, byte limits and a prefix", () => {
    const specs = streamSpecs({ replicas: 3, prefix: "t9", maxBytes: { [StreamName.Ingest]: 4096 } });
    const ingest = specs.find((s) => s.name === "t9_INGEST")!;
    expect(ingest).toMatchObject({ num_replicas: 3, max_bytes: 4096, subjects: ["t9.ingest.*"] });
    expect(specs.find((s) => s.name === "t9_DLQ")?.subjects).toEqual(["t9.dlq.*.*"]);
    expect(streamName(StreamName.Curated, "t9")).toBe("t9_CURATED");
    expect(streamName(StreamName.Curated)).toBe("CURATED");
  });
});
