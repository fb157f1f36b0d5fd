import { describe, expect, it } from "vitest";
import { describeJsonProblem, locateJsonError } from "./json-error.js";

describe("locateJsonError", () => {
  it("returns undefined for valid JSON", () => {
    for (const text of ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"]}', " [] ", "0", '"s"']) {
      expect(locateJsonError(text)).toBeUndefined();
    }
  });

  it("points at an unexpected token with line and column", () => {
    const problem = locateJsonError("[1,\n2,\n x]");
    expect(problem).toMatchObject({ position: 8, line: 3, column: 2 });
    expect(describeJsonProblem(problem!)).toBe(
      'line 3, column 2: unexpected character "x", expected a JSON value',
    );
  });

  it("names a missing separator", () => {
    expect(locateJsonError('{"a": 1 "b": 2}')?.message).toBe(
      "unexpected character \"\\\"\", expected ',' or '}'",
    );
  });

  it("reports the end of input for a truncated body", () => {
    expect(locateJsonError('{"a": ')).toMatchObject({ position: 6, line: 1, column: 7 });
    expect(locateJsonError('{"a": ')?.message).toMatch(/^unexpected end of input/);
  });

  it("reports an unterminated string at its opening quote", () => {
    expect(locateJsonError('{"a": "abc')).toMatchObject({ position: 6, message: "unterminated string" });
  });

  it("refuses trailing commas, bad literals and data after the value", () => {
    expect(locateJsonError('{"a":1,}')?.message).toMatch(/property name/);
    expect(locateJsonError("[tru]")?.position).toBe(1);
    expect(locateJsonError('{"a":1} x')).toMatchObject({
      position: 8,
      message: "unexpected data after the JSON value",
    });
  });

  it("agrees with JSON.parse on what is valid", () => {
    const samples = ["[1,]", "01", "-", "1.", '"\\x"', '"a\tb"', "{}", "[[]]", "1e5", "nul"];
    for (const text of samples) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      expect(locateJsonError(text) === undefined, text).toBe(valid);
    }
  });
});
