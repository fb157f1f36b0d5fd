import { execFile } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { promisify } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { resolveNatsServerBinary } from "@inlet/testing";

const run = promisify(execFile);

/** The machine a run was measured on. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  natsServer: string;
  duckdb: string;
  platform: string;
}

/** Cores, memory, CPU model, and the versions of Node, nats-server and DuckDB. */
export async function describeMachine(): Promise<MachineInfo> {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    natsServer: await natsServerVersion(),
    duckdb: await duckdbVersion(),
    platform: `${process.platform}-${process.arch}`,
  };
}

async function natsServerVersion(): Promise<string> {
  try {
    const { stdout } = await run(resolveNatsServerBinary(), ["--version"]);
    return stdout.trim().replace(/^nats-server:\s*/, "");
  } catch (err) {
    return `unknown (${err instanceof Error ? err.message : String(err)})`;
  }
}

async function duckdbVersion(): Promise<string> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const reader = await conn.runAndReadAll("SELECT version()");
    return String(reader.getRows()[0]?.[0] ?? "unknown");
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
