import {
  DurableName,
  encodeFrame,
  ensureConsumer,
  frameHeaders,
  Header,
  publishFrame,
  publishWithRetry,
  StreamName,
} from "@inlet/bus";
import { curatedTableDir, readCommit, readDeltaSnapshot } from "@inlet/lake";
import { type AvroSchema, CDC_ATTRIBUTE, createAvroType } from "@inlet/schema";
import { uniqueName, waitFor } from "@inlet/testing";
import { describe, expect } from "vitest";
import { type Harness, TRACE_ID, TRACEPARENT, harnessTest as test } from "./harness.js";

// A CDC dataset's schema as the CDC source registers it: the table's columns, the key required,
// then _op, _lsn and _committed_at, and the attribute naming the key.
function accountsSchema(extra: object[] = []): AvroSchema {
  return {
    type: "record",
    name: "accounts",
    fields: [
      { name: "id", type: "long" },
      { name: "owner", type: ["null", "string"], default: null },
      { name: "balance", type: ["null", "string"], default: null },
      ...extra,
      { name: "_op", type: "string" },
      { name: "_lsn", type: "long" },
      { name: "_committed_at", type: { type: "long", logicalType: "timestamp-millis" } },
    ],
    [CDC_ATTRIBUTE]: { source: "shop.public.accounts", key: ["id"] },
  } as unknown as AvroSchema;
}

interface Change {
  op: "r" | "c" | "u" | "d";
  id: number;
  owner?: string | null;
  balance?: string | null;
  email?: string | null;
}

let lsn = 1_000;

/** Publishes one frame of changes to `cdc.shop.accounts` in schema version `version`. */
async function publishChanges(harness: Harness, changes: readonly Change[], version = 1): Promise<number> {
  const schemaId = `accounts@${version}`;
  const { type } = await harness.registry.get(schemaId);
  const at = Date.UTC(2026, 10, 25, 12);
  const events = changes.map((c) => {
    lsn++;
    return {
      id: `accounts:${lsn}`,
      ingestedAt: at + 5,
      payload: type.toBuffer({
        owner: null,
        balance: null,
        ...(version > 1 ? { email: null } : {}),
        ...c,
        _op: c.op,
        _lsn: lsn,
        _committed_at: at,
        op: undefined,
      }),
    };
  });
  const ack = await publishFrame(harness.bus.js, harness.subjects.cdc("shop", "accounts"), {
    events,
    schemaId,
    msgId: uniqueName("cdc"),
    traceparent: TRACEPARENT,
  });
  return ack.seq;
}

async function accounts(harness: Harness) {
  const rows = await harness.rows("accounts", "id");
  return rows.map((r) => [Number(r.id), r.owner, r.balance]);
}

