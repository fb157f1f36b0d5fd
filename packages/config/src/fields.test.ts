import { describe, expect, it } from "vitest";
import { z } from "zod";
import { bool, durationMs, natsServers, pairList, port, positiveInt, text } from "./fields.js";

function parse<T>(field: z.ZodType<T, string | undefined>, raw: string | undefined) {
  return z.object({ V: field }).safeParse({ V: raw });
}

describe("port", () => {
  it("reads a port number and falls back to the default when unset", () => {
    expect(parse(port(8080), "9090").data).toEqual({ V: 9090 });
    expect(parse(port(8080), undefined).data).toEqual({ V: 8080 });
    expect(parse(port(), "0").data).toEqual({ V: 0 });
  });

  it("rejects text, negatives and numbers above 65535", () => {
    for (const raw of ["http", "-1", "65536", "80.5"]) {
      expect(parse(port(8080), raw).success, raw).toBe(false);
    }
  });

  it("reports a required port that is missing", () => {
    const result = parse(port(), undefined);
    expect(result.error?.issues[0]?.message).toBe("expected a TCP port (0-65535)");
  });
});

describe("positiveInt", () => {
  it("accepts integers from 1 to the maximum", () => {
    expect(parse(positiveInt(1, 5), "3").data).toEqual({ V: 3 });
    expect(parse(positiveInt(7), undefined).data).toEqual({ V: 7 });
  });

  it("rejects zero, fractions and values above the maximum", () => {
    for (const raw of ["0", "1.5", "6", "three"]) {
      expect(parse(positiveInt(1, 5), raw).success, raw).toBe(false);
    }
  });
});

describe("durationMs", () => {
  it("reads plain milliseconds and ms/s/m/h suffixes", () => {
    expect(parse(durationMs(), "250").data).toEqual({ V: 250 });
    expect(parse(durationMs(), "250ms").data).toEqual({ V: 250 });
    expect(parse(durationMs(), "1.5s").data).toEqual({ V: 1500 });
    expect(parse(durationMs(), "2m").data).toEqual({ V: 120_000 });
    expect(parse(durationMs(), "1h").data).toEqual({ V: 3_600_000 });
    expect(parse(durationMs(5000), undefined).data).toEqual({ V: 5000 });
  });

  it("rejects unknown units and negative durations", () => {
    for (const raw of ["5d", "-5s", "soon", "5 s"]) {
      expect(parse(durationMs(5000), raw).success, raw).toBe(false);
    }
  });
});

describe("bool", () => {
  it("reads the usual spellings of true and false in any case", () => {
    for (const raw of ["true", "TRUE", "1", "yes", "on"])
      expect(parse(bool(false), raw).data).toEqual({ V: true });
    for (const raw of ["false", "0", "No", "off"]) expect(parse(bool(true), raw).data).toEqual({ V: false });
    expect(parse(bool(true), undefined).data).toEqual({ V: true });
  });

  it("rejects anything else", () => {
    expect(parse(bool(false), "maybe").success).toBe(false);
  });
});

describe("natsServers", () => {
  it("splits a comma-separated list and trims each entry", () => {
    expect(parse(natsServers(), "nats://a:4222, nats://b:4222,").data).toEqual({
      V: ["nats://a:4222", "nats://b:4222"],
    });
    expect(parse(natsServers(), "127.0.0.1:4222").data).toEqual({ V: ["127.0.0.1:4222"] });
  });

  it("defaults to the local server", () => {
    expect(parse(natsServers(), undefined).data).toEqual({ V: ["nats://127.0.0.1:4222"] });
  });

  it("rejects entries that are not server addresses", () => {
    expect(parse(natsServers(), "nats://a:4222,has space").success).toBe(false);
    expect(parse(natsServers(), ",").success).toBe(false);
  });
});

describe("text", () => {
  it("returns the string or its default", () => {
    expect(parse(text("config"), "/etc/inlet").data).toEqual({ V: "/etc/inlet" });
    expect(parse(text("config"), undefined).data).toEqual({ V: "config" });
    expect(parse(text(), undefined).success).toBe(false);
  });
});

describe("pairList", () => {
  const field = pairList("<name>=<dataset>", /^[a-z][a-z-]*$/, /^[a-z_]+$/);

  it("reads trimmed pairs, skipping empty items, and is empty when unset", () => {
    expect(parse(field, " a-in = clicks,,b=sensor_readings, ").data).toEqual({
      V: [
        { key: "a-in", value: "clicks" },
        { key: "b", value: "sensor_readings" },
      ],
    });
    expect(parse(field, undefined).data).toEqual({ V: [] });
  });

  it("names the item it cannot read, and a key given twice", () => {
    expect(parse(field, "a=clicks, b").error?.issues[0]?.message).toBe(
      'expected <name>=<dataset> pairs separated by commas, got "b"',
    );
    for (const raw of ["A=clicks", "a=Clicks", "a=b=c", "=clicks"]) {
      expect(parse(field, raw).success, raw).toBe(false);
    }
    expect(parse(field, "a=clicks,a=x").error?.issues[0]?.message).toBe('"a" appears twice');
  });
});
