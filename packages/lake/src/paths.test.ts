import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LakeError } from "./errors.js";
import {
  curatedTableDir,
  deltaCommitFileName,
  deltaFilePath,
  encodeDeltaPath,
  hivePartitionSegment,
  rawPartitionDir,
  utcDateOfDay,
  utcDayOf,
} from "./paths.js";

describe("lake paths", () => {
  it("lays out the raw zone by UTC ingest date and hour", () => {
    const at = Date.UTC(2024, 4, 1, 7, 59, 59, 999);
    expect(rawPartitionDir("/lake", "clicks", at)).toBe(
      join("/lake/raw/clicks/ingest_date=2024-05-01/hour=07"),
    );
  });

  it("refuses dataset names that could leave the lake directory", () => {
    expect(() => curatedTableDir("/lake", "../etc")).toThrow(LakeError);
    expect(curatedTableDir("/lake", "sensor_readings")).toBe(join("/lake/curated/sensor_readings"));
  });

  it("computes UTC days, including before the epoch", () => {
    expect(utcDateOfDay(utcDayOf(Date.UTC(2024, 1, 29, 23, 59)))).toBe("2024-02-29");
    expect(utcDateOfDay(utcDayOf(-1))).toBe("1969-12-31");
  });

  it("escapes partition values the way Hive does and names null partitions", () => {
    expect(hivePartitionSegment("event_date", "2024-05-01")).toBe("event_date=2024-05-01");
    expect(hivePartitionSegment("x", "A/A")).toBe("x=A%2FA");
    expect(hivePartitionSegment("x", null)).toBe("x=__HIVE_DEFAULT_PARTITION__");
  });

  it("URI-encodes add paths and decodes them back to the file on disk", () => {
    const relative = `${hivePartitionSegment("x", "A/A B")}/part-1.parquet`;
    expect(relative).toBe("x=A%2FA B/part-1.parquet");
    const encoded = encodeDeltaPath(relative);
    expect(encoded).toBe("x=A%252FA%20B/part-1.parquet");
    expect(deltaFilePath("/t", encoded)).toBe(join("/t", relative));
    expect(deltaFilePath("/t", "file:///data/f.parquet")).toBe("/data/f.parquet");
  });

  it("pads commit versions to 20 digits", () => {
    expect(deltaCommitFileName(7)).toBe("00000000000000000007.json");
  });
});
