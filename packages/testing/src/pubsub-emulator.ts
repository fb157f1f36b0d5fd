import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { PubSub } from "@google-cloud/pubsub";
import { freePort } from "./free-port.js";
import { type ManagedProcess, startProcess } from "./managed-process.js";

/** Options of {@link startPubSubEmulator}. */
export interface PubSubEmulatorOptions {
  /** The project the emulator answers for (default `inlet-test`). */
  projectId?: string;
  /** How long to wait for it to answer, in ms (default 60 s: it is a JVM). */
  startTimeoutMs?: number;
  /** The port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Also append everything it prints to this file. */
  logFile?: string;
}

/** Google's Pub/Sub emulator on a free port of 127.0.0.1, with its own data directory. */
export interface PubSubEmulator {
  /** `127.0.0.1:<port>`, what `PUBSUB_EMULATOR_HOST` and the client's `apiEndpoint` take. */
  readonly host: string;
  readonly projectId: string;
  /** The environment a process needs to use it (`PUBSUB_EMULATOR_HOST`, `PUBSUB_PROJECT_ID`, …). */
  readonly env: Record<string, string>;
  /** The last lines it logged. */
  logs(): string;
  /** A client of the emulator (made on the first call, closed by {@link PubSubEmulator.stop}). */
  client(): Promise<PubSub>;
  /** Stops it (and the JVM gcloud started) and removes its data directory. */
  stop(): Promise<void>;
}

const HINT =
  "the Pub/Sub emulator comes with the Google Cloud CLI (`gcloud components install pubsub-emulator`, " +
  "or Debian's google-cloud-cli-pubsub-emulator); set INLET_GCLOUD to the gcloud binary if it is not on PATH";

/** The gcloud binary: `INLET_GCLOUD`, else `gcloud` on PATH. */
export function resolveGcloudBinary(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = env.INLET_GCLOUD
    ? [env.INLET_GCLOUD]
    : (env.PATH ?? "")
        .split(delimiter)
        .filter((d) => d !== "")
        .map((d) => join(d, "gcloud"));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(`gcloud not found: ${HINT}`);
}

/**
 * Starts the real Pub/Sub emulator (`gcloud beta emulators pubsub start`) on a free port (or
 * `options.port`) and waits until it answers. Each call gets its own emulator and data directory;
 * the emulator keeps messages in memory only.
 */
export async function startPubSubEmulator(options: PubSubEmulatorOptions = {}): Promise<PubSubEmulator> {
  const projectId = options.projectId ?? "inlet-test";
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const dataDir = await mkdtemp(join(tmpdir(), "inlet-pubsub-"));
  let process_: ManagedProcess | undefined;
  let client: Promise<PubSub> | undefined;
  const stop = async () => {
    await client?.then((c) => c.close()).catch(() => {});
    if (process_ !== undefined) {
      await process_.stop();
      process_.signal("SIGKILL"); // the JVM, should it outlive gcloud
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    process_ = await startProcess("pubsub-emulator", {
      command: resolveGcloudBinary(),
      args: [
        "beta",
        "emulators",
        "pubsub",
        "start",
        `--host-port=${host}`,
        `--project=${projectId}`,
        `--data-dir=${dataDir}`,
        "--quiet",
      ],
      env: { CLOUDSDK_CORE_DISABLE_PROMPTS: "1", CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "1" },
      readyUrl: `http://${host}/`,
      readyTimeoutMs: options.startTimeoutMs ?? 60_000,
      ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
    });
    await process_.waitReady();
  } catch (error) {
    await stop();
    throw error;
  }
  const running = process_;
  return {
    host,
    projectId,
    env: {
      PUBSUB_EMULATOR_HOST: host,
      PUBSUB_PROJECT_ID: projectId,
      GOOGLE_CLOUD_PROJECT: projectId,
      METADATA_SERVER_DETECTION: "none",
    },
    logs: () => running.logs(),
    client() {
      // Loaded when asked for: a test of the emulator's own users need not load the client.
      client ??= import("@google-cloud/pubsub").then(
        ({ PubSub }) => new PubSub({ projectId, apiEndpoint: host, emulatorMode: true }),
      );
      return client;
    },
    stop,
  };
}
