import { existsSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { resolveNatsServerBinary, startNatsServer } from "../src/nats-server.js";
import { natsTest } from "../src/vitest.js";

async function isListening(port: number): Promise<boolean> {
  const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 500 }).catch(
    () => undefined,
  );
  await nc?.close();
  return nc !== undefined;
}

// Resolves when `nc` has reconnected. nats.js v3 does not replay a request sent while disconnected
// (it times out), so a test must wait for this before using the connection after a restart.
async function reconnected(nc: NatsConnection): Promise<void> {
  for await (const status of nc.status()) if (status.type === "reconnect") return;
}

describe("startNatsServer", () => {
  it("starts a JetStream server on a random port of 127.0.0.1", async () => {
    const server = await startNatsServer();
    try {
      expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      const info = await jsm.getAccountInfo();
      expect(info.limits).toBeDefined();
      await nc.close();
      const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as { port: number };
      expect(varz.port).toBe(server.port);
    } finally {
      await server.stop();
    }
  });

  it("keeps a stream's messages across a restart on the same port", async () => {
    const server = await startNatsServer();
    try {
      const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] });
      const js = jsm.jetstream();
      for (let i = 0; i < 3; i++) await js.publish("keep.a", `m${i}`);
      const port = server.port;
      const pidBefore = server.pid;
      const back = reconnected(nc);

      await server.restart();
      await back;

      expect(server.port).toBe(port);
      expect(server.pid).not.toBe(pidBefore);
      const info = await jsm.streams.info("KEEP");
      expect(info.state.messages).toBe(3);
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it("comes back with its data after being killed with SIGKILL", async () => {
    const server = await startNatsServer();
    try {
      const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "CRASH", subjects: ["crash.>"] });
      await jsm.jetstream().publish("crash.a", "survives");
      const back = reconnected(nc);

      const status = await server.kill("SIGKILL");
      expect(status.signal).toBe("SIGKILL");
      expect(await isListening(server.port)).toBe(false);
      await server.restart();
      await back;

      const msg = await jsm.streams.getMessage("CRASH", { seq: 1 });
      expect(msg?.string()).toBe("survives");
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it("stops the process and removes its store directory", async () => {
    const server = await startNatsServer();
    const pid = server.pid!;
    expect(existsSync(server.storeDir)).toBe(true);

    await server.stop();

    expect(existsSync(server.storeDir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await isListening(server.port)).toBe(false);
  });

  it("starts without JetStream when asked", async () => {
    const server = await startNatsServer({ jetstream: false });
    try {
      const nc = await connect({ servers: server.url });
      const jsm = jetstreamManager(nc);
      await expect(jsm).rejects.toThrow(/jetstream/i);
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it("reports a server that cannot start, with its log", async () => {
    const error = await startNatsServer({ args: ["--no_such_flag"] }).catch((err: unknown) => err);
    expect(error).toMatchObject({ name: "NatsServerError", code: "START_FAILED" });
    expect((error as Error).message).toMatch(/no_such_flag/);
  });

  it("says how to install nats-server when INLET_NATS_SERVER points nowhere", () => {
    expect(() => resolveNatsServerBinary({ INLET_NATS_SERVER: "/nonexistent/nats-server" })).toThrow(
      /scripts\/bootstrap\.sh/,
    );
  });
});

describe("natsTest", () => {
  natsTest("gives the test a running server", async ({ nats }) => {
    const nc = await connect({ servers: nats.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
  });
});
