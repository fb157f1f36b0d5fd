import { uniqueName } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { connectBus } from "../src/connect.js";
import { ensureConsumer, StreamName, streamName } from "../src/streams.js";
import { deleteConsumerIfExists, ensureTopology, pipelineConsumers } from "../src/topology.js";

describe("ensureTopology", () => {
  test("creates every stream and pipeline consumer, and leaves an owner's settings alone", async ({
    nats,
  }) => {
    const bus = await connectBus({ servers: nats.url, name: "topology-test" });
    const prefix = uniqueName("t");
    const datasets = ["clicks", "transactions"];
    await ensureTopology(bus.jsm, { datasets, prefix, maxBytes: { INGEST: 1 << 20 } });

    const names = new Map<string, string[]>();
    for (const { stream } of pipelineConsumers(datasets, prefix)) {
      const list: string[] = [];
      for await (const info of bus.jsm.consumers.list(stream)) list.push(info.name);
      names.set(stream, list.sort());
    }
    expect(names.get(streamName(StreamName.Ingest, prefix))).toEqual(["processor", "raw-writer"]);
    expect(names.get(streamName(StreamName.Processed, prefix))).toEqual(["enricher"]);
    expect(names.get(streamName(StreamName.Curated, prefix))).toEqual([
      "lake-writer-clicks",
      "lake-writer-transactions",
    ]);

    // The lake-writer sets its own ack wait; a later ensureTopology (a collector restart) keeps it.
    const curated = streamName(StreamName.Curated, prefix);
    await ensureConsumer(bus.jsm, curated, {
      durable: "lake-writer-clicks",
      filterSubjects: [`${prefix}.curated.clicks`],
      ackWaitMs: 90_000,
    });
    await ensureTopology(bus.jsm, { datasets, prefix, maxBytes: { INGEST: 1 << 20 } });
    const info = await bus.jsm.consumers.info(curated, "lake-writer-clicks");
    expect(info.config.ack_wait).toBe(90_000_000_000);

    // With interest retention, a frame published now is kept until each consumer acks it.
    await bus.js.publish(`${prefix}.ingest.clicks`, "x");
    const ingest = await bus.jsm.streams.info(streamName(StreamName.Ingest, prefix));
    expect(ingest.state.messages).toBe(1);
    await bus.close();
  });

  test("creates no raw-writer when the raw zone is off", async ({ nats }) => {
    const bus = await connectBus({ servers: nats.url, name: "topology-test" });
    const prefix = uniqueName("t");
    await ensureTopology(bus.jsm, { datasets: ["clicks"], prefix, rawZone: false });
    const ingest = streamName(StreamName.Ingest, prefix);
    const names: string[] = [];
    for await (const info of bus.jsm.consumers.list(ingest)) names.push(info.name);
    expect(names).toEqual(["processor"]);
    expect(pipelineConsumers(["clicks"], prefix, { rawZone: false }).map((c) => c.spec.durable)).toEqual([
      "processor",
      "enricher",
      "lake-writer-clicks",
    ]);
    await bus.close();
  });

  test("deletes a consumer when it exists, and says so", async ({ nats }) => {
    const bus = await connectBus({ servers: nats.url, name: "topology-test" });
    const prefix = uniqueName("t");
    await ensureTopology(bus.jsm, { datasets: ["clicks"], prefix });
    const ingest = streamName(StreamName.Ingest, prefix);
    expect(await deleteConsumerIfExists(bus.jsm, ingest, "raw-writer")).toBe("deleted");
    expect(await deleteConsumerIfExists(bus.jsm, ingest, "raw-writer")).toBe("absent");
    const names: string[] = [];
    for await (const info of bus.jsm.consumers.list(ingest)) names.push(info.name);
    expect(names).toEqual(["processor"]);
    await bus.close();
  });
});
