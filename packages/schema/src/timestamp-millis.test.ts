import { describe, expect, it } from "vitest";
import { parseTimestampMillis } from "./timestamp-millis.js";

describe("parseTimestampMillis", () => {
  it("keeps integer milliseconds", () => {
    expect(parseTimestampMillis(1_714_557_600_000)).toBe(1_714_557_600_000);
    expect(parseTimestampMillis(0)).toBe(0);
  });

  it("reads ISO-8601 dates and date-times", () => {
    expect(parseTimestampMillis("2024-05-01T10:00:00.123Z")).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 123));
    expect(parseTimestampMillis("2024-05-01T12:00:00+02:00")).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseTimestampMillis("2024-05-01T12:00:00+0200")).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseTimestampMillis("2024-05-01")).toBe(Date.UTC(2024, 4, 1));
    expect(parseTimestampMillis("2024-05-01T10:00")).toBe(Date.UTC(2024, 4, 1, 10));
  });

  it("reads a date-time without an offset as UTC, whatever the machine's time zone", () => {
    expect(parseTimestampMillis("2024-05-01T10:00:00")).toBe(Date.UTC(2024, 4, 1, 10));
  });

  it("rejects fractions, non-dates and impossible calendar dates", () => {
    for (const bad of [
      1.5,
      Number.NaN,
      "yesterday",
      "2024-13-01",
      "2024-02-30",
      "2024-05-01T25:00:00Z",
      "1714557600000",
      "",
      null,
      true,
      {},
    ]) {
      expect(parseTimestampMillis(bad), String(bad)).toBeUndefined();
    }
  });

  it("accepts 29 February in a leap year only", () => {
    expect(parseTimestampMillis("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
    expect(parseTimestampMillis("2023-02-29")).toBeUndefined();
  });
});
