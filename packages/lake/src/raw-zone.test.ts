import { appendFile, copyFile, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import avro from "avsc";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AvroSchema } from "./avro-columns.js";
import { RAW_RANGE_FIELDS, type RawEvent, RawZoneWriter } from "./raw-zone.js";

const clicksV1 = {
  type: "record",
  name: "clicks",
  fields: [
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "page", type: "string" },
    { name: "referrer", type: ["null", "string"], default: null },
    { name: "device", type: { type: "enum", name: "clicks_device", symbols: ["desktop", "mobile"] } },
  ],
} as AvroSchema;
const clicksV2 = {
  ...(clicksV1 as object),
  fields: [
    ...(clicksV1 as { fields: object[] }).fields,
    { name: "country", type: ["null", "string"], default: null },
  ],
} as AvroSchema;
const typeV1 = avro.Type.forSchema(clicksV1, { wrapUnions: false });
const typeV2 = avro.Type.forSchema(clicksV2, { wrapUnions: false });

const HOUR_7 = Date.UTC(2024, 4, 1, 7, 15);
const HOUR_8 = Date.UTC(2024, 4, 1, 8, 0);

function event(
  i: number,
  ingestedAt: number,
  type = typeV1,
): { raw: RawEvent; value: Record<string, unknown> } {
  const value: Record<string, unknown> = {
    ts: ingestedAt - 1000,
    page: `/products/${i}`,
    referrer: i % 2 ? null : `https://example.com/${"r".repeat(i % 50)}`,
    device: i % 3 ? "desktop" : "mobile",
  };
  if (type === typeV2) value.country = "FR";
  return {
    raw: {
      id: `e${i}`,
      ingestedAt,
      traceId: i % 4 ? "0af7651916cd43dd8448eb211c80319c" : "",
      payload: type.toBuffer(value),
    },
    value,
  };
}

async function decodeFile(path: string): Promise<{ codec: string; records: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const records: Record<string, unknown>[] = [];
    let codec = "";
    avro
      .createFileDecoder(path)
      .on("metadata", (_type: unknown, c: string) => {
        codec = c;
      })
      .on("data", (record: Record<string, unknown>) => records.push(record))
      .on("end", () => resolve({ codec, records }))
      .on("error", reject);
  });
}

async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(suffix)).sort();
}

