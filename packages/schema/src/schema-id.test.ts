import { describe, expect, it } from "vitest";
import { SchemaError, SchemaErrorCode } from "./schema-error.js";
import { assertDatasetName, formatSchemaId, isDatasetName, parseSchemaId } from "./schema-id.js";

describe("schema ids", () => {
  it("formats and parses <dataset>@<version>", () => {
    expect(formatSchemaId("clicks", 1)).toBe("clicks@1");
    expect(parseSchemaId("sensor_readings@12")).toEqual({ dataset: "sensor_readings", version: 12 });
  });

  it("refuses malformed ids with SchemaError INVALID_SCHEMA_ID", () => {
    for (const bad of [
      "clicks",
      "clicks@",
      "clicks@0",
      "clicks@01",
      "Clicks@1",
      "clicks@1.5",
      "@1",
      "a@1@2",
      "",
    ]) {
      expect(() => parseSchemaId(bad), bad).toThrow(
        expect.objectContaining({ name: "SchemaError", code: SchemaErrorCode.InvalidSchemaId }),
      );
    }
  });

  it("refuses to format an id with a bad version or dataset", () => {
    expect(() => formatSchemaId("clicks", 0)).toThrow(/invalid schema version/);
    expect(() => formatSchemaId("clicks", 1.5)).toThrow(/invalid schema version/);
    expect(() => formatSchemaId("Clicks", 1)).toThrow(/invalid dataset name/);
  });
});

describe("dataset names", () => {
  it("accepts [a-z][a-z0-9_]* up to 64 characters", () => {
    expect(isDatasetName("clicks")).toBe(true);
    expect(isDatasetName("sensor_readings2")).toBe(true);
    expect(isDatasetName("a".repeat(64))).toBe(true);
  });

  it("rejects names that would break subjects, keys or paths", () => {
    for (const bad of ["", "1clicks", "click.s", "clicks*", "Clicks", "my-data", "a".repeat(65)]) {
      expect(isDatasetName(bad), bad).toBe(false);
    }
    expect(() => assertDatasetName("my-data")).toThrow(SchemaError);
  });
});
