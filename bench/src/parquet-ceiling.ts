import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { DuckDBInstance } from "@duckdb/node-api";
import type { DemoDataset } from "@inlet/demo";
import { BENCH_DATASETS, generateLines } from "./events.js";
import { count, type Phase } from "./progress.js";
import { sqlString } from "./sql.js";

/** The Parquet ceiling: DuckDB alone turning NDJSON into ZSTD Parquet. */
export interface ParquetCeiling {
  events: number;
  /** Mean bytes of an event as JSON (newline included). */
  eventBytes: number;
  /** NDJSON input, bytes. */
  inputBytes: number;
  /** Parquet output, bytes. */
  outputBytes: number;
  /** Seconds spent in the COPY statements (all datasets). */
  seconds: number;
  eventsPerS: number;
}

const CHUNK = 20_000;

/** `n` events of `dataset` as JSON lines, distinct for each seed. */
export type LineSource = (dataset: DemoDataset, n: number, seed: number) => string[];

/**
 * Writes `events` events (the three datasets in equal parts, one NDJSON file each; the demo events
 * as producers send them unless `lines` says otherwise), then times DuckDB's
 * `COPY (SELECT * FROM read_json(…)) TO … (FORMAT parquet, COMPRESSION zstd)` over each file, whole:
 * reading, schema detection, conversion, compression and the write.
 */
export async function measureParquetCeiling(
  events: number,
  phase: Phase,
  lines: LineSource = generateLines,
): Promise<ParquetCeiling> {
  const dir = await mkdtemp(join(tmpdir(), "inlet-bench-parquet-"));
  const perDataset = Math.floor(events / BENCH_DATASETS.length);
  try {
    const files: { input: string; output: string }[] = [];
    let inputBytes = 0;
    for (const [d, dataset] of BENCH_DATASETS.entries()) {
      const input = join(dir, `${dataset}.ndjson`);
      const out = createWriteStream(input);
      for (let done = 0; done < perDataset; done += CHUNK) {
        phase.update(`writing NDJSON: ${dataset} ${count(done)} / ${count(perDataset)}`);
        const n = Math.min(CHUNK, perDataset - done);
        // A fresh seed per chunk keeps memory flat and the events distinct.
        const chunk = lines(dataset, n, 1_000 * (d + 1) + done);
        if (!out.write(`${chunk.join("\n")}\n`)) await once(out, "drain");
      }
      out.end();
      await finished(out);
      inputBytes += (await stat(input)).size;
      files.push({ input, output: join(dir, `${dataset}.parquet`) });
    }

    const instance = await DuckDBInstance.create(":memory:");
    const conn = await instance.connect();
    let seconds = 0;
    let outputBytes = 0;
    try {
      for (const f of files) {
        phase.update(`COPY ${f.input.split("/").pop()} → parquet`);
        const started = performance.now();
        await conn.run(
          `COPY (SELECT * FROM read_json(${sqlString(f.input)}, format = 'newline_delimited')) ` +
            `TO ${sqlString(f.output)} (FORMAT parquet, COMPRESSION zstd)`,
        );
        seconds += (performance.now() - started) / 1000;
        outputBytes += (await stat(f.output)).size;
      }
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
    const total = perDataset * BENCH_DATASETS.length;
    return {
      events: total,
      eventBytes: Math.round(inputBytes / total),
      inputBytes,
      outputBytes,
      seconds,
      eventsPerS: Math.round(total / seconds),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
