import { fileURLToPath } from "node:url";
import { createAvroType, loadDatasets, validateEvent } from "@inlet/schema";
import { describe, expect, it } from "vitest";
import { DEMO_DATASETS } from "./generator.js";
import { InvalidKind, invalidEvent } from "./invalid-event.js";
import { createRng } from "./rng.js";

const configDir = fileURLToPath(new URL("../../../config", import.meta.url));

describe("invalidEvent", () => {
  it.each(DEMO_DATASETS.map((d) => [d]))(
    "makes %s events that fail validation on the named field",
    async (dataset) => {
      const definition = (await loadDatasets(configDir)).find((d) => d.name === dataset)!;
      const type = createAvroType(definition.versions[0]!.schema);
      const rng = createRng(21);
      const kinds = new Set<string>();
      for (let i = 0; i < 300; i++) {
        const bad = invalidEvent(dataset, rng, () => Date.UTC(2024, 4, 1));
        kinds.add(bad.kind);
        const issues = validateEvent(type, bad.event, `${dataset}@1`);
        expect(
          issues.map((issue) => issue.field),
          JSON.stringify(bad),
        ).toEqual([bad.field]);
      }
      expect(kinds.has(InvalidKind.WrongType)).toBe(true);
      expect(kinds.has(InvalidKind.MissingField)).toBe(true);
      expect(kinds.has(InvalidKind.BadTimestamp)).toBe(true);
    },
  );

  it("includes the decimal-comma amount from the docs", () => {
    const rng = createRng(1);
    const amounts = Array.from({ length: 200 }, () => invalidEvent("transactions", rng)).filter(
      (b) => b.field === "amount",
    );
    expect(amounts.length).toBeGreaterThan(0);
    expect(amounts[0]?.event.amount).toBe("12,5");
  });

  it("is repeatable for the same seed", () => {
    const draw = () => {
      const rng = createRng(5);
      return Array.from({ length: 20 }, () => invalidEvent("clicks", rng, () => 0));
    };
    const a = draw();
    const b = draw();
    expect(a).toEqual(b);
  });
});
