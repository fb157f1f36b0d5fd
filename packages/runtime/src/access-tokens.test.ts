import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@inlet/telemetry";
import { waitFor } from "@inlet/testing";
import { describe, expect, it } from "vitest";
import {
  AccessTokenFile,
  AccessTokens,
  AuthErrorCode,
  accessTokenHash,
  newAccessToken,
} from "./access-tokens.js";
import { HttpError } from "./http-error.js";

const pos = newAccessToken();
const admin = newAccessToken();
const file = JSON.stringify([
  { name: "pos-terminals", sha256: pos.sha256, datasets: ["transactions", "refunds"] },
  { name: "admin", sha256: admin.sha256, datasets: "*" },
]);

function refusal(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("AccessTokens", () => {
  it("makes 256-bit tokens and keeps only their SHA-256", () => {
    expect(pos.token).toMatch(/^inlet_[A-Za-z0-9_-]{43}$/);
    expect(pos.sha256).toBe(accessTokenHash(pos.token));
    expect(pos.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(newAccessToken().token).not.toBe(pos.token);
    expect(file).not.toContain(pos.token);
  });

  it("knows a bearer token by its hash, and what it covers", () => {
    const tokens = AccessTokens.parse(file, "tokens.json");
    expect(tokens.size).toBe(2);
    expect(tokens.authorize(`Bearer ${pos.token}`, "transactions")).toEqual({
      name: "pos-terminals",
      datasets: ["transactions", "refunds"],
    });
    expect(tokens.authorize(`bearer  ${admin.token} `, "anything").name).toBe("admin");
    expect(tokens.authorize(`Bearer ${pos.token}`).name).toBe("pos-terminals");
  });

  it("answers 401 with WWW-Authenticate for no token or an unknown one, 403 for another dataset", () => {
    const tokens = AccessTokens.parse(file, "tokens.json");
    for (const header of [undefined, "", "Basic dXNlcjpwYXNz", `Bearer ${pos.token}x`, pos.token]) {
      const error = refusal(() => tokens.authorize(header, "transactions"));
      expect([error.status, error.code], String(header)).toEqual([401, AuthErrorCode.Unauthenticated]);
      expect(error.headers["www-authenticate"]).toBe('Bearer realm="inlet"');
    }
    const forbidden = refusal(() => tokens.authorize(`Bearer ${pos.token}`, "clicks"));
    expect([forbidden.status, forbidden.code]).toEqual([403, AuthErrorCode.Forbidden]);
    expect(forbidden.message).toBe(
      'token "pos-terminals" does not cover dataset "clicks" (it covers transactions, refunds)',
    );
    expect(forbidden.message).not.toContain(pos.token);
    const everything = refusal(() => tokens.authorize(`Bearer ${pos.token}`, "*"));
    expect(everything.message).toBe(
      'token "pos-terminals" does not cover every dataset ("*"), as this endpoint needs (it covers transactions, refunds)',
    );
    expect(tokens.authorize(`Bearer ${admin.token}`, "*").name).toBe("admin");
  });

  it("refuses a file it cannot trust, naming the file, the entry and the problem", () => {
    const bad = (entries: unknown) => () => AccessTokens.parse(JSON.stringify(entries), "tokens.json");
    expect(() => AccessTokens.parse("{", "tokens.json")).toThrow(/^token file tokens.json: not JSON/);
    expect(bad({ tokens: [] })).toThrow("token file tokens.json: expected a JSON array");
    expect(bad([{ name: "a", sha256: pos.token, datasets: "*" }])).toThrow(
      /entry 0 \("a"\): "sha256" must be 64 lowercase hex digits \(the token's SHA-256, not the token\)/,
    );
    expect(bad([{ name: "a b", sha256: pos.sha256, datasets: "*" }])).toThrow(/entry 0: "name" must be/);
    expect(bad([{ name: "a", sha256: pos.sha256, datasets: [] }])).toThrow(
      /"datasets" must be "\*" or a non-empty/,
    );
    expect(bad([{ name: "a", sha256: pos.sha256, datasets: "*", scope: "x" }])).toThrow(
      /unknown key\(s\) scope/,
    );
    expect(
      bad([
        { name: "a", sha256: pos.sha256, datasets: "*" },
        { name: "a", sha256: admin.sha256, datasets: "*" },
      ]),
    ).toThrow(/entry 1: name "a" is given twice/);
    expect(
      bad([
        { name: "a", sha256: pos.sha256, datasets: "*" },
        { name: "b", sha256: pos.sha256, datasets: "*" },
      ]),
    ).toThrow(/entry 1 \("b"\): its sha256 is another entry's too/);
  });

  it("loads a file, and names one it cannot read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inlet-tokens-"));
    try {
      await writeFile(join(dir, "tokens.json"), file);
      expect((await AccessTokens.load(join(dir, "tokens.json"))).size).toBe(2);
      await expect(AccessTokens.load(join(dir, "missing.json"))).rejects.toThrow(
        `token file ${join(dir, "missing.json")}: ENOENT`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("AccessTokenFile", () => {
  it("reads the file again when it changes: a revoked token is refused, a broken file keeps the last", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inlet-tokens-"));
    const path = join(dir, "tokens.json");
    const logged: string[] = [];
    const logger = {
      info: (_: unknown, message: string) => logged.push(`info: ${message}`),
      error: (_: unknown, message: string) => logged.push(`error: ${message}`),
    } as unknown as Logger;
    await writeFile(path, file);
    const tokens = await AccessTokenFile.open(path, { logger, intervalMs: 20 });
    try {
      expect(tokens.authorize(`Bearer ${pos.token}`, "transactions").name).toBe("pos-terminals");
      // pos-terminals revoked: within moments its token is refused, the other still taken.
      await writeFile(path, JSON.stringify([{ name: "admin", sha256: admin.sha256, datasets: "*" }]));
      await waitFor(() => tokens.size === 1, { timeoutMs: 5_000, message: "the file read again" });
      expect(refusal(() => tokens.authorize(`Bearer ${pos.token}`, "transactions")).status).toBe(401);
      expect(tokens.authorize(`Bearer ${admin.token}`, "clicks").name).toBe("admin");
      // A broken file is reported and changes nothing.
      await writeFile(path, "[{");
      await waitFor(() => logged.some((l) => l.startsWith("error:")), { timeoutMs: 5_000 });
      expect(tokens.authorize(`Bearer ${admin.token}`, "clicks").name).toBe("admin");
      expect(logged).toEqual([
        "info: token file read again",
        "error: token file changed but cannot be used: the tokens before it stay in force",
      ]);
    } finally {
      tokens.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
