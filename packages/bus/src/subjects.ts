import { BusError, BusErrorCode } from "./errors.js";

/** The stages of the pipeline, as they appear in `dlq.<stage>.<ds>` and frame ids. */
export const Stage = {
  Collector: "collector",
  Processor: "processor",
  Enricher: "enricher",
  LakeWriter: "lake-writer",
  /** The CDC source (`apps/cdc`): changes whose values it could not convert. */
  Cdc: "cdc",
} as const;

/** One of {@link Stage}. */
export type Stage = (typeof Stage)[keyof typeof Stage];

const DATASET = /^[a-z][a-z0-9_]*$/;
// A subject token we allow for rules, databases, tables, prefixes: no dots, wildcards or spaces.
const TOKEN = /^[A-Za-z0-9_-]+$/;
const STAGES = new Set<string>(Object.values(Stage));

/** True when `name` is a valid dataset name: `[a-z][a-z0-9_]*`. */
export function isDatasetName(name: string): boolean {
  return DATASET.test(name);
}

/** Throws {@link BusError} (INVALID_NAME) unless `name` is a valid dataset name. */
export function assertDatasetName(name: string): void {
  if (!DATASET.test(name)) {
    throw new BusError(
      `invalid dataset name ${JSON.stringify(name)}: use lowercase letters, digits and _, starting with a letter`,
      BusErrorCode.InvalidName,
    );
  }
}

function assertToken(what: string, value: string): void {
  if (!TOKEN.test(value)) {
    throw new BusError(
      `invalid ${what} ${JSON.stringify(value)}: use letters, digits, _ and -`,
      BusErrorCode.InvalidName,
    );
  }
}

/** True when `name` is one of the {@link Stage} values. */
export function isStage(name: string): name is Stage {
  return STAGES.has(name);
}

function assertStage(stage: string): asserts stage is Stage {
  if (!STAGES.has(stage)) {
    throw new BusError(
      `invalid stage ${JSON.stringify(stage)}: use one of ${[...STAGES].join(", ")}`,
      BusErrorCode.InvalidName,
    );
  }
}

/** Wildcard subjects covering each kind, for stream definitions and subscriptions. */
export interface SubjectWildcards {
  ingest: string;
  processed: string;
  curated: string;
  dlq: string;
  alerts: string;
  cdc: string;
  collect: string;
}

/** The subjects of the contract (docs/contracts.md), optionally under a prefix. */
export interface Subjects {
  /** The prefix every subject starts with (`""` for none). */
  readonly prefix: string;
  /** `ingest.<ds>`: accepted frames, written by the collector. */
  ingest(dataset: string): string;
  /** `processed.<ds>`: validated and transformed frames, written by the processor. */
  processed(dataset: string): string;
  /** `curated.<ds>`: enriched frames, written by the enricher, read by the lake-writer. */
  curated(dataset: string): string;
  /** `dlq.<stage>.<ds>`: dead letters. */
  dlq(stage: Stage, dataset: string): string;
  /** `alerts.<rule>`: alerts raised by the processor's rules. */
  alert(rule: string): string;
  /** `cdc.<db>.<table>`: change frames from the CDC source. */
  cdc(database: string, table: string): string;
  /** `inlet.collect.<ds>`: core NATS request/reply ingress of the collector (queue group `collector`). */
  collect(dataset: string): string;
  /** Wildcards over each kind: `ingest.*`, `dlq.*.*`, … */
  readonly all: SubjectWildcards;
}

/**
 * Subjects under `prefix` (`"t1"` gives `t1.ingest.clicks`), so tests can share one server;
 * without a prefix, the production subjects. Every function validates its tokens.
 */
export function createSubjects(prefix = ""): Subjects {
  if (prefix !== "") assertToken("subject prefix", prefix);
  const p = prefix === "" ? "" : `${prefix}.`;
  return {
    prefix,
    ingest(ds) {
      assertDatasetName(ds);
      return `${p}ingest.${ds}`;
    },
    processed(ds) {
      assertDatasetName(ds);
      return `${p}processed.${ds}`;
    },
    curated(ds) {
      assertDatasetName(ds);
      return `${p}curated.${ds}`;
    },
    dlq(stage, ds) {
      assertStage(stage);
      assertDatasetName(ds);
      return `${p}dlq.${stage}.${ds}`;
    },
    alert(rule) {
      assertToken("alert rule", rule);
      return `${p}alerts.${rule}`;
    },
    cdc(db, table) {
      assertToken("database", db);
      assertToken("table", table);
      return `${p}cdc.${db}.${table}`;
    },
    collect(ds) {
      assertDatasetName(ds);
      return `${p}inlet.collect.${ds}`;
    },
    all: {
      ingest: `${p}ingest.*`,
      processed: `${p}processed.*`,
      curated: `${p}curated.*`,
      dlq: `${p}dlq.*.*`,
      alerts: `${p}alerts.*`,
      cdc: `${p}cdc.*.*`,
      collect: `${p}inlet.collect.*`,
    },
  };
}

/** The production subjects (no prefix). */
export const Subjects: Subjects = createSubjects();

/** The dataset a subject is about: its last token (`ingest.clicks` → `clicks`), or undefined when not a dataset name. */
export function datasetOfSubject(subject: string): string | undefined {
  const last = subject.slice(subject.lastIndexOf(".") + 1);
  return DATASET.test(last) ? last : undefined;
}
