import { type AvroSchema, type RegisteredSchema, SchemaErrorCode, SchemaRegistry } from "@inlet/schema";
import { uniqueName } from "@inlet/testing";
import { natsTest as test } from "@inlet/testing/vitest";
import { describe, expect } from "vitest";
import { PoisonError, TransientError } from "../src/errors.js";
import { PerSchema } from "../src/per-schema.js";
import { openTestBus } from "./helpers.js";

const URL_FIELD = { name: "url", type: "string" };
const MS_FIELD = { name: "ms", type: "long" };
const record = (name: string, fields: object[]): AvroSchema =>
  ({ type: "record", name, fields }) as AvroSchema;

/** What the test configuration "compiles" to: the schema's fields, or a misfit when one is missing. */
class Misfit extends Error {
  readonly code = "RULE_FIELD_UNKNOWN";
}

describe("PerSchema", () => {
  test("compiles once per schema id; an unknown id is transient and asked again; a misfit is poison", async ({
    nats,
  }) => {
    const t = await openTestBus(nats);
    try {
      const registry = await SchemaRegistry.create(t.bus.nc, { bucket: uniqueName("schemas") });
      const compiled: string[] = [];
      const misfits: string[] = [];
      const perSchema = new PerSchema<{ schema: RegisteredSchema; fields: string[] }>({
        registry,
        compile: (schema, dataset) => {
          compiled.push(`${dataset}:${schema.id}`);
          const fields = (schema.type as unknown as { fields: { name: string }[] }).fields.map((f) => f.name);
          if (!fields.includes("url")) throw new Misfit(`dataset "${dataset}": no field "url"`);
          if (fields.includes("boom")) throw new RangeError("a bug in the compiler");
          return { schema, fields };
        },
        misfit: (error) => error instanceof Misfit,
        onMisfit: (error, schemaId) => misfits.push(`${schemaId}: ${error.message}`),
      });

      // An id the registry does not know yet: transient, and not remembered.
      const unknown = await perSchema.get("clicks@1", "clicks").catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(TransientError);
      expect(unknown).toMatchObject({
        code: SchemaErrorCode.NotFound,
        message: "schema clicks@1 is not registered",
      });

      const { id } = await registry.register("clicks", record("Click", [URL_FIELD, MS_FIELD]));
      expect(id).toBe("clicks@1");
      const first = await perSchema.get(id, "clicks");
      expect(first.fields).toEqual(["url", "ms"]);
      expect(first.schema.id).toBe("clicks@1");
      expect(await perSchema.get(id, "clicks")).toBe(first);
      expect(compiled).toEqual(["clicks:clicks@1"]);

      // A version the configuration does not fit: poison, with the misfit's code, told once.
      const v2 = await registry.register("views", record("View", [MS_FIELD]));
      const poisoned = await perSchema.get(v2.id, "views").catch((e: unknown) => e);
      expect(poisoned).toBeInstanceOf(PoisonError);
      expect(poisoned).toMatchObject({
        code: "RULE_FIELD_UNKNOWN",
        message: 'views@1: dataset "views": no field "url"',
      });
      await expect(perSchema.get(v2.id, "views")).rejects.toBe(poisoned);
      expect(misfits).toEqual(['views@1: dataset "views": no field "url"']);

      // Anything else the compiler throws is a bug, passed on as it is.
      const v3 = await registry.register(
        "other",
        record("Other", [URL_FIELD, MS_FIELD, { name: "boom", type: "int" }]),
      );
      await expect(perSchema.get(v3.id, "other")).rejects.toThrow(RangeError);
      expect(compiled).toEqual(["clicks:clicks@1", "views:views@1", "other:other@1"]);
    } finally {
      await t.close();
    }
  });
});
