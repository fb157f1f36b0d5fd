import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type avsc from "avsc";
import { type AvroSchema, type AvroType, createAvroType } from "./avro-type.js";
import { CompatibilityMode, isCompatibilityMode } from "./compatibility.js";
import type { RegisterResult, SchemaRegistry } from "./registry.js";
import { SchemaError, SchemaErrorCode } from "./schema-error.js";
import { DEAD_LETTERS_DATASET, isDatasetName } from "./schema-id.js";

/** A dataset's settings, from `config/datasets/<dataset>/dataset.json`. */
export interface DatasetSettings {
  /** The timestamp-millis field that holds the event time (e.g. `ts`). */
  eventTimeField: string;
  /** How the curated table is partitioned (`event_date`). */
  partitionBy: string;
  /** What the dataset holds, for people. */
  description?: string;
  /** The dataset's compatibility mode (default: the registry's, BACKWARD). */
  compatibility?: CompatibilityMode;
}

/** A dataset as configured on disk: settings and every schema version, oldest first. */
export interface DatasetDefinition {
  name: string;
  settings: DatasetSettings;
  versions: Array<{ version: number; schema: AvroSchema }>;
}

const VERSION_FILE = /^([1-9][0-9]*)\.avsc$/;

/**
 * Reads `<configDir>/datasets/<dataset>/` (dataset.json and 1.avsc, 2.avsc, …) for every dataset,
 * sorted by name. Throws {@link SchemaError} (INVALID_DATASET_CONFIG) naming the file at fault.
 */
export async function loadDatasets(configDir: string): Promise<DatasetDefinition[]> {
  const root = join(configDir, "datasets");
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw invalid(`${root}: cannot read the datasets directory`, err);
  }
  // Hidden folders are not datasets (a Kubernetes ConfigMap mount holds `..data` and the like).
  const names = entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name);
  names.sort();
  const definitions: DatasetDefinition[] = [];
  for (const name of names) definitions.push(await loadDataset(join(root, name), name));
  return definitions;
}

async function loadDataset(dir: string, name: string): Promise<DatasetDefinition> {
  if (!isDatasetName(name)) {
    throw invalid(`${dir}: ${JSON.stringify(name)} is not a dataset name ([a-z][a-z0-9_]*)`);
  }
  if (name === DEAD_LETTERS_DATASET) {
    throw invalid(
      `${dir}: ${JSON.stringify(name)} is the lake's dead-letter table; give the dataset another name`,
    );
  }
  const settings = parseSettings(join(dir, "dataset.json"), await readJson(join(dir, "dataset.json")));

  const files = (await readdir(dir)).filter((f) => f.endsWith(".avsc"));
  const versions: DatasetDefinition["versions"] = [];
  for (const file of files) {
    const match = VERSION_FILE.exec(file);
    if (match === null)
      throw invalid(`${join(dir, file)}: schema files must be named <version>.avsc (1.avsc, 2.avsc, …)`);
    versions.push({ version: Number(match[1]), schema: (await readJson(join(dir, file))) as AvroSchema });
  }
  versions.sort((a, b) => a.version - b.version);
  if (versions.length === 0) throw invalid(`${dir}: no schema (expected 1.avsc)`);
  versions.forEach((v, i) => {
    if (v.version !== i + 1) {
      throw invalid(
        `${dir}: versions must run 1, 2, 3 … without gaps, found ${versions.map((x) => x.version).join(", ")}`,
      );
    }
  });

  for (const { version, schema } of versions) {
    const file = join(dir, `${version}.avsc`);
    let type: AvroType;
    try {
      type = createAvroType(schema);
    } catch (err) {
      throw invalid(`${file}: ${(err as Error).message}`, err);
    }
    if (type.typeName !== "record" || type.name !== name) {
      throw invalid(`${file}: expected an Avro record named ${JSON.stringify(name)} (the dataset name)`);
    }
    const timeField = (type as avsc.types.RecordType).field(settings.eventTimeField);
    if (timeField === undefined) {
      throw invalid(
        `${file}: eventTimeField ${JSON.stringify(settings.eventTimeField)} is not a field of the schema`,
      );
    }
  }
  return { name, settings, versions };
}

function parseSettings(file: string, json: unknown): DatasetSettings {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalid(`${file}: expected a JSON object`);
  }
  const raw = json as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof raw.eventTimeField !== "string" || raw.eventTimeField === "") {
    problems.push("eventTimeField must be a field name");
  }
  if (typeof raw.partitionBy !== "string" || raw.partitionBy === "")
    problems.push("partitionBy must be a string");
  if (raw.description !== undefined && typeof raw.description !== "string") {
    problems.push("description must be a string");
  }
  if (raw.compatibility !== undefined && !isCompatibilityMode(raw.compatibility)) {
    problems.push(`compatibility must be one of ${Object.values(CompatibilityMode).join(", ")}`);
  }
  if (problems.length > 0) throw invalid(`${file}: ${problems.join("; ")}`);
  const settings: DatasetSettings = {
    eventTimeField: raw.eventTimeField as string,
    partitionBy: raw.partitionBy as string,
  };
  if (raw.description !== undefined) settings.description = raw.description as string;
  if (raw.compatibility !== undefined) settings.compatibility = raw.compatibility as CompatibilityMode;
  return settings;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw invalid(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(`${file}: not valid JSON: ${(err as Error).message}`, err);
  }
}

function invalid(message: string, cause?: unknown): SchemaError {
  return new SchemaError(message, SchemaErrorCode.InvalidDatasetConfig, { cause });
}

/** One schema file's registration by {@link registerDatasets}. */
export interface DatasetRegistration extends RegisterResult {
  dataset: string;
}

/**
 * Registers every version of every dataset, oldest first, so the registry's version numbers match
 * the file names; throws {@link SchemaError} (VERSION_MISMATCH) when they cannot.
 */
export async function registerDatasets(
  registry: SchemaRegistry,
  definitions: readonly DatasetDefinition[],
): Promise<DatasetRegistration[]> {
  const results: DatasetRegistration[] = [];
  for (const definition of definitions) {
    const options = definition.settings.compatibility
      ? { compatibility: definition.settings.compatibility }
      : {};
    for (const { version, schema } of definition.versions) {
      const result = await registry.register(definition.name, schema, options);
      if (result.version !== version) {
        throw new SchemaError(
          `datasets/${definition.name}/${version}.avsc is registered as ${result.id}: the registry's versions of ${definition.name} differ from the files`,
          SchemaErrorCode.VersionMismatch,
        );
      }
      results.push({ dataset: definition.name, ...result });
    }
  }
  return results;
}
