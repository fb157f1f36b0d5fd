import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("gives every key its default", () => {
    const config = loadConfig({});
    expect(config.INLET_PROCESSOR_PORT).toBe(8091);
    expect(config.INLET_PROCESSOR_CONCURRENCY).toBe(8);
    expect(config.INLET_PROCESSOR_MAX_ACK_PENDING).toBe(64);
    expect(config.INLET_PROCESSOR_MAX_DELIVERIES).toBe(5);
    expect(config.INLET_CONFIG_DIR).toBe("config");
    expect(config.INLET_ALERTS_PUBSUB_TOPICS).toEqual([]);
    expect(config.INLET_ALERTS_PUBSUB_MAX_PENDING).toBe(256);
  });

  it("reads alert routes to Pub/Sub as <rule>=<topic> pairs, * for every rule", () => {
    const config = loadConfig({
      INLET_ALERTS_PUBSUB_TOPICS: "large_transaction=fraud-alerts, *=projects/acme/topics/all-alerts",
    });
    expect(config.INLET_ALERTS_PUBSUB_TOPICS).toEqual([
      { rule: "large_transaction", topic: "fraud-alerts" },
      { rule: "*", topic: "projects/acme/topics/all-alerts" },
    ]);
    for (const bad of ["large_transaction", "Big=fraud-alerts", "x=go", "*=a-topic,*=b-topic"]) {
      expect(() => loadConfig({ INLET_ALERTS_PUBSUB_TOPICS: bad }), bad).toThrow(
        /INLET_ALERTS_PUBSUB_TOPICS/,
      );
    }
  });

  it("lists every bad key", () => {
    expect(() => loadConfig({ INLET_PROCESSOR_PORT: "x", INLET_PROCESSOR_CONCURRENCY: "0" })).toThrow(
      /INLET_PROCESSOR_PORT: expected a TCP port[\s\S]*INLET_PROCESSOR_CONCURRENCY: expected an integer from 1 to 256/,
    );
  });
});
