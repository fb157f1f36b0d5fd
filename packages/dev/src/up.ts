#!/usr/bin/env node
// `./inlet up`: nats-server, the five services and a demo producer on one machine, a live status
// line, and an ordered stop on Ctrl-C (producer first, then each service in flow order, each
// flushing what it holds, then nats-server). Nothing accepted is lost: what is still in a stream
// when Inlet stops is picked up by the next `./inlet up`.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DEMO_DATASETS } from "@inlet/demo";
import { findRepoRoot } from "@inlet/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  DEMO_CDC_TABLE,
  type DemoBankStats,
  type DemoPostgres,
  hasPostgres,
  runDemoBank,
  startDemoPostgres,
} from "./demo-cdc.js";
import {
  DEMO_ALERTS_TOPIC,
  type DemoPubSub,
  hasGcloud,
  pubsubMessagesDone,
  startDemoPubSub,
} from "./demo-pubsub.js";
import { type DemoProducerStats, runDemoProducer } from "./producer.js";
import { DEFAULT_PORTS, SERVICE_ORDER, ServiceName, type Stack, startStack } from "./stack.js";
import { formatStatusLine, readStatus, type StatusSnapshot } from "./status.js";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "1000" },
    "no-demo": { type: "boolean", default: false },
    "no-pubsub": { type: "boolean", default: false },
    "no-cdc": { type: "boolean", default: false },
    "flush-ms": { type: "string", default: "5000" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(`./inlet up [--rate EVENTS_PER_S] [--no-demo] [--no-pubsub] [--no-cdc] [--flush-ms MS]

Runs nats-server, the five services and a demo producer (clicks, transactions, sensor_readings),
which sends over HTTP, NATS and, through Google's Pub/Sub emulator (started when gcloud is
installed; --no-pubsub leaves it out), Pub/Sub. With PostgreSQL installed (--no-cdc leaves it out),
also a PostgreSQL cluster whose table accounts a demo bank changes, and the CDC source streaming
those changes into the lake's accounts table. Data stays under .inlet/ (JetStream, PostgreSQL) and
lake/ (the lake). Ctrl-C stops everything in order.
`);
  process.exit(0);
}

const rootDir = findRepoRoot() ?? process.cwd();
// The emulator's usual port.
const PUBSUB_PORT = 8085;
// Beside a PostgreSQL the machine may run on its usual 5432.
const POSTGRES_PORT = 5433;
const tty = process.stdout.isTTY === true;
const say = (line: string) => process.stdout.write(`${tty ? "\r\x1b[K" : ""}${line}\n`);

const logDir = join(rootDir, ".inlet", "logs");
let pubsub: DemoPubSub | undefined;
if (!values["no-pubsub"] && hasGcloud()) {
  say("starting the Pub/Sub emulator…");
  try {
    await mkdir(logDir, { recursive: true });
    pubsub = await startDemoPubSub({
      port: PUBSUB_PORT,
      datasets: DEMO_DATASETS,
      logFile: join(logDir, "pubsub-emulator.log"),
    });
  } catch (err) {
    say(
      `  no Pub/Sub: the emulator did not start (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`,
    );
  }
}

let postgres: DemoPostgres | undefined;
if (!values["no-cdc"] && hasPostgres()) {
  say("starting PostgreSQL (the demo bank's database)…");
  try {
    await mkdir(logDir, { recursive: true });
    postgres = await startDemoPostgres({
      dataDir: join(rootDir, ".inlet", "postgres"),
      port: POSTGRES_PORT,
      logFile: join(logDir, "postgres.log"),
    });
  } catch (err) {
    say(
      `  no CDC: PostgreSQL did not start (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`,
    );
  }
}

say(
  `starting nats-server and the services (collector, processor, enricher, lake-writer, query${postgres === undefined ? "" : ", cdc"})…`,
);
let stack: Stack;
try {
  stack = await startStack({
    rootDir,
    logDir,
    env: { INLET_WRITER_FLUSH_MS: String(values["flush-ms"] ?? "5000") },
    ...(pubsub === undefined
      ? {}
      : { serviceEnv: { collector: pubsub.collectorEnv, processor: pubsub.processorEnv } }),
    ...(postgres === undefined ? {} : { cdc: { databaseUrl: postgres.databaseUrl, tables: DEMO_CDC_TABLE } }),
  });
} catch (err) {
  say(`could not start: ${err instanceof Error ? err.message : String(err)}`);
  await pubsub?.stop();
  await postgres?.stop();
  process.exit(1);
}

