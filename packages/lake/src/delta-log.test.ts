import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  applyDeltaActions,
  commitDelta,
  type DeltaAction,
  type DeltaAddFile,
  type DeltaMetadata,
  readDeltaSnapshot,
} from "./delta-log.js";
import { DeltaConflictError, DeltaLogError, LakeErrorCode } from "./errors.js";

const schema = (fields: string[]) =>
  JSON.stringify({
    type: "struct",
    fields: fields.map((name) => ({ name, type: "long", nullable: true, metadata: {} })),
  });

const metadata = (fields: string[]): DeltaMetadata => ({
  id: "7b1a7c6e-3c8e-4c1f-9f5e-2f0d1f0c9a11",
  format: { provider: "parquet", options: {} },
  schemaString: schema(fields),
  partitionColumns: [],
  configuration: {},
  createdTime: 1,
});

const add = (path: string, numRecords = 1): DeltaAddFile => ({
  path,
  partitionValues: {},
  size: 100,
  modificationTime: 1,
  dataChange: true,
  stats: { numRecords, minValues: { a: 1 }, maxValues: { a: 9 }, nullCount: { a: 0 } },
});

const first: DeltaAction[] = [
  { commitInfo: { timestamp: 1, operation: "WRITE" } },
  { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
  { metaData: metadata(["a"]) },
  { add: add("a.parquet") },
  { add: add("b.parquet") },
  { txn: { appId: "app1", version: 5, lastUpdated: 1 } },
];

describe("delta log", () => {
  let tableDir: string;
  beforeEach(async () => {
    tableDir = await mkdtemp(join(tmpdir(), "inlet-delta-"));
  });
  afterEach(async () => {
    await rm(tableDir, { recursive: true, force: true });
  });

  it("writes one JSON action per line, with stats as a JSON string", async () => {
    await commitDelta(tableDir, 0, first);
    const lines = (await readFile(join(tableDir, "_delta_log", "00000000000000000000.json"), "utf8"))
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(first.length);
    expect(Object.keys(lines[1])).toEqual(["protocol"]);
    expect(typeof lines[3].add.stats).toBe("string");
    expect(JSON.parse(lines[3].add.stats)).toEqual({
      numRecords: 1,
      minValues: { a: 1 },
      maxValues: { a: 9 },
      nullCount: { a: 0 },
    });
  });

  it("refuses to overwrite a committed version and leaves no temp file behind", async () => {
    await commitDelta(tableDir, 0, first);
    const before = await readFile(join(tableDir, "_delta_log", "00000000000000000000.json"), "utf8");
    const error = await commitDelta(tableDir, 0, [{ commitInfo: { operation: "OTHER" } }]).catch((e) => e);
    expect(error).toBeInstanceOf(DeltaConflictError);
    expect(error.code).toBe(LakeErrorCode.VersionExists);
    expect(error.version).toBe(0);
    expect(await readFile(join(tableDir, "_delta_log", "00000000000000000000.json"), "utf8")).toBe(before);
    expect(await readdir(join(tableDir, "_delta_log"))).toEqual(["00000000000000000000.json"]);
  });

  it("lets exactly one of many racing writers win a version", async () => {
    await commitDelta(tableDir, 0, first);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        commitDelta(tableDir, 1, [{ txn: { appId: `w${i}`, version: i } }]),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(DeltaConflictError);
    const snapshot = await readDeltaSnapshot(tableDir);
    expect(snapshot?.version).toBe(1);
    expect(snapshot?.txns.size).toBe(2);
  });

  it("replays adds, removes, txns and metadata in order", async () => {
    await commitDelta(tableDir, 0, first);
    await commitDelta(tableDir, 1, [
      { remove: { path: "a.parquet", deletionTimestamp: 2, dataChange: true } },
      { add: add("c.parquet", 3) },
      { txn: { appId: "app1", version: 9 } },
      { txn: { appId: "app2", version: 3 } },
    ]);
    await commitDelta(tableDir, 2, [{ metaData: metadata(["a", "b"]) }]);

    const snapshot = await readDeltaSnapshot(tableDir);
    expect(snapshot).toBeDefined();
    expect(snapshot!.version).toBe(2);
    expect(snapshot!.tableDir).toBe(tableDir);
    expect(snapshot!.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    expect(snapshot!.metadata.schemaString).toBe(schema(["a", "b"]));
    expect(snapshot!.files.map((f) => f.path).sort()).toEqual(["b.parquet", "c.parquet"]);
    expect(snapshot!.files.find((f) => f.path === "c.parquet")?.stats?.numRecords).toBe(3);
    expect([...snapshot!.txns]).toEqual([
      ["app1", 9],
      ["app2", 3],
    ]);

    const v0 = await readDeltaSnapshot(tableDir, { version: 0 });
    expect(v0!.files.map((f) => f.path).sort()).toEqual(["a.parquet", "b.parquet"]);
    expect(v0!.txns.get("app1")).toBe(5);
    expect(v0!.metadata.schemaString).toBe(schema(["a"]));
  });

  it("reads only the newer commits when given a snapshot in hand", async () => {
    await commitDelta(tableDir, 0, first);
    const v0 = await readDeltaSnapshot(tableDir);
    await commitDelta(tableDir, 1, [
      { remove: { path: "b.parquet", dataChange: true } },
      { add: add("d.parquet") },
    ]);
    const full = await readDeltaSnapshot(tableDir);
    const incremental = await readDeltaSnapshot(tableDir, { since: v0 });
    expect(incremental).toEqual(full);
    expect(
      applyDeltaActions(v0, tableDir, 1, [
        { remove: { path: "b.parquet", dataChange: true } },
        { add: add("d.parquet") },
      ]),
    ).toEqual(full);
  });

  it("matches add and remove paths after URI decoding", async () => {
    await commitDelta(tableDir, 0, [...first.slice(0, 3), { add: add("x=A%20B/f.parquet") }]);
    await commitDelta(tableDir, 1, [{ remove: { path: "x=A B/f.parquet", dataChange: true } }]);
    expect((await readDeltaSnapshot(tableDir))!.files).toEqual([]);
  });

  it("resolves to undefined without a log or for a version the log does not have", async () => {
    expect(await readDeltaSnapshot(join(tableDir, "nothing-here"))).toBeUndefined();
    await commitDelta(tableDir, 0, first);
    expect(await readDeltaSnapshot(tableDir, { version: 1 })).toBeUndefined();
    expect(await readDeltaSnapshot(tableDir, { version: -1 })).toBeUndefined();
  });

  it("reports a gap in the log as corruption", async () => {
    await commitDelta(tableDir, 0, first);
    await commitDelta(tableDir, 2, [{ txn: { appId: "app1", version: 7 } }]);
    const error = await readDeltaSnapshot(tableDir).catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogError);
    expect(error.code).toBe(LakeErrorCode.CorruptLog);
    expect(error.message).toContain("commit 1 is missing");
  });

  it("reports a malformed line with its file and line number", async () => {
    await commitDelta(tableDir, 0, first);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      join(tableDir, "_delta_log", "00000000000000000001.json"),
      '{"txn":{"appId":"a","version":1}}\n{oops\n',
    );
    const error = await readDeltaSnapshot(tableDir).catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogError);
    expect(error.message).toContain("00000000000000000001.json line 2");
  });

  it("refuses a table without metadata", async () => {
    await commitDelta(tableDir, 0, [{ add: add("a.parquet") }]);
    const error = await readDeltaSnapshot(tableDir).catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogError);
    expect(error.code).toBe(LakeErrorCode.CorruptLog);
  });
});
