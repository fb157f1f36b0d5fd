import { fileURLToPath } from "node:url";
import { uniqueName } from "@inlet/testing";
import { natsTest } from "@inlet/testing/vitest";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { describe, expect } from "vitest";
import type { AvroSchema } from "../src/avro-type.js";
import { loadDatasets, registerDatasets } from "../src/datasets.js";
import { SchemaRegistry } from "../src/registry.js";
import { SchemaErrorCode } from "../src/schema-error.js";

const configDir = fileURLToPath(new URL("../../../config", import.meta.url));

async function clicksVersions(): Promise<[AvroSchema, AvroSchema]> {
  const clicks = (await loadDatasets(configDir)).find((d) => d.name === "clicks");
  if (clicks === undefined) throw new Error("config/datasets/clicks is missing");
  return [clicks.versions[0]!.schema, clicks.versions[1]!.schema];
}

function withField(schema: AvroSchema, field: object): AvroSchema {
  const record = schema as { fields: object[] };
  return { ...record, fields: [...record.fields, field] } as AvroSchema;
}

function retyped(schema: AvroSchema, name: string, type: unknown): AvroSchema {
  const record = schema as { fields: Array<{ name: string }> };
  return {
    ...record,
    fields: record.fields.map((f) => (f.name === name ? { ...f, type } : f)),
  } as AvroSchema;
}

async function withRegistry<T>(
  url: string,
  bucket: string,
  fn: (r: SchemaRegistry, nc: NatsConnection) => Promise<T>,
) {
  const nc = await connect({ servers: url });
  const registry = await SchemaRegistry.create(nc, { bucket });
  try {
    return await fn(registry, nc);
  } finally {
    await registry.close();
    await nc.close();
  }
}

