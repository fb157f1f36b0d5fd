import { describe, expect, it } from "vitest";
import { wantsErrorsOnly } from "./http-ingress.js";

describe("wantsErrorsOnly", () => {
  it("reads results=errors from the query string", () => {
    expect(wantsErrorsOnly("/v1/events/clicks?results=errors")).toBe(true);
    expect(wantsErrorsOnly("/v1/events/clicks?x=1&results=errors")).toBe(true);
    expect(wantsErrorsOnly("/v1/events/clicks?results=all")).toBe(false);
    expect(wantsErrorsOnly("/v1/events/clicks")).toBe(false);
    expect(wantsErrorsOnly(undefined)).toBe(false);
  });
});
