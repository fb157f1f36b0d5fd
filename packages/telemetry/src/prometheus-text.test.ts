import { describe, expect, it } from "vitest";
import { PrometheusTextError, parsePrometheusText, prometheusKey } from "./prometheus-text.js";

describe("parsePrometheusText", () => {
  it("reads samples keyed by name and sorted labels, skipping comments and timestamps", () => {
    const samples = parsePrometheusText(
      [
        "# HELP inlet_events_accepted_total events accepted",
        "# TYPE inlet_events_accepted_total counter",
        'inlet_events_accepted_total{stage="collector",dataset="clicks"} 42',
        "up 1 1700000000000",
        "",
        'bucket{le="+Inf"} +Inf',
        "weird NaN",
        "neg -Inf",
        "sci 1.5e3",
      ].join("\n"),
    );
    expect(
      samples.get(prometheusKey("inlet_events_accepted_total", { dataset: "clicks", stage: "collector" })),
    ).toBe(42);
    expect(samples.get('inlet_events_accepted_total{dataset="clicks",stage="collector"}')).toBe(42);
    expect(samples.get("up")).toBe(1);
    expect(samples.get('bucket{le="+Inf"}')).toBe(Number.POSITIVE_INFINITY);
    expect(samples.get("weird")).toBeNaN();
    expect(samples.get("neg")).toBe(Number.NEGATIVE_INFINITY);
    expect(samples.get("sci")).toBe(1500);
    expect(samples.size).toBe(6);
  });

  it("unescapes label values, and the key escapes them again", () => {
    const samples = parsePrometheusText('m{path="a\\"b,c}\\\\d\\ne"} 2\r\n');
    expect(samples.get(prometheusKey("m", { path: 'a"b,c}\\d\ne' }))).toBe(2);
  });

  it.each([
    ['m{a="1', "unterminated label value"],
    ['m{a="1"', "unterminated label set"],
    ["m{a=1} 2", 'expected label="value"'],
    ["m twelve", "expected a number"],
    ["m", "expected a number"],
  ])("rejects %j", (line, message) => {
    expect(() => parsePrometheusText(`ok 1\n${line}`)).toThrow(PrometheusTextError);
    expect(() => parsePrometheusText(`ok 1\n${line}`)).toThrow(message);
    try {
      parsePrometheusText(`ok 1\n${line}`);
    } catch (error) {
      expect((error as PrometheusTextError).line).toBe(2);
    }
  });
});
