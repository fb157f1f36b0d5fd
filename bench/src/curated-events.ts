import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DemoDataset, DemoEvent } from "@inlet/demo";
import { type AvroType, createAvroType, type DatasetDefinition, loadDatasets } from "@inlet/schema";
import { BENCH_DATASETS, generateEvents } from "./events.js";

/**
 * The events as the enricher writes them to CURATED: the bench datasets' latest schemas and the
 * enrichment of `config/reference`. The writer figure pre-fills its stream with them, and the
 * Parquet ceiling on the writer's rows converts the same rows from NDJSON.
 */
export interface CuratedShape {
  readonly definitions: readonly DatasetDefinition[];
  /** The Avro type of each dataset's latest schema, and its version. */
  readonly types: ReadonlyMap<DemoDataset, { readonly type: AvroType; readonly version: number }>;
  /** Fills the enrichment fields the way the enricher would. */
  readonly enrich: (dataset: DemoDataset, event: DemoEvent) => DemoEvent;
}

/** Reads the datasets and reference tables of `configDir`. */
export async function loadCuratedShape(configDir: string): Promise<CuratedShape> {
  const definitions = await loadDatasets(configDir);
  return { definitions, types: latestTypes(definitions), enrich: await enricher(configDir) };
}

/**
 * `event` of `dataset` enriched, then through its latest Avro schema and back: exactly the fields
 * and values the lake-writer decodes from CURATED.
 */
export function curatedEvent(
  shape: CuratedShape,
  dataset: DemoDataset,
  event: DemoEvent,
): Record<string, unknown> {
  const { type } = shape.types.get(dataset)!;
  return type.fromBuffer(type.toBuffer(shape.enrich(dataset, event))) as Record<string, unknown>;
}

/**
 * `n` rows of `dataset` as the lake-writer writes them in the writer figure, as JSON lines: the
 * {@link curatedEvent}, then the envelope columns,
 * named and filled as the writer figure's frames fill them (ids `w-<ds>-<n>`, no trace); seeds
 * a chunk's length apart give distinct ids.
 * Timestamps stay epoch ms, as in the producer events' ceiling.
 */
export function curatedLines(shape: CuratedShape, dataset: DemoDataset, n: number, seed: number): string[] {
  const { version } = shape.types.get(dataset)!;
  const ingestedAt = Date.now();
  return generateEvents(dataset, n, seed, version).map((e, i) =>
    JSON.stringify({
      ...curatedEvent(shape, dataset, e),
      _event_id: `w-${dataset}-${seed + i}`,
      _ingested_at: ingestedAt,
      _trace_id: null,
      _schema_version: version,
    }),
  );
}

function latestTypes(
  definitions: readonly DatasetDefinition[],
): Map<DemoDataset, { type: AvroType; version: number }> {
  const types = new Map<DemoDataset, { type: AvroType; version: number }>();
  for (const ds of BENCH_DATASETS) {
    const latest = definitions.find((d) => d.name === ds)?.versions.at(-1);
    if (latest === undefined) throw new Error(`config has no dataset ${ds}`);
    types.set(ds, { type: createAvroType(latest.schema), version: latest.version });
  }
  return types;
}

type Reference = Record<string, Record<string, string>>;

async function enricher(configDir: string): Promise<(ds: DemoDataset, e: DemoEvent) => DemoEvent> {
  const merchants = JSON.parse(
    await readFile(join(configDir, "reference", "merchants.json"), "utf8"),
  ) as Reference;
  const devices = JSON.parse(
    await readFile(join(configDir, "reference", "devices.json"), "utf8"),
  ) as Reference;
  return (ds, e) => {
    if (ds === "transactions") {
      const m = merchants[String(e.merchant_id)];
      return {
        ...e,
        merchant_name: m?.name ?? null,
        merchant_category: m?.category ?? null,
        merchant_country: m?.country ?? null,
        merchant_found: m !== undefined,
      };
    }
    if (ds === "sensor_readings") {
      const d = devices[String(e.device_id)];
      return { ...e, site: d?.site ?? null, device_model: d?.model ?? null, device_found: d !== undefined };
    }
    return e;
  };
}