const p = DEFAULT_PORTS;
say(`
  Inlet is running.
  send events   curl -s localhost:${p.collector}/v1/events/clicks -d @event.json      (or NATS: inlet.collect.<dataset> on ${stack.natsUrl})
  console       http://localhost:${p.query}/      (datasets, rows/s, freshness, SQL, dead letters)
  query         curl -s localhost:${p.query}/v1/query -d '{"sql":"SELECT count(*) FROM clicks"}'
                ./inlet sql --lake lake "SELECT * FROM transactions LIMIT 5"
  datasets      curl -s localhost:${p.query}/v1/datasets
  health        /healthz /readyz /metrics on ${stack.services.map((s) => `${s} ${stack.url(s).split(":").pop()}`).join(", ")}
  NATS monitor  http://127.0.0.1:${p.natsMonitor}
  Pub/Sub       ${pubsub === undefined ? "off (no gcloud, or --no-pubsub)" : `emulator ${pubsub.emulator.host}: the collector reads topics inlet-<dataset>, alerts go to topic ${DEMO_ALERTS_TOPIC}`}
  CDC           ${postgres === undefined ? "off (no PostgreSQL, or --no-cdc)" : `${postgres.databaseUrl}: a demo bank changes table accounts, the lake's accounts follows it (psql ${postgres.databaseUrl})`}
  lake          ${join(rootDir, "lake")}
  logs          ${join(rootDir, ".inlet", "logs")}/<service>.log
  Ctrl-C stops everything in order.
`);

const abort = new AbortController();
const producer: Promise<DemoProducerStats | undefined> | undefined = values["no-demo"]
  ? undefined
  : runDemoProducer({
      collectorUrl: stack.collectorUrl,
      natsUrl: stack.natsUrl,
      ...(pubsub === undefined ? {} : { pubsubTopics: pubsub.topics }),
      ratePerSecond: Number(values.rate ?? 1000),
      signal: abort.signal,
    }).catch((err: unknown) => {
      say(`demo producer stopped: ${String(err)}`);
      return undefined;
    });

const bank: Promise<DemoBankStats | undefined> | undefined =
  values["no-demo"] || postgres === undefined
    ? undefined
    : runDemoBank({ databaseUrl: postgres.databaseUrl, ratePerSecond: 20, signal: abort.signal }).catch(
        (err: unknown) => {
          say(`demo bank stopped: ${String(err)}`);
          return undefined;
        },
      );

const nc = await connect({ servers: stack.natsUrl, name: "inlet-up-status", maxReconnectAttempts: -1 });
const jsm = await jetstreamManager(nc);
let previous: StatusSnapshot | undefined;
let lastPrinted = 0;
const timer = setInterval(async () => {
  const current = await readStatus({ collectorUrl: stack.collectorUrl, queryUrl: stack.queryUrl, jsm });
  const line = formatStatusLine(previous, current);
  previous = current;
  if (tty) process.stdout.write(`\r\x1b[K${line}`);
  else if (current.at - lastPrinted >= 10_000) {
    lastPrinted = current.at;
    process.stdout.write(`${line}\n`);
  }
}, 1_000);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) {
    say("second signal: exiting now");
    process.exit(130);
  }
  stopping = true;
  clearInterval(timer);
  say(`${signal}: stopping the demo producer, then each service in flow order…`);
  abort.abort();
  const produced = await producer;
  await bank;
  // The emulator keeps messages in memory only: let the collector take every one published first.
  if (pubsub !== undefined && produced !== undefined && produced.pubsubMessages > 0) {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const done = await pubsubMessagesDone(stack.collectorUrl).catch(() => 0);
      if (done >= produced.pubsubMessages) break;
      await sleep(200);
    }
  }
  // The CDC source first (it publishes and confirms what it holds), then the pipeline in flow order.
  for (const name of postgres === undefined ? SERVICE_ORDER : [ServiceName.Cdc, ...SERVICE_ORDER]) {
    const status = await stack.process(name).stop();
    say(`  ${name} stopped (${status.signal ?? `exit ${status.code}`})`);
  }
  if (postgres !== undefined) {
    await postgres.stop();
    say("  PostgreSQL stopped.");
  }
  if (pubsub !== undefined) {
    await pubsub.stop();
    say("  Pub/Sub emulator stopped.");
  }
  await nc.close().catch(() => {});
  await stack.stopService("nats");
  say("  nats-server stopped. Bye.");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
