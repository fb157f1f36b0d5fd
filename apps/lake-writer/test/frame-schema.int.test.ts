import { SchemaErrorCode, SchemaRegistry } from "@inlet/schema";
import { createLogger } from "@inlet/telemetry";
import { describe, expect } from "vitest";
import { frameSchema } from "../src/frame-schema.js";
import { harnessTest as test } from "./harness.js";

const log = createLogger({ service: "lake-writer-test", level: "silent" });

describe("frameSchema", () => {
  test("gives the registered schema a frame names, refusing nothing", async ({ harness }) => {
    const refused: string[] = [];
    const schema = await frameSchema("orders@2", {
      registry: harness.registry,
      log,
      stopping: () => false,
      refuse: async (code) => void refused.push(code),
    });
    expect(schema?.id).toBe("orders@2");
    expect(refused).toEqual([]);
  });

  test("refuses an id the registry does not know, or that is not an id, with the registry's reason", async ({
    harness,
  }) => {
    const refused: [string, string][] = [];
    const options = {
      registry: harness.registry,
      log,
      stopping: () => false,
      refuse: async (code: string, reason: string) => void refused.push([code, reason]),
    };
    expect(await frameSchema("orders@9", options)).toBeUndefined();
    expect(await frameSchema("orders", options)).toBeUndefined();
    expect(refused).toEqual([
      [SchemaErrorCode.NotFound, "schema orders@9 is not registered"],
      [SchemaErrorCode.InvalidSchemaId, expect.stringContaining("orders")],
    ]);
  });

  test("waits while the registry fails, refusing nothing, and throws its error once the writer stops", async ({
    harness,
  }) => {
    const registry = await SchemaRegistry.create(harness.bus.nc, { bucket: harness.bucket });
    await registry.close(); // every lookup now fails, as a registry that does not answer would
    let asked = 0;
    const refused: string[] = [];
    const lookup = frameSchema("orders@2", {
      registry,
      log,
      // Not stopping at the first failure: the lookup waits (0.5 s) and tries again.
      stopping: () => ++asked > 1,
      refuse: async (code) => void refused.push(code),
    });
    await expect(lookup).rejects.toMatchObject({ code: SchemaErrorCode.Closed });
    expect(asked).toBe(2);
    expect(refused).toEqual([]);
  });
});
