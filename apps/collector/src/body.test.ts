import { describe, expect, it } from "vitest";
import { BodyFormat, parseBody } from "./body.js";
import { IngestError, IngestErrorCode } from "./ingest-error.js";

const limits = { maxBytes: 1024, maxEvents: 5 };
const bytes = (text: string) => new TextEncoder().encode(text);

function refusal(text: string | Uint8Array, contentType?: string, lim = limits): IngestError {
  try {
    parseBody(typeof text === "string" ? bytes(text) : text, contentType, lim);
  } catch (error) {
    if (error instanceof IngestError) return error;
    throw error;
  }
  throw new Error("expected an IngestError");
}

describe("parseBody", () => {
  it("reads one JSON object as one event", () => {
    const body = parseBody(bytes('{"a":1}'), "application/json", limits);
    expect(body.format).toBe(BodyFormat.Json);
    expect(body.events).toEqual([{ a: 1 }]);
    expect(body.malformed.size).toBe(0);
  });

  it("reads a JSON array as its elements", () => {
    expect(parseBody(bytes('[{"a":1},{"a":2}]'), undefined, limits).events).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it("keeps non-object values as events (they are rejected later, one by one)", () => {
    expect(parseBody(bytes('[1, null, "x"]'), undefined, limits).events).toEqual([1, null, "x"]);
  });

  it("reads NDJSON when declared, skipping blank lines and CRLF endings", () => {
    const body = parseBody(bytes('{"a":1}\r\n\n{"a":2}\n'), "application/x-ndjson", limits);
    expect(body.format).toBe(BodyFormat.Ndjson);
    expect(body.events).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it("detects NDJSON when the body is not one JSON value", () => {
    const body = parseBody(bytes('{"a":1}\n{"a":2}\n{"a":3}'), "application/json", limits);
    expect(body.format).toBe(BodyFormat.Ndjson);
    expect(body.events).toHaveLength(3);
  });

  it("treats a single-line NDJSON body as JSON", () => {
    expect(parseBody(bytes('{"a":1}\n'), undefined, limits).format).toBe(BodyFormat.Json);
  });

  it("marks a malformed NDJSON line as that event's problem, naming line and column", () => {
    const body = parseBody(bytes('{"a":1}\n\n{"a":x}\n{"a":3}'), undefined, limits);
    expect(body.events).toEqual([{ a: 1 }, undefined, { a: 3 }]);
    expect(body.malformed.get(1)).toEqual({
      line: 3,
      raw: '{"a":x}',
      message: 'line 3, column 6: unexpected character "x", expected a JSON value',
    });
  });

  it("refuses malformed JSON with its line and column", () => {
    const error = refusal('{\n  "a": 1,\n  "b": tru\n}');
    expect(error.code).toBe(IngestErrorCode.MalformedBody);
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      'malformed JSON at line 3, column 8: unexpected character "t", expected a JSON value',
    );
  });

  it("does not take a broken pretty-printed document for NDJSON", () => {
    expect(refusal('[\n{"a":1},\n{"a":2}\n').code).toBe(IngestErrorCode.MalformedBody);
  });

  it("refuses a body over the byte limit with 413 and the numbers", () => {
    const error = refusal(new Uint8Array(2000));
    expect(error.code).toBe(IngestErrorCode.BodyTooLarge);
    expect(error.status).toBe(413);
    expect(error.message).toContain("2000 bytes, over the limit of 1024 bytes");
  });

  it("refuses more events than allowed per request, as an array or NDJSON", () => {
    expect(refusal("[1,2,3,4,5,6]").code).toBe(IngestErrorCode.TooManyEvents);
    const error = refusal("1\n2\n3\n4\n5\n6", "application/x-ndjson");
    expect(error.status).toBe(413);
    expect(error.message).toContain("6 events, over the limit of 5");
  });

  it("refuses empty bodies", () => {
    for (const text of ["", "  \n ", "[]"]) expect(refusal(text).code).toBe(IngestErrorCode.EmptyBody);
    expect(refusal("\n\n", "application/x-ndjson").code).toBe(IngestErrorCode.EmptyBody);
  });

  it("ignores a UTF-8 byte order mark", () => {
    expect(parseBody(bytes('\ufeff{"a":1}'), undefined, limits).events).toEqual([{ a: 1 }]);
  });

  it("reads a view into a larger buffer", () => {
    const whole = bytes('xx{"a":1}yy');
    expect(parseBody(whole.subarray(2, 9), undefined, limits).events).toEqual([{ a: 1 }]);
  });
});
