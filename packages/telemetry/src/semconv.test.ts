import { describe, expect, it } from "vitest";
import { consumedFrameAttributes } from "./semconv.js";

describe("consumedFrameAttributes", () => {
  it("names the frame by the messaging conventions and Inlet's own attributes", () => {
    const frame = {
      subject: "ingest.clicks",
      dataset: "clicks",
      schemaId: "clicks@2",
      count: 40,
      msgId: "f-1",
    };
    expect(consumedFrameAttributes(frame, "processor", "processor")).toEqual({
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": "ingest.clicks",
      "messaging.consumer.group.name": "processor",
      "messaging.message.id": "f-1",
      "messaging.batch.message_count": 40,
      "inlet.dataset": "clicks",
      "inlet.schema_id": "clicks@2",
      "inlet.stage": "processor",
    });
  });

  it("gives a frame without an id an empty message id, not a missing attribute", () => {
    const frame = { subject: "curated.clicks", dataset: "clicks", schemaId: "clicks@1", count: 1 };
    expect(consumedFrameAttributes(frame, "lake-writer-clicks", "lake-writer")).toMatchObject({
      "messaging.message.id": "",
    });
  });
});
