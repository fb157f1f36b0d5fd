import { HttpError } from "@inlet/runtime";
import { describe, expect, it } from "vitest";
import { formatFromAccept, parseQueryRequest } from "./query-request.js";

const json = (body: unknown) => Buffer.from(JSON.stringify(body));

function refusal(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected an HttpError");
}

describe("parseQueryRequest", () => {
  it("reads sql, format and pinned versions from a JSON body", () => {
    expect(
      parseQueryRequest(
        json({ sql: "SELECT 1", format: "csv", version: { clicks: 3 } }),
        "application/json",
        undefined,
      ),
    ).toEqual({ sql: "SELECT 1", format: "csv", versions: { clicks: 3 } });
  });

  it("takes the format from Accept unless the body names one, and defaults to JSON", () => {
    const sql = json({ sql: "SELECT 1" });
    expect(parseQueryRequest(sql, "application/json", "application/x-ndjson").format).toBe("ndjson");
    expect(parseQueryRequest(sql, "application/json", undefined).format).toBe("json");
    expect(parseQueryRequest(sql, "application/json", "*/*").format).toBe("json");
    expect(parseQueryRequest(json({ sql: "SELECT 1", format: "json" }), undefined, "text/csv").format).toBe(
      "json",
    );
  });

  it("takes a text/plain or application/sql body as the SQL itself", () => {
    expect(parseQueryRequest(Buffer.from("SELECT 2"), "text/plain; charset=utf-8", "text/csv")).toEqual({
      sql: "SELECT 2",
      format: "csv",
    });
    expect(parseQueryRequest(Buffer.from("SELECT 3"), "application/sql", undefined).sql).toBe("SELECT 3");
  });

  it("reads a JSON body labelled text/plain (as fetch labels strings) as JSON", () => {
    expect(
      parseQueryRequest(json({ sql: "SELECT 4", format: "csv" }), "text/plain;charset=UTF-8", undefined),
    ).toEqual({
      sql: "SELECT 4",
      format: "csv",
    });
  });

  it.each([
    [{}, "sql"],
    [{ sql: "" }, "sql"],
    [{ sql: "SELECT 1", format: "xml" }, "format"],
    [{ sql: "SELECT 1", version: { clicks: -1 } }, "version.clicks"],
    [{ sql: "SELECT 1", limit: 5 }, "limit"],
  ])("refuses %j naming %s", (body, field) => {
    const error = refusal(() => parseQueryRequest(json(body), "application/json", undefined));
    expect(error.status).toBe(400);
    expect(error.code).toBe("INVALID_REQUEST");
    expect(error.message).toContain(field);
  });

  it("refuses a body that is not JSON", () => {
    const error = refusal(() => parseQueryRequest(Buffer.from("{"), "application/json", undefined));
    expect(error.message).toMatch(/^request body is not valid JSON/);
  });
});

describe("formatFromAccept", () => {
  it("picks the first media type it serves", () => {
    expect(formatFromAccept("text/html, text/csv;q=0.9, application/json")).toBe("csv");
    expect(formatFromAccept("application/ndjson")).toBe("ndjson");
    expect(formatFromAccept("text/html")).toBeUndefined();
    expect(formatFromAccept(undefined)).toBeUndefined();
  });
});
