import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import {
  type ConsumerSpec,
  DurableName,
  ensureConsumer,
  ensureStreams,
  StreamName,
  type StreamSpecOptions,
  streamName,
  streamSpecs,
} from "./streams.js";
import { createSubjects } from "./subjects.js";

/** A durable consumer of the pipeline and the stream it reads. */
export interface PipelineConsumer {
  stream: string;
  spec: ConsumerSpec;
}

/** Options of {@link pipelineConsumers} and {@link ensureTopology}. */
export interface TopologyOptions {
  /** Whether the lake-writer's raw zone runs (`INLET_RAW_ENABLED`), so INGEST needs `raw-writer`; default true. */
  rawZone?: boolean;
}

/**
 * Every durable consumer the pipeline needs for these datasets: processor and (unless
 * `rawZone: false`) raw-writer on INGEST, enricher on PROCESSED, one lake-writer per dataset on
 * CURATED.
 */
export function pipelineConsumers(
  datasets: readonly string[],
  prefix = "",
  options: TopologyOptions = {},
): PipelineConsumer[] {
  const subjects = createSubjects(prefix);
  const ingest = streamName(StreamName.Ingest, prefix);
  return [
    { stream: ingest, spec: { durable: DurableName.Processor } },
    ...(options.rawZone === false ? [] : [{ stream: ingest, spec: { durable: DurableName.RawWriter } }]),
    {
      stream: streamName(StreamName.Processed, prefix),
      spec: { durable: DurableName.Enricher },
    },
    ...datasets.map((dataset) => ({
      stream: streamName(StreamName.Curated, prefix),
      spec: { durable: DurableName.lakeWriter(dataset), filterSubjects: [subjects.curated(dataset)] },
    })),
  ];
}

/**
 * Creates the streams and every pipeline consumer that does not exist yet. INGEST, PROCESSED and
 * CURATED keep a message only for consumers that exist when it is published (interest retention),
 * so the door must not open before the consumers do: the collector calls this at start. Existing
 * consumers are left as they are; each owning service sets its own limits with `ensureConsumer`
 * (and the lake-writer deletes `raw-writer` when the raw zone is off: a consumer nobody reads
 * would hold every INGEST frame for ever).
 */
export async function ensureTopology(
  jsm: JetStreamManager,
  options: StreamSpecOptions & TopologyOptions & { datasets: readonly string[] },
): Promise<void> {
  await ensureStreams(jsm, streamSpecs(options));
  for (const { stream, spec } of pipelineConsumers(options.datasets, options.prefix, options)) {
    await ensureConsumerExists(jsm, stream, spec);
  }
}

/**
 * Creates a durable consumer with `spec` when it does not exist; an existing one is left alone
 * (its owner sets its limits). A stage calls this for its downstream reader before publishing to
 * an interest-retention stream, so nothing it publishes is discarded for lack of interest.
 */
export async function ensureConsumerExists(
  jsm: JetStreamManager,
  stream: string,
  spec: ConsumerSpec,
): Promise<"created" | "exists"> {
  if (await consumerExists(jsm, stream, spec.durable)) return "exists";
  try {
    await ensureConsumer(jsm, stream, spec);
    return "created";
  } catch (error) {
    // Its owner may have created it at the same moment, with its own settings.
    if (await consumerExists(jsm, stream, spec.durable)) return "exists";
    throw error;
  }
}

/**
 * Deletes a durable consumer when it exists: its owner's call, for a reader it no longer runs.
 * Resolves to "deleted", or "absent" when there was none.
 */
export async function deleteConsumerIfExists(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<"deleted" | "absent"> {
  try {
    await jsm.consumers.delete(stream, durable);
    return "deleted";
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)
      return "absent";
    throw error;
  }
}

async function consumerExists(jsm: JetStreamManager, stream: string, durable: string): Promise<boolean> {
  try {
    await jsm.consumers.info(stream, durable);
    return true;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return false;
    throw error;
  }
}