describe("RawZoneWriter", () => {
  let lakeDir: string;
  beforeEach(async () => {
    lakeDir = await mkdtemp(join(tmpdir(), "inlet-raw-"));
  });
  afterEach(async () => {
    await rm(lakeDir, { recursive: true, force: true });
  });
  const rawDir = () => join(lakeDir, "raw", "clicks");

  it("stores events as deflate Avro containers by schema and ingest hour, identical when read back", async () => {
    const writer = await RawZoneWriter.create({ lakeDir });
    const first = [event(0, HOUR_7), event(1, HOUR_7 + 1), event(2, HOUR_8)];
    const second = [event(3, HOUR_7, typeV2)];
    await writer.append(
      "clicks",
      "clicks@1",
      clicksV1,
      first.map((e) => e.raw),
    );
    await writer.append(
      "clicks",
      "clicks@2",
      clicksV2,
      second.map((e) => e.raw),
    );
    await writer.close();

    expect(await filesUnder(rawDir(), ".inprogress")).toEqual([]);
    const files = await filesUnder(rawDir(), ".avro");
    expect(files.map((f) => f.replace(/part-[0-9a-f-]{36}/, "part-*"))).toEqual([
      "ingest_date=2024-05-01/hour=07/part-*.avro",
      "ingest_date=2024-05-01/hour=07/part-*.avro",
      "ingest_date=2024-05-01/hour=08/part-*.avro",
    ]);
    const all: Record<string, unknown>[] = [];
    for (const file of files) {
      const { codec, records } = await decodeFile(join(rawDir(), file));
      expect(codec).toBe("deflate");
      all.push(...records);
    }
    const expected = [...first, ...second].map(({ raw, value }, i) => ({
      _event_id: raw.id,
      _ingested_at: raw.ingestedAt,
      _trace_id: raw.traceId,
      _schema: i === 3 ? "clicks@2" : "clicks@1",
      event: value,
    }));
    expect(
      all.map((r) => ({ ...r })).sort((a, b) => String(a._event_id).localeCompare(String(b._event_id))),
    ).toEqual(expected);
  });

  it("appends a frame read in place: ids and payloads as byte ranges of one buffer, across hours", async () => {
    const writer = await RawZoneWriter.create({ lakeDir });
    const events = [event(1, HOUR_7), event(2, HOUR_8), event(3, HOUR_8 + 1)];
    // The bytes as a frame lays them out: a prefix, then each id and payload, with gaps between.
    const parts: Buffer[] = [Buffer.from("xx")];
    const ranges = new Float64Array(events.length * RAW_RANGE_FIELDS);
    let at = 2;
    events.forEach(({ raw }, i) => {
      const id = Buffer.from(raw.id);
      const r = i * RAW_RANGE_FIELDS;
      ranges.set(
        [at, at + id.length, raw.ingestedAt, at + id.length + 1, at + id.length + 1 + raw.payload.length],
        r,
      );
      parts.push(id, Buffer.from("-"), Buffer.from(raw.payload), Buffer.from("--"));
      at += id.length + 1 + raw.payload.length + 2;
    });
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    await writer.appendFrame("clicks", "clicks@1", clicksV1, {
      bytes: Buffer.concat(parts),
      count: events.length,
      ranges,
      traceId: trace,
    });
    await writer.close();

    const files = await filesUnder(rawDir(), ".avro");
    expect(files).toHaveLength(2);
    const records: Record<string, unknown>[] = [];
    for (const file of files) records.push(...(await decodeFile(join(rawDir(), file))).records);
    expect(
      records.map((r) => ({ ...r })).sort((a, b) => String(a._event_id).localeCompare(String(b._event_id))),
    ).toEqual(
      events.map(({ raw, value }) => ({
        _event_id: raw.id,
        _ingested_at: raw.ingestedAt,
        _trace_id: trace,
        _schema: "clicks@1",
        event: value,
      })),
    );
  });

  it("makes flushed events durable in a valid container while the file is still open", async () => {
    const writer = await RawZoneWriter.create({ lakeDir, blockBytes: 200 });
    const events = Array.from({ length: 25 }, (_, i) => event(i, HOUR_7));
    await writer.append(
      "clicks",
      "clicks@1",
      clicksV1,
      events.slice(0, 10).map((e) => e.raw),
    );
    await writer.flush();
    const [open] = await filesUnder(rawDir(), ".avro.inprogress");
    expect(open).toBeDefined();
    expect(await filesUnder(rawDir(), ".avro")).toEqual([]);
    const copy = join(lakeDir, "copy.avro");
    await copyFile(join(rawDir(), open!), copy);
    expect((await decodeFile(copy)).records.map((r) => r._event_id)).toEqual(
      events.slice(0, 10).map((e) => e.raw.id),
    );

    await writer.append(
      "clicks",
      "clicks@1",
      clicksV1,
      events.slice(10).map((e) => e.raw),
    );
    await writer.flush();
    await copyFile(join(rawDir(), open!), copy);
    expect((await decodeFile(copy)).records.map((r) => r._event_id)).toEqual(events.map((e) => e.raw.id));
    await writer.close();
    expect(await filesUnder(rawDir(), ".avro")).toEqual([open!.slice(0, -".inprogress".length)]);
  });

  it("rolls files by size, every closed file complete", async () => {
    const writer = await RawZoneWriter.create({ lakeDir, blockBytes: 256, maxFileBytes: 1500 });
    const events = Array.from({ length: 200 }, (_, i) => event(i, HOUR_7));
    for (let i = 0; i < events.length; i += 20) {
      await writer.append(
        "clicks",
        "clicks@1",
        clicksV1,
        events.slice(i, i + 20).map((e) => e.raw),
      );
    }
    await writer.close();
    const files = await filesUnder(rawDir(), ".avro");
    expect(files.length).toBeGreaterThan(3);
    const ids: unknown[] = [];
    for (const file of files)
      ids.push(...(await decodeFile(join(rawDir(), file))).records.map((r) => r._event_id));
    expect(ids.sort()).toEqual(events.map((e) => e.raw.id).sort());
  });

  it("rolls files by age at flush", async () => {
    const writer = await RawZoneWriter.create({ lakeDir, maxFileAgeMs: 0 });
    await writer.append("clicks", "clicks@1", clicksV1, [event(0, HOUR_7).raw]);
    await writer.flush();
    expect(await filesUnder(rawDir(), ".inprogress")).toEqual([]);
    expect(await filesUnder(rawDir(), ".avro")).toHaveLength(1);
    await writer.close();
  });

  it("closes the least recently used file past maxOpenFiles", async () => {
    const writer = await RawZoneWriter.create({ lakeDir, maxOpenFiles: 1 });
    await writer.append("clicks", "clicks@1", clicksV1, [event(0, HOUR_7).raw]);
    await writer.append("clicks", "clicks@2", clicksV2, [event(1, HOUR_7, typeV2).raw]);
    expect(await filesUnder(rawDir(), ".avro")).toHaveLength(1);
    expect(await filesUnder(rawDir(), ".avro.inprogress")).toHaveLength(1);
    await writer.close();
  });

  it("recovers a file left by a writer that died: trimmed to its last complete block and renamed", async () => {
    const crashed = await RawZoneWriter.create({ lakeDir });
    const events = Array.from({ length: 5 }, (_, i) => event(i, HOUR_7));
    await crashed.append(
      "clicks",
      "clicks@1",
      clicksV1,
      events.map((e) => e.raw),
    );
    await crashed.flush();
    const [open] = await filesUnder(rawDir(), ".inprogress");
    await appendFile(join(rawDir(), open!), Buffer.from([0x0a, 0x80, 0x02, 1, 2, 3])); // a torn block
    // A header-only file with no block is removed.
    const empty = join(rawDir(), "ingest_date=2024-05-01", "hour=07", "part-empty.avro.inprogress");
    await writeFile(empty, Buffer.from("Obj\x01\x00", "latin1"));

    const cautious = await RawZoneWriter.create({ lakeDir });
    expect(await cautious.recoverAbandoned()).toBe(0); // too recent to be abandoned
    await cautious.close();

    const restarted = await RawZoneWriter.create({ lakeDir, recoverAfterMs: 0 });
    expect(await filesUnder(rawDir(), ".inprogress")).toEqual([]);
    const [recovered] = await filesUnder(rawDir(), ".avro");
    expect(recovered).toBe(open!.slice(0, -".inprogress".length));
    expect((await decodeFile(join(rawDir(), recovered!))).records.map((r) => r._event_id)).toEqual(
      events.map((e) => e.raw.id),
    );
    await restarted.close();
    await crashed.close(); // its file was closed for it: nothing to do, no error
  });

  it("flushes what was appended before the flush began; appends made meanwhile wait for the next", async () => {
    const writer = await RawZoneWriter.create({ lakeDir });
    const events = Array.from({ length: 6 }, (_, i) => event(i, HOUR_7));
    await writer.append(
      "clicks",
      "clicks@1",
      clicksV1,
      events.slice(0, 3).map((e) => e.raw),
    );
    const flushed = writer.flush();
    const appended = writer.append(
      "clicks",
      "clicks@1",
      clicksV1,
      events.slice(3).map((e) => e.raw),
    );
    await Promise.all([flushed, appended]);
    const [open] = await filesUnder(rawDir(), ".avro.inprogress");
    const copy = join(lakeDir, "copy.avro");
    await copyFile(join(rawDir(), open!), copy);
    expect((await decodeFile(copy)).records.map((r) => r._event_id)).toEqual(["e0", "e1", "e2"]);

    await writer.flush();
    await copyFile(join(rawDir(), open!), copy);
    expect((await decodeFile(copy)).records.map((r) => r._event_id)).toEqual(events.map((e) => e.raw.id));
    await writer.close();
  });

  it("writes many blocks, and a record larger than a block, that read back unchanged", async () => {
    const writer = await RawZoneWriter.create({ lakeDir, blockBytes: 300 });
    const events = Array.from({ length: 120 }, (_, i) => event(i, HOUR_7));
    const big = { ...event(999, HOUR_7), value: {} as Record<string, unknown> };
    big.value = { ts: HOUR_7 - 1000, page: "/".repeat(5_000), referrer: null, device: "mobile" };
    big.raw = { ...big.raw, payload: typeV1.toBuffer(big.value) };
    for (let i = 0; i < events.length; i += 7) {
      await writer.append(
        "clicks",
        "clicks@1",
        clicksV1,
        events.slice(i, i + 7).map((e) => e.raw),
      );
    }
    await writer.append("clicks", "clicks@1", clicksV1, [big.raw]);
    await writer.close();
    const [file] = await filesUnder(rawDir(), ".avro");
    const { records } = await decodeFile(join(rawDir(), file!));
    expect(records.map((r) => r._event_id)).toEqual([...events.map((e) => e.raw.id), "e999"]);
    expect(records.at(-1)!.event).toEqual(big.value);
    expect(records[5]!.event).toEqual(events[5]!.value);
  });

  it("encodes the lineage as Avro does: multi-byte ids, empty trace ids, times before 1970", async () => {
    const writer = await RawZoneWriter.create({ lakeDir });
    const before1970 = -90 * 60_000;
    const FAR = Date.UTC(9999, 11, 31, 23, 59); // about 2^48: every byte of the varint path
    const raws: RawEvent[] = [
      { ...event(0, HOUR_7).raw, id: "évènement-💡", traceId: "" },
      { ...event(1, before1970).raw, id: "old" },
      { ...event(2, FAR).raw, id: "far" },
    ];
    await writer.append("clicks", "clicks@1", clicksV1, raws);
    await writer.close();
    const records: Record<string, unknown>[] = [];
    for (const file of await filesUnder(rawDir(), ".avro"))
      records.push(...(await decodeFile(join(rawDir(), file))).records);
    const lineage = new Map(records.map((r) => [r._event_id, [r._ingested_at, r._trace_id]]));
    expect(lineage).toEqual(
      new Map([
        ["évènement-💡", [HOUR_7, ""]],
        ["old", [before1970, raws[1]!.traceId]],
        ["far", [FAR, raws[2]!.traceId]],
      ]),
    );
    expect(await filesUnder(rawDir(), ".avro")).toContainEqual(
      expect.stringMatching(/^ingest_date=1969-12-31\/hour=22\//),
    );
  });

  it("compresses at the level asked for", async () => {
    const sizes: number[] = [];
    for (const compressionLevel of [0, 9]) {
      const dir = join(lakeDir, `level-${compressionLevel}`);
      const writer = await RawZoneWriter.create({ lakeDir: dir, compressionLevel });
      const events = Array.from({ length: 300 }, (_, i) => event(i, HOUR_7));
      await writer.append(
        "clicks",
        "clicks@1",
        clicksV1,
        events.map((e) => e.raw),
      );
      await writer.close();
      const [file] = await filesUnder(join(dir, "raw", "clicks"), ".avro");
      const path = join(dir, "raw", "clicks", file!);
      expect((await decodeFile(path)).records).toHaveLength(300);
      sizes.push((await stat(path)).size);
    }
    expect(sizes[0]!).toBeGreaterThan(2 * sizes[1]!);
  });

  it("refuses an event whose ingest time is not a whole number of ms", async () => {
    const writer = await RawZoneWriter.create({ lakeDir });
    await expect(
      writer.append("clicks", "clicks@1", clicksV1, [{ ...event(0, HOUR_7).raw, ingestedAt: 1.5 }]),
    ).rejects.toThrow('dataset "clicks": event e0 has invalid lineage (ingestedAt 1.5)');
    await writer.close();
  });

  it("refuses a schema it cannot wrap", async () => {
    const writer = await RawZoneWriter.create({ lakeDir });
    await expect(
      writer.append(
        "clicks",
        "clicks@9",
        { type: "record", name: "x", fields: [{ name: "a", type: "nope" }] } as AvroSchema,
        [event(0, HOUR_7).raw],
      ),
    ).rejects.toThrow('dataset "clicks": schema clicks@9 cannot be stored');
    await writer.close();
  });
});
