import { ConfigError } from "@inlet/config";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("gives every key its default", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      INLET_COLLECTOR_PORT: 8080,
      INLET_COLLECTOR_MAX_BODY_BYTES: 8 * 1024 * 1024,
      INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST: 10_000,
      INLET_COLLECTOR_MAX_INFLIGHT_EVENTS: 50_000,
      INLET_COLLECTOR_MAX_INFLIGHT_BYTES: 16 * 1024 * 1024,
      INLET_COLLECTOR_FRAME_MAX_EVENTS: 1_000,
      INLET_COLLECTOR_PUBLISH_TIMEOUT: 5_000,
      INLET_COLLECTOR_RETRY_AFTER: 2_000,
      INLET_REGISTER_SCHEMAS: true,
      INLET_CONFIG_DIR: "config",
      INLET_PUBSUB_SUBSCRIPTIONS: [],
      INLET_PUBSUB_MAX_MESSAGES: 1_000,
      INLET_PUBSUB_MAX_BYTES: 8 * 1024 * 1024,
    });
    expect(config.INLET_PUBSUB_PROJECT).toBeUndefined();
  });

  it("reads Pub/Sub subscriptions as <subscription>=<dataset> pairs", () => {
    const config = loadConfig({
      INLET_PUBSUB_SUBSCRIPTIONS: " clicks-in=clicks, projects/acme/subscriptions/tx-in = transactions ,",
    });
    expect(config.INLET_PUBSUB_SUBSCRIPTIONS).toEqual([
      { subscription: "clicks-in", dataset: "clicks" },
      { subscription: "projects/acme/subscriptions/tx-in", dataset: "transactions" },
    ]);
    for (const bad of [
      "clicks-in",
      "clicks-in=Clicks",
      "a=clicks",
      "x-in=clicks=y",
      "s-in=clicks,s-in=transactions",
    ]) {
      expect(() => loadConfig({ INLET_PUBSUB_SUBSCRIPTIONS: bad }), bad).toThrow(
        /INLET_PUBSUB_SUBSCRIPTIONS/,
      );
    }
  });

  it("reads units and booleans", () => {
    const config = loadConfig({ INLET_COLLECTOR_PUBLISH_TIMEOUT: "1.5s", INLET_REGISTER_SCHEMAS: "false" });
    expect(config.INLET_COLLECTOR_PUBLISH_TIMEOUT).toBe(1_500);
    expect(config.INLET_REGISTER_SCHEMAS).toBe(false);
  });

  it("lists every problem at once", () => {
    try {
      loadConfig({ INLET_COLLECTOR_PORT: "http", INLET_COLLECTOR_MAX_BODY_BYTES: "-1" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join("\n");
      expect(problems).toContain("INLET_COLLECTOR_PORT");
      expect(problems).toContain("INLET_COLLECTOR_MAX_BODY_BYTES");
    }
  });

  it("refuses a request limit above the in-flight limit", () => {
    expect(() =>
      loadConfig({
        INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST: "500",
        INLET_COLLECTOR_MAX_INFLIGHT_EVENTS: "100",
      }),
    ).toThrow(/INLET_COLLECTOR_MAX_EVENTS_PER_REQUEST/);
  });

  it("refuses a body limit above the in-flight byte limit", () => {
    expect(() =>
      loadConfig({
        INLET_COLLECTOR_MAX_BODY_BYTES: "2000000",
        INLET_COLLECTOR_MAX_INFLIGHT_BYTES: "1000000",
      }),
    ).toThrow(/INLET_COLLECTOR_MAX_BODY_BYTES/);
  });
});
