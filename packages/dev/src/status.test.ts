import { describe, expect, it } from "vitest";
import { formatCount, formatStatusLine, type StatusSnapshot } from "./status.js";

const snapshot = (at: number, accepted: number, over: Partial<StatusSnapshot> = {}): StatusSnapshot => ({
  at,
  eventsAccepted: accepted,
  eventsRejected: 3,
  rows: { clicks: 1_000, transactions: 500 },
  freshnessMs: { clicks: 1_500, transactions: 4_200, sensor_readings: undefined },
  lag: { processor: 2, enricher: 1 },
  deadLetters: 3,
  ...over,
});

describe("formatStatusLine", () => {
  it("shows the rate between two readings, the lake's rows, the worst freshness, lag and dead letters", () => {
    const line = formatStatusLine(snapshot(0, 10_000), snapshot(2_000, 14_000));
    expect(line).toBe(
      "in 2,000/s │ accepted 14,000 │ rejected 3 │ lake 1,500 rows │ freshness 4.2s │ lag 3 frames │ dlq 3",
    );
  });

  it("leaves the dead_letters table out of the lake's rows and freshness (the DLQ counts them)", () => {
    const over = {
      rows: { clicks: 1_000, dead_letters: 40 },
      freshnessMs: { clicks: 1_500, dead_letters: 3_600_000 },
    };
    const line = formatStatusLine(undefined, snapshot(0, 5, over));
    expect(line).toContain("lake 1,000 rows │ freshness 1.5s");
  });

  it("shows no rate on the first reading and no freshness while the lake is empty", () => {
    const line = formatStatusLine(undefined, snapshot(0, 5, { rows: {}, freshnessMs: {} }));
    expect(line).toContain("in 0/s");
    expect(line).toContain("freshness –");
    expect(line).toContain("lake 0 rows");
  });
});

describe("formatCount", () => {
  it("groups thousands and shortens millions", () => {
    expect(formatCount(1234.4)).toBe("1,234");
    expect(formatCount(2_345_678)).toBe("2.35M");
  });
});