describe("SchemaRegistry on a real nats-server", () => {
  natsTest("registers clicks v1 then the backward-compatible v2", async ({ nats }) => {
    const [v1, v2] = await clicksVersions();
    await withRegistry(nats.url, uniqueName("schemas"), async (registry) => {
      expect(await registry.register("clicks", v1)).toEqual({ id: "clicks@1", version: 1, created: true });
      expect(await registry.register("clicks", v2)).toEqual({ id: "clicks@2", version: 2, created: true });

      const latest = await registry.latest("clicks");
      expect(latest?.id).toBe("clicks@2");
      expect(latest?.schema).toEqual(v2);
      const first = await registry.get("clicks@1");
      expect(first).toMatchObject({ id: "clicks@1", dataset: "clicks", version: 1 });
      expect(
        first.type.isValid({
          ts: "2024-05-01T10:00:00Z",
          user_id: "u",
          session_id: "s",
          page: "/",
          country: "DE",
          device: "mobile",
          user_agent: "ua",
          duration_ms: 5,
        }),
      ).toBe(true);
      expect(await registry.get("clicks@1")).toBe(first);
      expect(await registry.datasets()).toEqual(["clicks"]);
    });
  });

  natsTest("refuses breaking changes with the reason and keeps the latest version", async ({ nats }) => {
    const [v1] = await clicksVersions();
    await withRegistry(nats.url, uniqueName("schemas"), async (registry) => {
      await registry.register("clicks", v1);

      const required = withField(v1, { name: "campaign", type: "string" });
      await expect(registry.register("clicks", required)).rejects.toMatchObject({
        name: "SchemaError",
        code: SchemaErrorCode.Incompatible,
        message: expect.stringContaining(
          'field "campaign" is in the new schema but not in the old one, and has no default',
        ),
      });

      const textual = retyped(v1, "duration_ms", "string");
      await expect(registry.register("clicks", textual)).rejects.toMatchObject({
        code: SchemaErrorCode.Incompatible,
        message: expect.stringContaining(
          'dataset "clicks": new schema refused against clicks@1: not BACKWARD compatible',
        ),
      });
      expect((await registry.latest("clicks"))?.version).toBe(1);
    });
  });

  natsTest("returns the existing version when an equal schema is registered again", async ({ nats }) => {
    const [v1, v2] = await clicksVersions();
    await withRegistry(nats.url, uniqueName("schemas"), async (registry) => {
      await registry.register("clicks", v1);
      await registry.register("clicks", v2);
      // Same schema, keys in another order: still version 1.
      const reordered = Object.fromEntries(Object.entries(v1 as object).reverse()) as AvroSchema;
      expect(await registry.register("clicks", reordered)).toEqual({
        id: "clicks@1",
        version: 1,
        created: false,
      });
      expect(await registry.register("clicks", v2)).toEqual({ id: "clicks@2", version: 2, created: false });
      expect((await registry.latest("clicks"))?.version).toBe(2);
    });
  });

  natsTest("gives each concurrent registration from two instances its own version", async ({ nats }) => {
    const [v1] = await clicksVersions();
    const bucket = uniqueName("schemas");
    await withRegistry(nats.url, bucket, async (a) => {
      await withRegistry(nats.url, bucket, async (b) => {
        await a.register("clicks", v1);
        const candidates = ["c1", "c2", "c3", "c4", "c5", "c6"].map((name) =>
          withField(v1, { name, type: ["null", "string"], default: null }),
        );
        // Each new field is optional, so every order of registration is compatible.
        const results = await Promise.all(
          candidates.map((s, i) => (i % 2 === 0 ? a : b).register("clicks", s)),
        );
        expect(results.every((r) => r.created)).toBe(true);
        expect(results.map((r) => r.version).sort()).toEqual([2, 3, 4, 5, 6, 7]);
        expect((await a.latest("clicks"))?.version).toBe(7);
        expect((await b.latest("clicks"))?.version).toBe(7);

        // The same schema from both at once: one version, created once.
        const same = withField(v1, { name: "c_same", type: ["null", "string"], default: null });
        const pair = await Promise.all([a.register("clicks", same), b.register("clicks", same)]);
        expect(pair[0].version).toBe(pair[1].version);
        expect(pair.filter((r) => r.created)).toHaveLength(1);
      });
    });
  });

  natsTest("registers the repository's datasets, then again without new versions", async ({ nats }) => {
    const definitions = await loadDatasets(configDir);
    await withRegistry(nats.url, uniqueName("schemas"), async (registry) => {
      const first = await registerDatasets(registry, definitions);
      expect(first.map((r) => [r.id, r.created])).toEqual([
        ["clicks@1", true],
        ["clicks@2", true],
        ["sensor_readings@1", true],
        ["transactions@1", true],
      ]);
      const again = await registerDatasets(registry, definitions);
      expect(again.every((r) => !r.created)).toBe(true);
      expect(await registry.datasets()).toEqual(["clicks", "sensor_readings", "transactions"]);
    });
  });

  natsTest("reports unknown schemas and datasets, and refuses use after close", async ({ nats }) => {
    await withRegistry(nats.url, uniqueName("schemas"), async (registry) => {
      expect(await registry.latest("nothing_here")).toBeUndefined();
      await expect(registry.get("nothing_here@1")).rejects.toMatchObject({ code: SchemaErrorCode.NotFound });
      await expect(registry.get("not an id")).rejects.toMatchObject({
        code: SchemaErrorCode.InvalidSchemaId,
      });
      await registry.close();
      await expect(registry.get("clicks@1")).rejects.toMatchObject({ code: SchemaErrorCode.Closed });
      await expect(registry.latest("clicks")).rejects.toMatchObject({ code: SchemaErrorCode.Closed });
    });
  });

  natsTest("finds a version whose latest pointer was never written", async ({ nats }) => {
    const [v1, v2] = await clicksVersions();
    const bucket = uniqueName("schemas");
    await withRegistry(nats.url, bucket, async (registry, nc) => {
      await registry.register("clicks", v1);
      // A registrar that died between writing the version and moving the pointer.
      const kv = await new Kvm(nc).open(bucket);
      await kv.create("clicks.2", JSON.stringify(v2));
      expect((await registry.latest("clicks"))?.id).toBe("clicks@2");
      const v3 = withField(v2, { name: "c3", type: ["null", "string"], default: null });
      expect(await registry.register("clicks", v3)).toEqual({ id: "clicks@3", version: 3, created: true });
      expect((await kv.get("clicks.latest"))?.string()).toBe("3");
    });
  });
});
