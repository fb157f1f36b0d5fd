import { describe, expect, it } from "vitest";
import { ColumnKind, columnKindSpec } from "./column-kind.js";
import type { DeltaAddFile, DeltaFileStats } from "./delta-log.js";
import { keyCandidates, type MergeKeys } from "./merge-rewrite.js";

function file(path: string, stats?: Partial<DeltaFileStats>): DeltaAddFile {
  return {
    path,
    partitionValues: {},
    size: 1,
    modificationTime: 0,
    dataChange: true,
    ...(stats === undefined ? {} : { stats: { numRecords: 1, ...stats } }),
  };
}

// Keys of one column of `kind`, staged as the table stages them.
function keysOf(kind: ColumnKind, ...values: unknown[]): MergeKeys {
  return {
    columns: [{ name: "k", kind }],
    values: values.map((v) => [columnKindSpec(kind).stage(v)]),
    deleted: values.map(() => false),
  };
}

const paths = (files: readonly DeltaAddFile[]) => files.map((f) => f.path);

describe("keyCandidates", () => {
  it("skips files whose min/max of a key column hold no key, keeping those on the bounds", () => {
    const files = [
      file("a-c", { minValues: { k: "a" }, maxValues: { k: "c" } }),
      file("d-f", { minValues: { k: "d" }, maxValues: { k: "f" } }),
      file("from-x", { minValues: { k: "x" } }), // a max too long to keep: no upper bound
      file("no-stats"),
      file("empty", { numRecords: 0 }),
    ];
    expect(paths(keyCandidates(files, keysOf(ColumnKind.String, "c")))).toEqual(["a-c", "no-stats"]);
    expect(paths(keyCandidates(files, keysOf(ColumnKind.String, "b", "zz")))).toEqual([
      "a-c",
      "from-x",
      "no-stats",
    ]);
    expect(paths(keyCandidates(files, keysOf(ColumnKind.String)))).toEqual([]);
  });

  it("compares text as UTF-8 bytes, as DuckDB orders it", () => {
    // In UTF-16 "\u{1F600}" sorts below "\uFFFF"; in UTF-8 above it.
    const bmp = file("bmp", { minValues: { k: "\uE000" }, maxValues: { k: "\uFFFF" } });
    const astral = file("astral", { minValues: { k: "\u{1F600}" }, maxValues: { k: "\u{1F64F}" } });
    expect(paths(keyCandidates([bmp, astral], keysOf(ColumnKind.String, "\u{1F600}")))).toEqual(["astral"]);
  });

  it("compares longs exactly, ignoring statistics a double cannot hold exactly", () => {
    const small = file("small", { minValues: { k: 1 }, maxValues: { k: 10 } });
    const huge = file("huge", { minValues: { k: 2 ** 60 }, maxValues: { k: 2 ** 61 } });
    expect(paths(keyCandidates([small, huge], keysOf(ColumnKind.Long, 10n)))).toEqual(["small", "huge"]);
    expect(paths(keyCandidates([small, huge], keysOf(ColumnKind.Long, 11)))).toEqual(["huge"]);
  });

  it("allows a millisecond either side of timestamp statistics, and reads dates as days", () => {
    const t = Date.UTC(2024, 4, 1);
    const stats = {
      minValues: { k: new Date(t).toISOString() },
      maxValues: { k: new Date(t + 10).toISOString() },
    };
    const files = [file("ts", stats)];
    expect(paths(keyCandidates(files, keysOf(ColumnKind.TimestampMillis, t + 11)))).toEqual(["ts"]);
    expect(paths(keyCandidates(files, keysOf(ColumnKind.TimestampMillis, t + 12)))).toEqual([]);
    expect(paths(keyCandidates(files, keysOf(ColumnKind.TimestampMillis, new Date(t - 2))))).toEqual([]);
    // µs keys: the file's max of t + 10 ms may stand for up to t + 10.999 ms.
    expect(
      paths(keyCandidates(files, keysOf(ColumnKind.TimestampMicros, BigInt(t + 10) * 1000n + 999n))),
    ).toEqual(["ts"]);
    expect(paths(keyCandidates(files, keysOf(ColumnKind.TimestampMicros, BigInt(t + 12) * 1000n)))).toEqual(
      [],
    );
    const day = file("day", { minValues: { k: "2024-05-01" }, maxValues: { k: "2024-05-03" } });
    const first = t / 86_400_000;
    expect(paths(keyCandidates([day], keysOf(ColumnKind.Date, first + 2)))).toEqual(["day"]);
    expect(paths(keyCandidates([day], keysOf(ColumnKind.Date, first + 3)))).toEqual([]);
  });

  it("keeps every file for a key column without min/max statistics (booleans)", () => {
    const files = [file("f", { minValues: {}, maxValues: {} })];
    expect(paths(keyCandidates(files, keysOf(ColumnKind.Boolean, true)))).toEqual(["f"]);
  });
});
