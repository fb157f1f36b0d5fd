import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ColumnKind } from "./column-kind.js";
import { Utf8Column } from "./column-vectors.js";
import { LakeError, LakeErrorCode } from "./errors.js";
import { type ParquetColumn, ParquetWriter } from "./parquet-writer.js";
import { quoteString } from "./sql.js";

describe("ParquetWriter", () => {
  let dir: string;
  let writer: ParquetWriter;
  let instance: DuckDBInstance;
  let db: DuckDBConnection;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "inlet-parquet-"));
    writer = await ParquetWriter.create({ threads: 2 });
    instance = await DuckDBInstance.create(":memory:");
    db = await instance.connect();
  });
  afterAll(async () => {
    await writer.close();
    db.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJson();

  const ts = Date.UTC(2024, 4, 1, 10, 30, 0, 123);
  const columns: ParquetColumn[] = [
    { name: "name", kind: ColumnKind.String, values: ["a", null, "ccc"] },
    { name: "n", kind: ColumnKind.Int, values: [1, 2, -3] },
    { name: "big", kind: ColumnKind.Long, values: [2 ** 40, 9007199254740993n, undefined] },
    { name: "f", kind: ColumnKind.Float, values: [0.5, 1.5, null] },
    { name: "d", kind: ColumnKind.Double, values: [1.25, Number.NaN, -2] },
    { name: "ok", kind: ColumnKind.Boolean, values: [true, false, null] },
    { name: "raw", kind: ColumnKind.Binary, values: [Buffer.from([0, 1, 255]), null, new Uint8Array([7])] },
    { name: "ts", kind: ColumnKind.TimestampMillis, values: [ts, new Date(ts + 1000), null] },
    { name: "us", kind: ColumnKind.TimestampMicros, values: [ts * 1000 + 7, null, null] },
    { name: "day", kind: ColumnKind.Date, values: [19844, null, new Date(Date.UTC(1969, 11, 31))] },
    { name: "doc", kind: ColumnKind.Json, values: [{ a: [1, 2], b: "x" }, null, [Buffer.from("hi")]] },
    { name: 'we"ird name', kind: ColumnKind.String, values: ["x", "y", "z"] },
  ];

  it("writes every column kind with its stored type and values", async () => {
    const path = join(dir, "all.zstd.parquet");
    const [file] = await writer.write({ columns, files: [path] });
    expect(file?.path).toBe(path);
    const src = `read_parquet(${quoteString(path)})`;
    const types = await rows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${src})`);
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
      name: "VARCHAR",
      n: "INTEGER",
      big: "BIGINT",
      f: "FLOAT",
      d: "DOUBLE",
      ok: "BOOLEAN",
      raw: "BLOB",
      ts: "TIMESTAMP WITH TIME ZONE",
      us: "TIMESTAMP WITH TIME ZONE",
      day: "DATE",
      doc: "VARCHAR",
      'we"ird name': "VARCHAR",
    });
    const values = await rows(
      `SELECT name, n, big::VARCHAR AS big, f, d::VARCHAR AS d, ok, hex(raw) AS raw, epoch_ms(ts) AS ts, epoch_us(us) AS us, day::VARCHAR AS day, doc FROM ${src}`,
    );
    expect(values).toEqual([
      {
        name: "a",
        n: 1,
        big: String(2 ** 40),
        f: 0.5,
        d: "1.25",
        ok: true,
        raw: "0001FF",
        ts: String(ts),
        us: String(ts * 1000 + 7),
        day: "2024-05-01",
        doc: '{"a":[1,2],"b":"x"}',
      },
      {
        name: null,
        n: 2,
        big: "9007199254740993",
        f: 1.5,
        d: "nan",
        ok: false,
        raw: null,
        ts: String(ts + 1000),
        us: null,
        day: null,
        doc: null,
      },
      {
        name: "ccc",
        n: -3,
        big: null,
        f: null,
        d: "-2.0",
        ok: null,
        raw: "07",
        ts: null,
        us: null,
        day: "1969-12-31",
        doc: '["aGk="]',
      },
    ]);
  });

  it("stores timestamps UTC-adjusted and compresses with ZSTD", async () => {
    const path = join(dir, "meta.zstd.parquet");
    await writer.write({ columns, files: [path] });
    const schema = await rows(
      `SELECT name, logical_type FROM parquet_schema(${quoteString(path)}) WHERE name = 'ts'`,
    );
    expect(schema[0]?.logical_type).toContain("isAdjustedToUTC=1");
    const codecs = await rows(`SELECT DISTINCT compression FROM parquet_metadata(${quoteString(path)})`);
    expect(codecs).toEqual([{ compression: "ZSTD" }]);
  });

  it("returns size and Delta statistics for each file", async () => {
    const path = join(dir, "stats.zstd.parquet");
    const [file] = await writer.write({ columns, files: [path] });
    const onDisk = (await import("node:fs/promises")).stat(path);
    expect(file!.size).toBe((await onDisk).size);
    expect(file!.stats.numRecords).toBe(3);
    expect(file!.stats.nullCount).toMatchObject({ name: 1, n: 0, big: 1, raw: 1, ts: 1, doc: 1 });
    expect(file!.stats.minValues).toEqual({
      name: "a",
      n: -3,
      big: 2 ** 40,
      f: 0.5,
      d: -2,
      ts: new Date(ts).toISOString(),
      us: new Date(ts).toISOString(),
      day: "1969-12-31",
      'we"ird name': "x",
    });
    // NaN is the largest double in DuckDB and has no JSON form: no max for d.
    expect(file!.stats.maxValues).toMatchObject({
      name: "ccc",
      n: 2,
      ts: new Date(ts + 1000).toISOString(),
      day: "2024-05-01",
    });
    expect(file!.stats.maxValues).not.toHaveProperty("d");
    expect(file!.stats.maxValues).not.toHaveProperty("raw");
  });

  it("takes each file's string min and max in UTF-8 byte order, as stored, from JS strings and UTF-8 rows alike", async () => {
    // UTF-16 order would put "😀" (a surrogate pair) before "\ue000" and "\uffff"; UTF-8 puts it after.
    // A lone surrogate is stored as U+FFFD. Group 1's UTF-8 rows share bytes and include the empty string.
    const texts = ["b", "a\ud800", "😀", "", "\ue000", "\ud800", "\uffff", "abc", "ab", "ab"];
    const bytes = Buffer.from("abc");
    // Row i of group i % 2; group 1's rows are "", "ab", "abc", "ab", "abc" as slices of "abc".
    const slices = [
      [0, 1],
      [0, 0],
      [0, 3],
      [0, 2],
      [1, 2],
      [0, 3],
      [2, 1],
      [0, 2],
      [0, 1],
      [0, 3],
    ];
    const utf8 = new Utf8Column(
      bytes,
      Int32Array.from(slices, (r) => r[0]!),
      Int32Array.from(slices, (r) => r[1]!),
    );
    const paths = [0, 1].map((g) => join(dir, "bounds", `${g}.parquet`));
    const files = await writer.write({
      columns: [
        { name: "js", kind: ColumnKind.String, values: texts },
        { name: 'ut"f8', kind: ColumnKind.String, values: utf8 },
        { name: "none", kind: ColumnKind.String, values: texts.map(() => null) },
      ],
      files: paths,
      groupOf: texts.map((_, i) => i % 2),
    });
    const byBytes = (rows: string[]) =>
      rows.map((t) => t.toWellFormed()).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    for (const [g, file] of files.entries()) {
      const js = byBytes(texts.filter((_, i) => i % 2 === g));
      const own = byBytes(slices.filter((_, i) => i % 2 === g).map(([at, n]) => "abc".slice(at, at! + n!)));
      expect(file.stats.minValues).toEqual({ js: js[0], 'ut"f8': own[0] });
      expect(file.stats.maxValues).toEqual({ js: js.at(-1), 'ut"f8': own.at(-1) });
      expect(file.stats.nullCount).toEqual({ js: 0, 'ut"f8': 0, none: 5 });
    }
    expect(files[0]!.stats.maxValues.js).toBe("😀");
    expect(files[1]!.stats.maxValues.js).toBe("\ufffd");
    expect(files[1]!.stats.minValues['ut"f8']).toBe("");
  });

  it("keeps string statistics to a 32-character prefix", async () => {
    const long = "x".repeat(40);
    const [file] = await writer.write({
      columns: [{ name: "s", kind: ColumnKind.String, values: [long, "a"] }],
      files: [join(dir, "long.zstd.parquet")],
    });
    expect(file!.stats.minValues).toEqual({ s: "a" });
    expect(file!.stats.maxValues).toEqual({});
    const [only] = await writer.write({
      columns: [{ name: "s", kind: ColumnKind.String, values: [long] }],
      files: [join(dir, "long2.zstd.parquet")],
    });
    expect(only!.stats.minValues).toEqual({ s: "x".repeat(32) });
  });

  it("splits rows into one file per group and skips empty groups", async () => {
    const n = 5000;
    const paths = [join(dir, "g/0.parquet"), join(dir, "g/1.parquet"), join(dir, "g/never.parquet")];
    const written = await writer.write({
      columns: [{ name: "i", kind: ColumnKind.Int, values: Array.from({ length: n }, (_, i) => i) }],
      files: paths,
      groupOf: Array.from({ length: n }, (_, i) => i % 2),
    });
    expect(written.map((f) => f.path)).toEqual(paths.slice(0, 2));
    expect(written.map((f) => f.stats.numRecords)).toEqual([2500, 2500]);
    expect(written[1]!.stats.minValues).toEqual({ i: 1 });
    expect(
      await rows(
        `SELECT count(*)::INTEGER AS c, sum(i % 2)::INTEGER AS odd FROM read_parquet(${quoteString(paths[1]!)})`,
      ),
    ).toEqual([{ c: 2500, odd: 2500 }]);
    expect((await readdir(join(dir, "g"))).sort()).toEqual(["0.parquet", "1.parquet"]);
  });

  it("names the column and row of a value of the wrong type, writing nothing", async () => {
    const path = join(dir, "bad/x.parquet");
    const error = await writer
      .write({
        columns: [
          { name: "ok", kind: ColumnKind.Int, values: [1, 2, 3] },
          { name: "amount", kind: ColumnKind.Double, values: [1, 2, "12,5"] },
        ],
        files: [path],
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.code).toBe(LakeErrorCode.InvalidArgument);
    expect(error.message).toBe('column "amount" row 2: expected double, got "12,5"');
    await expect(readdir(join(dir, "bad"))).rejects.toThrow();
    // The writer is still usable afterwards.
    await writer.write({ columns: [{ name: "i", kind: ColumnKind.Int, values: [1] }], files: [path] });
    expect(await readdir(join(dir, "bad"))).toEqual(["x.parquet"]);
  });

  it("stages many rows exactly, across data chunks, with nulls in changing places", async () => {
    const n = 20_000; // more than one turn of the event loop's worth of data chunks
    const base = Date.UTC(1969, 11, 31, 23, 0, 0); // before the epoch: negative ms
    const rowsOf = (i: number) => ({
      low: i % 7 === 0 ? null : ["x", "", "it's"][i % 3]!,
      high: i % 11 === 0 ? null : `v${i}`,
      ts: i % 5 === 0 ? null : base + i * 1000,
      big: i % 3 === 0 ? BigInt(i) * 2n ** 40n - 2n ** 62n : -(2 ** 53 - 1) + i,
      d: [Number.NaN, -0, Number.POSITIVE_INFINITY, 0.1 * i, null][i % 5]!,
      ok: i % 4 === 0 ? null : i % 2 === 0,
    });
    const expected = Array.from({ length: n }, (_, i) => rowsOf(i));
    const column = <K extends keyof ReturnType<typeof rowsOf>>(key: K) => expected.map((r) => r[key]);
    const path = join(dir, "many.zstd.parquet");
    await writer.write({
      columns: [
        { name: "i", kind: ColumnKind.Int, values: Array.from({ length: n }, (_, i) => i) },
        { name: "low", kind: ColumnKind.String, values: column("low") },
        { name: "high", kind: ColumnKind.String, values: column("high") },
        { name: "ts", kind: ColumnKind.TimestampMillis, values: column("ts") },
        { name: "big", kind: ColumnKind.Long, values: column("big") },
        { name: "d", kind: ColumnKind.Double, values: column("d") },
        { name: "ok", kind: ColumnKind.Boolean, values: column("ok") },
      ],
      files: [path],
    });
    const reader = await db.runAndReadAll(
      `SELECT low, high, epoch_ms(ts), big, d, ok FROM read_parquet(${quoteString(path)}) ORDER BY i`,
    );
    const read = reader.getRows();
    expect(read).toHaveLength(n);
    const mismatches = read.filter((row, i) => {
      const e = expected[i]!;
      const big = typeof e.big === "bigint" ? e.big : BigInt(e.big);
      return (
        row[0] !== e.low ||
        row[1] !== e.high ||
        row[2] !== (e.ts === null ? null : BigInt(e.ts)) ||
        row[3] !== big ||
        !Object.is(row[4], e.d) ||
        row[5] !== e.ok
      );
    });
    expect(mismatches).toEqual([]);
  });

  it("writes text given as UTF-8 bytes or strings, short and long, across chunks and groups", async () => {
    const n = 5_000; // more than two data chunks per group
    const texts = Array.from({ length: n }, (_, i) =>
      i % 13 === 0
        ? null
        : ["", "x".repeat(12), "y".repeat(13), `é${i}`.repeat(i % 40), "😀 ünïcödé text"][i % 5]!,
    );
    const pieces = texts.map((t) => (t === null ? null : Buffer.from(t, "utf8")));
    const starts = new Int32Array(n);
    const lengths = new Int32Array(n);
    let at = 7; // the column's bytes need not start at 0
    pieces.forEach((p, i) => {
      starts[i] = at;
      lengths[i] = p === null ? -1 : p.length;
      at += p?.length ?? 0;
    });
    const bytes = Buffer.concat([Buffer.alloc(7), ...pieces.filter((p) => p !== null)]);
    const paths = [0, 1, 2].map((g) => join(dir, "utf8", `${g}.parquet`));
    const files = await writer.write({
      columns: [
        { name: "i", kind: ColumnKind.Int, values: Array.from({ length: n }, (_, i) => i) },
        { name: "bytes", kind: ColumnKind.String, values: new Utf8Column(bytes, starts, lengths) },
        { name: "js", kind: ColumnKind.String, values: texts },
      ],
      files: paths,
      groupOf: Array.from({ length: n }, (_, i) => i % 3),
    });
    expect(files.map((f) => f.stats.numRecords)).toEqual([1667, 1667, 1666]);
    const read = (
      await db.runAndReadAll(
        `SELECT i, bytes, js FROM read_parquet([${paths.map(quoteString).join(", ")}]) ORDER BY i`,
      )
    ).getRows();
    expect(read).toHaveLength(n);
    expect(read.filter(([i, b, j]) => b !== texts[i as number] || j !== texts[i as number])).toEqual([]);
    for (const [g, file] of files.entries()) {
      const mine = texts.filter((t, i) => i % 3 === g && t !== null) as string[];
      const sorted = [...mine].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(file.stats.nullCount).toEqual({
        i: 0,
        bytes: file.stats.numRecords - mine.length,
        js: file.stats.numRecords - mine.length,
      });
      expect([file.stats.minValues.bytes, file.stats.minValues.js]).toEqual([sorted[0], sorted[0]]);
    }
  });

  it("stores strings as given: NUL, lone surrogates (as U+FFFD), quotes, empty, all NULL", async () => {
    const path = join(dir, "strings.zstd.parquet");
    const odd = ["a\0b", "\ud800x", "it's", "", null];
    await writer.write({
      columns: [
        { name: "few", kind: ColumnKind.String, values: odd },
        { name: "simple", kind: ColumnKind.String, values: ["a", "A", "a", "", null] },
        { name: "none", kind: ColumnKind.String, values: [null, null, null, null, null] },
      ],
      files: [path],
    });
    const src = `read_parquet(${quoteString(path)})`;
    expect(await rows(`SELECT few, simple, none FROM ${src}`)).toEqual([
      { few: "a\0b", simple: "a", none: null },
      { few: "\ufffdx", simple: "A", none: null },
      { few: "it's", simple: "a", none: null },
      { few: "", simple: "", none: null },
      { few: null, simple: null, none: null },
    ]);
    const types = await rows(`SELECT column_type FROM (DESCRIBE SELECT * FROM ${src})`);
    expect(types).toEqual(Array(3).fill({ column_type: "VARCHAR" }));
  });

  it("spills under tempDirectory, into a directory of its own gone after close", async () => {
    const parent = join(dir, "spill-parent");
    await mkdir(parent);
    const own = await ParquetWriter.create({ threads: 1, tempDirectory: parent });
    const setting = await own.withConnection(
      async (c) => (await c.runAndReadAll("SELECT current_setting('temp_directory')")).getRows()[0]?.[0],
    );
    const prefix = join(parent, "inlet-parquet-");
    expect(String(setting).slice(0, prefix.length)).toBe(prefix);
    await own.write({
      columns: [{ name: "i", kind: ColumnKind.Int, values: [1, 2] }],
      files: [join(dir, "own.parquet")],
    });
    await own.close();
    expect(await readdir(parent)).toEqual([]);
  });

  it("refuses columns of different lengths", async () => {
    const error = await writer
      .write({
        columns: [
          { name: "a", kind: ColumnKind.Int, values: [1, 2] },
          { name: "b", kind: ColumnKind.Int, values: [1] },
        ],
        files: [join(dir, "never.parquet")],
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(LakeError);
    expect(error.message).toContain('column "b" has 1 values, expected 2');
  });

  it("builds each request only at its turn, one at a time, and writes each whole", async () => {
    const n = 30_000;
    const built: number[] = [];
    let building = 0;
    let overlapped = false;
    const writes = Array.from({ length: 6 }, (_, k) =>
      writer.write(async () => {
        if (building > 0) overlapped = true;
        building++;
        built.push(k);
        await new Promise((r) => setTimeout(r, 5));
        building--;
        return {
          columns: [
            { name: "k", kind: ColumnKind.Int, values: new Array<number>(n).fill(k) },
            { name: "i", kind: ColumnKind.Long, values: Array.from({ length: n }, (_, i) => i) },
          ],
          files: [join(dir, `turns/${k}.parquet`)],
        };
      }),
    );
    // A failing builder fails its own write only.
    const failing = writer
      .write(() => {
        throw new Error("no rows today");
      })
      .catch((e: unknown) => e);
    const written = await Promise.all(writes);
    expect(((await failing) as Error).message).toBe("no rows today");
    expect(overlapped).toBe(false);
    expect(built).toEqual([0, 1, 2, 3, 4, 5]);
    for (const [k, files] of written.entries()) {
      expect(files.map((f) => f.stats.numRecords)).toEqual([n]);
      expect(
        await rows(
          `SELECT min(k)::INTEGER AS k, count(*)::INTEGER AS c, sum(i)::BIGINT AS s FROM read_parquet(${quoteString(files[0]!.path)})`,
        ),
      ).toEqual([{ k, c: n, s: String((n * (n - 1)) / 2) }]);
    }
  });

  it("closes after the writes in flight finish, and refuses new ones", async () => {
    const own = await ParquetWriter.create({ threads: 1 });
    const n = 20_000;
    const writes = [0, 1, 2].map((k) =>
      own.write(() => ({
        columns: [{ name: "i", kind: ColumnKind.Int, values: Array.from({ length: n }, (_, i) => i + k) }],
        files: [join(dir, `closing/${k}.parquet`)],
      })),
    );
    await own.close();
    const written = await Promise.all(writes);
    expect(written.map((files) => files[0]!.stats.numRecords)).toEqual([n, n, n]);
    await expect(
      own.write({
        columns: [{ name: "i", kind: ColumnKind.Int, values: [1] }],
        files: [join(dir, "x.parquet")],
      }),
    ).rejects.toThrow("parquet writer is closed");
  });
});
