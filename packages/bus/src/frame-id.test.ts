import { describe, expect, it } from "vitest";
import { collectorFrameId, stageFrameId } from "./frame-id.js";
import { Stage } from "./subjects.js";

describe("collectorFrameId", () => {
  it("is the dataset and the first 32 hex chars of SHA-256 over the ids joined by newlines", () => {
    // From `printf 'a\nb' | sha256sum`: 7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78
    expect(collectorFrameId("clicks", ["a", "b"])).toBe("clicks:7e18f737311b2dc3b2f269dd78396b03");
  });

  it("is the same for the same ids and differs when the ids or their order differ", () => {
    const ids = ["0190a1b2-0000-7000-8000-000000000001", "0190a1b2-0000-7000-8000-000000000002"];
    expect(collectorFrameId("clicks", ids)).toBe(collectorFrameId("clicks", [...ids]));
    expect(collectorFrameId("clicks", ids)).not.toBe(collectorFrameId("clicks", [...ids].reverse()));
    expect(collectorFrameId("clicks", ids)).not.toBe(collectorFrameId("views", ids));
    // Joining matters: ["ab"] and ["a", "b"] must not collide.
    expect(collectorFrameId("clicks", ["ab"])).not.toBe(collectorFrameId("clicks", ["a", "b"]));
  });
});

describe("stageFrameId", () => {
  it("is stage, dataset and input sequence", () => {
    expect(stageFrameId(Stage.Processor, "clicks", 42)).toBe("processor:clicks:42");
  });
});
