import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { initMetrics, type Metrics } from "./metrics.js";
import { parsePrometheusText, prometheusKey } from "./prometheus-text.js";

let metrics: Metrics | undefined;
afterEach(async () => {
  await metrics?.shutdown();
  metrics = undefined;
});

describe("initMetrics", () => {
  it("serves counters, histograms and gauges as Prometheus text from the service's own server", async () => {
    metrics = initMetrics("inlet-test");
    const accepted = metrics.meter.createCounter("inlet.events.accepted", { description: "events accepted" });
    accepted.add(3, { dataset: "clicks" });
    accepted.add(2, { dataset: "clicks" });
    accepted.add(7, { dataset: "orders" });
    const lag = metrics.meter.createHistogram("inlet.frame.duration", { unit: "ms" });
    lag.record(12);
    metrics.meter
      .createObservableGauge("inlet.freshness")
      .addCallback((r) => r.observe(4.5, { dataset: "clicks" }));

    const { handler } = metrics;
    const server = createServer((req, res) => handler(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toContain("# TYPE inlet_events_accepted_total counter");
      const samples = parsePrometheusText(text);
      expect(samples.get(prometheusKey("inlet_events_accepted_total", { dataset: "clicks" }))).toBe(5);
      expect(samples.get(prometheusKey("inlet_events_accepted_total", { dataset: "orders" }))).toBe(7);
      expect(samples.get("inlet_frame_duration_count")).toBe(1);
      expect(samples.get("inlet_frame_duration_sum")).toBe(12);
      expect(samples.get(prometheusKey("inlet_frame_duration_bucket", { le: "+Inf" }))).toBe(1);
      expect(samples.get(prometheusKey("inlet_freshness", { dataset: "clicks" }))).toBe(4.5);
      expect(samples.get(prometheusKey("target_info", { service_name: "inlet-test" }))).toBeDefined();
    } finally {
      server.close();
    }
  });
});
