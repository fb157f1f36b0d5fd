import { type ConsumerSpec, ensureConsumer } from "@inlet/bus";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";

/**
 * Creates the durable consumer `spec.durable` on `stream` when it does not exist; never changes an
 * existing one (its owner configures it when it starts). Interest retention drops messages that
 * arrive while a stream has no consumer, so a writer makes sure its reader exists before writing.
 */
export async function ensureReader(jsm: JetStreamManager, stream: string, spec: ConsumerSpec): Promise<void> {
  if (await consumerExists(jsm, stream, spec.durable)) return;
  try {
    await ensureConsumer(jsm, stream, spec);
  } catch (error) {
    // The reader may have created it at the same moment, with its own settings.
    if (!(await consumerExists(jsm, stream, spec.durable))) throw error;
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
