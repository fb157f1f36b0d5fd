import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { pubsubMessagesDone } from "./demo-pubsub.js";

const METRICS = `# HELP inlet_collector_requests_total Ingest requests answered, by transport and status
# TYPE inlet_collector_requests_total counter
inlet_collector_requests_total{transport="http",status="200"} 288
inlet_collector_requests_total{transport="pubsub",status="200"} 36
inlet_collector_requests_total{transport="pubsub",status="400"} 2
inlet_collector_requests_total{transport="pubsub",status="503"} 7
inlet_collector_events_accepted_total{dataset="clicks"} 9000
`;

describe("pubsubMessagesDone", () => {
  const servers: ReturnType<typeof createServer>[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  it("counts the collector's Pub/Sub answers that end a message (all but 503), from its metrics", async () => {
    const server = createServer((_req, res) => res.end(METRICS));
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    expect(await pubsubMessagesDone(`http://127.0.0.1:${port}`)).toBe(38);
  });
});
