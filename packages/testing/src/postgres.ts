import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants, createWriteStream, existsSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { type ExitStatus, trackChild } from "./children.js";
import { freePort } from "./free-port.js";
import { LogTail } from "./log-tail.js";

/** Options of {@link startPostgres}. */
export interface PostgresOptions {
  /** How long to wait for it to accept connections, in ms (default 30 s). */
  startTimeoutMs?: number;
  /** Extra `-c name=value` settings, e.g. `{ max_wal_senders: "4" }`. */
  settings?: Record<string, string>;
  /**
   * A cluster directory kept across runs (`./inlet up`): created by `initdb` the first time, used as
   * it is after, never removed; durability stays on. Default: a temporary one, removed by `stop()`.
   */
  dataDir?: string;
  /** The port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Also append everything the server prints to this file. */
  logFile?: string;
}

/** A throwaway PostgreSQL cluster on 127.0.0.1, logical replication on (`wal_level=logical`). */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** The superuser, `inlet` (trust authentication on loopback). */
  readonly user: string;
  /** The database made for the tests, `inlet`. */
  readonly database: string;
  /** `postgres://inlet@127.0.0.1:<port>/inlet`. */
  readonly url: string;
  /** The last lines the server logged. */
  logs(): string;
  /** Stops the server (fast shutdown) and removes its data directory unless it was given one. */
  stop(): Promise<void>;
}

const HINT =
  "PostgreSQL's server binaries (initdb, postgres) come with Debian's postgresql package; " +
  "set INLET_PG_BIN to the directory holding them if they are not on PATH";

/** The directory holding `initdb` and `postgres`: `INLET_PG_BIN`, PATH, or Debian's /usr/lib/postgresql/<n>/bin. */
export function resolvePostgresBin(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    ...(env.INLET_PG_BIN ? [env.INLET_PG_BIN] : []),
    ...(env.PATH ?? "").split(delimiter).filter((d) => d !== ""),
    ...["17", "16", "15", "14"].map((v) => `/usr/lib/postgresql/${v}/bin`),
  ];
  for (const dir of candidates) {
    try {
      accessSync(join(dir, "initdb"), constants.X_OK);
      accessSync(join(dir, "postgres"), constants.X_OK);
      return dir;
    } catch {
      // next
    }
  }
  throw new Error(`initdb and postgres not found: ${HINT}`);
}

/**
 * Creates a cluster in a temporary directory, or `options.dataDir` (`initdb`, trust
 * authentication, UTF-8), starts `postgres` on a free port of 127.0.0.1 (or `options.port`) with
 * `wal_level=logical`, and creates the database `inlet`. PostgreSQL refuses to run as root: when this process is root, the server runs as the
 * `postgres` system user (`INLET_PG_UID`/`INLET_PG_GID` override it). A throwaway cluster runs
 * with durability off (`fsync=off`): the tests kill clients, not this server.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = resolvePostgresBin();
  const port = options.port ?? (await freePort());
  const kept = options.dataDir !== undefined;
  // The cluster's directory (its parent holds the socket) and, when throwaway, what stop() removes.
  const dir = kept ? resolve(options.dataDir!) : await mkdtemp(join(tmpdir(), "inlet-pg-"));
  const dataDir = join(dir, "data");
  await mkdir(dir, { recursive: true });
  const ids = await runAsIds();
  if (ids !== undefined) {
    await chown(dir, ids.uid, ids.gid);
    await chmod(dir, 0o700);
  }
  const log = new LogTail();
  const logFile =
    options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: "a" });
  let child: ChildProcess | undefined;
  let exited: Promise<ExitStatus> | undefined;
  const stop = async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT"); // fast shutdown: a checkpoint, then exit
      const timer = setTimeout(() => child?.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    logFile?.end();
    if (!kept) await rm(dir, { recursive: true, force: true });
  };
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) {
      await promisify(execFile)(
        join(bin, "initdb"),
        [
          "-D",
          dataDir,
          "-U",
          "inlet",
          "--auth=trust",
          "-E",
          "UTF8",
          "--locale=C",
          ...(kept ? [] : ["--no-sync"]),
        ],
        { ...(ids ?? {}), env: { ...process.env, LC_ALL: "C" } },
      );
    }
    const settings: Record<string, string> = {
      listen_addresses: "127.0.0.1",
      port: String(port),
      unix_socket_directories: dir,
      wal_level: "logical",
      max_replication_slots: "16",
      max_wal_senders: "16",
      // A throwaway cluster trades durability for speed: the tests kill clients, not this server.
      ...(kept ? {} : { fsync: "off", synchronous_commit: "off", full_page_writes: "off" }),
      ...options.settings,
    };
    const args = ["-D", dataDir, ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
    child = spawn(join(bin, "postgres"), args, {
      ...(ids ?? {}),
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    const write = (chunk: Buffer) => {
      log.write(chunk);
      logFile?.write(chunk);
    };
    child.stdout?.on("data", write);
    child.stderr?.on("data", write);
    exited = trackChild(child, false);
    await waitAccepting(child, port, options.startTimeoutMs ?? 30_000, () => log.text());
    await psql(port, "postgres", "CREATE DATABASE inlet").catch((error: unknown) => {
      // A kept cluster has it from its first run.
      if (!(kept && /already exists/.test(String(error)))) throw error;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host: "127.0.0.1",
    port,
    user: "inlet",
    database: "inlet",
    url: `postgres://inlet@127.0.0.1:${port}/inlet`,
    logs: () => log.text(),
    stop,
  };
}

async function runAsIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(process.env.INLET_PG_UID ?? Number.NaN);
  const gid = Number(process.env.INLET_PG_GID ?? Number.NaN);
  if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  const { stdout } = await promisify(execFile)("id", ["-u", "postgres"]).catch(() => {
    throw new Error(
      "running as root, and there is no postgres user to run PostgreSQL as: set INLET_PG_UID and INLET_PG_GID",
    );
  });
  const { stdout: group } = await promisify(execFile)("id", ["-g", "postgres"]);
  return { uid: Number(stdout.trim()), gid: Number(group.trim()) };
}

// Polls with a startup packet until the server answers "ready" to a query.
async function waitAccepting(
  child: ChildProcess,
  port: number,
  timeoutMs: number,
  logs: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited during start (code ${child.exitCode}):\n${logs()}`);
    }
    try {
      await psql(port, "postgres", "SELECT 1");
      return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`postgres did not come up (${last}):\n${logs()}`);
    await sleep(50);
  }
}

async function psql(port: number, database: string, sql: string): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ host: "127.0.0.1", port, user: "inlet", database });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}
