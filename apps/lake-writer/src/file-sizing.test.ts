import type { DeltaAddFile } from "@inlet/lake";
import { describe, expect, it } from "vitest";
import { FileSizer, type PartitionRows } from "./file-sizing.js";

function file(size: number, numRecords?: number): DeltaAddFile {
  return {
    path: "p",
    partitionValues: {},
    size,
    modificationTime: 0,
    dataChange: true,
    ...(numRecords === undefined
      ? {}
      : { stats: { numRecords, minValues: {}, maxValues: {}, nullCount: {} } }),
  };
}

describe("FileSizer", () => {
  it("fills a file with the payload bytes per row until it has seen the table's files", () => {
    const sizer = new FileSizer(1_000);
    expect(sizer.rowsPerFile(100)).toBe(10);
    sizer.learn([file(500, 100), file(1_500, 100), file(7, undefined)]);
    expect(sizer.rowsPerFile(100)).toBe(100); // 10 bytes a row in Parquet
  });

  it("cuts frames into parts whose partitions roll at a file's rows, never cutting a frame", () => {
    const sizer = new FileSizer(1_000);
    const frames: PartitionRows[] = [
      new Map([[1, 6]]),
      new Map([
        [1, 6],
        [2, 9],
      ]),
      new Map([[2, 2]]),
      new Map([[2, 5]]),
      new Map([[1, 30]]),
      new Map([[1, 1]]),
    ];
    const parts = sizer.split(frames, (f) => f, 10);
    expect(parts.map((p) => p.map((f) => frames.indexOf(f)))).toEqual([[0, 1, 2], [3, 4], [5]]);
    expect(sizer.split([], (f: PartitionRows) => f, 10)).toEqual([[]]);
  });
});
