import { describe, expect, it } from "vitest";
import { declaredBytes, wantsErrorsOnly } from "./http-ingress.js";

describe("wantsErrorsOnly", () => {
  it("reads results=errors from the query string", () => {
    expect(wantsErrorsOnly("/v1/events/clicks?results=errors")).toBe(true);
    expect(wantsErrorsOnly("/v1/events/clicks?x=1&results=errors")).toBe(true);
    expect(wantsErrorsOnly("/v1/events/clicks?results=all")).toBe(false);
    expect(wantsErrorsOnly("/v1/events/clicks")).toBe(false);
    expect(wantsErrorsOnly(undefined)).toBe(false);
  });
});

describe("declaredBytes", () => {
  it("takes the Content-Length within the limit, else the limit", () => {
    expect(declaredBytes("1200", 8_000)).toBe(1200);
    expect(declaredBytes("0", 8_000)).toBe(0);
    expect(declaredBytes(undefined, 8_000)).toBe(8_000);
    expect(declaredBytes("9000", 8_000)).toBe(8_000);
    expect(declaredBytes("abc", 8_000)).toBe(8_000);
    expect(declaredBytes("", 8_000)).toBe(8_000);
  });
});