describe("the lake-writer's CDC tables", () => {
  test("hold the current state of the source table: upserts replace, deletes remove", async ({ harness }) => {
    await harness.registry.register("accounts", accountsSchema());
    await harness.startWriter();
    await publishChanges(harness, [
      { op: "r", id: 1, owner: "ada", balance: "10" },
      { op: "r", id: 2, owner: "bob", balance: "20" },
      { op: "r", id: 3, owner: "cid", balance: "30" },
    ]);
    await waitFor(async () => (await accounts(harness)).length === 3, { timeoutMs: 10_000 });

    // In one frame and across frames: the last change of a key wins.
    await publishChanges(harness, [
      { op: "u", id: 1, owner: "ada", balance: "11" },
      { op: "u", id: 1, owner: "ada", balance: "12" },
      { op: "d", id: 2 },
    ]);
    await publishChanges(harness, [
      { op: "c", id: 4, owner: "dee", balance: "40" },
      { op: "d", id: 3 },
      { op: "c", id: 3, owner: "cyd", balance: "33" },
    ]);
    await waitFor(async () => JSON.stringify(await accounts(harness)).includes("cyd"), { timeoutMs: 10_000 });
    expect(await accounts(harness)).toEqual([
      [1, "ada", "12"],
      [3, "cyd", "33"],
      [4, "dee", "40"],
    ]);
    const rows = await harness.rows("accounts", "id");
    expect(rows[0]).toMatchObject({ _op: "u", _trace_id: TRACE_ID, _schema_version: 1 });
    // Nothing is left unacked once applied.
    await waitFor(
      async () => (await harness.pending("lake-writer-cdc", harness.stream(StreamName.Cdc))) === 0,
    );
    // A change applied twice (a source that sent it again) leaves the same row.
    await publishChanges(harness, [{ op: "u", id: 1, owner: "ada", balance: "12" }]);
    await waitFor(
      async () => (await harness.pending("lake-writer-cdc", harness.stream(StreamName.Cdc))) === 0,
    );
    await waitFor(async () => {
      const snapshot = await readDeltaSnapshot(curatedTableDir(harness.lakeDir, "accounts"));
      return snapshot?.txns.get("lake-writer-cdc") !== undefined;
    });
    expect(await accounts(harness)).toEqual([
      [1, "ada", "12"],
      [3, "cyd", "33"],
      [4, "dee", "40"],
    ]);
  });

  test("a frame a dead writer held is applied in order when it comes back, not skipped", async ({
    harness,
  }) => {
    await harness.registry.register("accounts", accountsSchema());
    const stream = harness.stream(StreamName.Cdc);
    await ensureConsumer(harness.bus.jsm, stream, {
      durable: DurableName.LakeWriterCdc,
      filterSubjects: [harness.subjects.all.cdc],
      ackWaitMs: 2_000,
    });
    await publishChanges(harness, [
      { op: "c", id: 1, owner: "ada", balance: "1" },
      { op: "c", id: 3, owner: "cid", balance: "4" },
    ]);
    // Delivered to a writer that then died: pending on the consumer, acked by nobody.
    const dead = await harness.bus.js.consumers.get(stream, DurableName.LakeWriterCdc);
    const taken = await dead.next({ expires: 2_000 });
    expect(taken?.seq).toBeGreaterThan(0);
    await harness.startWriter({ INLET_WRITER_ACK_WAIT_MS: "2s" });
    // Newer changes, delivered before the old frame comes back: the same key, and another.
    await publishChanges(harness, [
      { op: "u", id: 1, owner: "ada", balance: "2" },
      { op: "c", id: 2, owner: "bob", balance: "3" },
    ]);
    await waitFor(async () => (await harness.pending("lake-writer-cdc", stream)) === 0, {
      timeoutMs: 15_000,
    });
    await waitFor(async () => (await accounts(harness)).length >= 2, { timeoutMs: 10_000 });
    // Applied in stream order: the old frame's row 3 is there, and row 1 is the newer change's.
    expect(await accounts(harness)).toEqual([
      [1, "ada", "2"],
      [2, "bob", "3"],
      [3, "cid", "4"],
    ]);
  });

  test("a truncate empties the table after the changes before it", async ({ harness }) => {
    await harness.registry.register("accounts", accountsSchema());
    await harness.startWriter();
    await publishChanges(harness, [
      { op: "c", id: 1, owner: "ada" },
      { op: "c", id: 2, owner: "bob" },
    ]);
    const headers = frameHeaders({ msgId: uniqueName("trunc"), schemaId: "accounts@1", count: 0 });
    headers.set(Header.CdcOp, "truncate");
    await publishWithRetry(
      harness.bus.js,
      harness.subjects.cdc("shop", "accounts"),
      encodeFrame([]),
      headers,
    );
    await publishChanges(harness, [{ op: "c", id: 3, owner: "cid" }]);
    await waitFor(async () => (await accounts(harness)).some((r) => r[0] === 3), { timeoutMs: 10_000 });
    expect(await accounts(harness)).toEqual([[3, "cid", null]]);
    const snapshot = await readDeltaSnapshot(curatedTableDir(harness.lakeDir, "accounts"));
    const operations: string[] = [];
    for (let v = 0; v <= snapshot!.version; v++) {
      const info = (await readCommit(snapshot!.tableDir, v)).find((a) => "commitInfo" in a);
      operations.push(String((info as { commitInfo: { operation: string } }).commitInfo.operation));
    }
    expect(operations).toContain("DELETE");
  });

  test("a new schema version (a column added at the source) adds the column", async ({ harness }) => {
    await harness.registry.register("accounts", accountsSchema());
    await harness.startWriter();
    await publishChanges(harness, [{ op: "c", id: 1, owner: "ada" }]);
    await waitFor(async () => (await accounts(harness)).length === 1, { timeoutMs: 10_000 });
    await harness.registry.register(
      "accounts",
      accountsSchema([{ name: "email", type: ["null", "string"], default: null }]),
    );
    await publishChanges(harness, [{ op: "u", id: 1, owner: "ada", email: "ada@example.com" }], 2);
    await publishChanges(harness, [{ op: "c", id: 2, owner: "bob" }], 2);
    await waitFor(async () => (await accounts(harness)).length === 2, { timeoutMs: 10_000 });
    const rows = await harness.rows("accounts", "id");
    expect(rows.map((r) => [Number(r.id), r.email, r._schema_version])).toEqual([
      [1, "ada@example.com", 2],
      [2, null, 2],
    ]);
  });

  test("a frame of a schema without a key goes to the dead-letter stream", async ({ harness }) => {
    const plain: AvroSchema = { type: "record", name: "plain", fields: [{ name: "id", type: "long" }] };
    await harness.registry.register("plain", plain);
    await harness.startWriter();
    await publishFrame(harness.bus.js, harness.subjects.cdc("shop", "plain"), {
      events: [{ id: "p1", ingestedAt: Date.now(), payload: createAvroType(plain).toBuffer({ id: 1 }) }],
      schemaId: "plain@1",
      msgId: uniqueName("plain"),
    });
    const letter = await harness.firstDeadLetter();
    expect(letter?.subject).toBe(harness.subjects.dlq("lake-writer", "plain"));
    expect(letter?.headers?.get(Header.Error)).toContain("not a CDC dataset");
  });
});
