import { createHash, randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type { Logger } from "@inlet/telemetry";
import { HttpError } from "./http-error.js";

/** Error codes of a request the {@link AccessTokens} refuse. */
export const AuthErrorCode = {
  /** No `Authorization: Bearer …` header, or a token no entry knows: 401. */
  Unauthenticated: "UNAUTHENTICATED",
  /** A known token that does not cover the dataset: 403. */
  Forbidden: "FORBIDDEN",
} as const;

/** One entry of a token file: who holds the token, and what it may reach. */
export interface AccessToken {
  /** Who holds it (`pos-terminals`): in logs, spans and refusals, never the token. */
  readonly name: string;
  /** The datasets it covers, or `"*"` for every one. */
  readonly datasets: readonly string[] | "*";
}

// What each token is: `inlet_` and 32 random bytes, base64url (256 bits).
const TOKEN_PREFIX = "inlet_";
const SHA256_HEX = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A new random access token, and the SHA-256 a token file keeps of it. */
export function newAccessToken(): { token: string; sha256: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { token, sha256: accessTokenHash(token) };
}

/** The SHA-256 (hex) of `token`: what a token file holds instead of the token itself. */
export function accessTokenHash(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * The bearer tokens a service accepts, read from a token file: a JSON array of
 * `{ "name": "pos-terminals", "sha256": "<hex>", "datasets": ["transactions"] }` (or
 * `"datasets": "*"`). The file holds each token's SHA-256, never the token, so reading it gives
 * nobody a credential; tokens are 256-bit random (`inlet token new` makes one), so an unsalted hash
 * is enough. A request names its token in `Authorization: Bearer <token>`.
 */
export class AccessTokens {
  readonly #byHash: ReadonlyMap<string, AccessToken>;

  private constructor(byHash: ReadonlyMap<string, AccessToken>) {
    this.#byHash = byHash;
  }

  /** Reads a token file; throws an Error naming the file and the first problem in it. */
  static async load(path: string): Promise<AccessTokens> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new Error(`token file ${path}: ${(error as Error).message}`, { cause: error });
    }
    return AccessTokens.parse(text, path);
  }

  /** Parses a token file's text (`source` names it in errors). */
  static parse(text: string, source: string): AccessTokens {
    const fail: (problem: string) => never = (problem) => {
      throw new Error(`token file ${source}: ${problem}`);
    };
    let entries: unknown;
    try {
      entries = JSON.parse(text);
    } catch (error) {
      return fail(`not JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(entries)) return fail("expected a JSON array of { name, sha256, datasets }");
    const byHash = new Map<string, AccessToken>();
    const names = new Set<string>();
    for (const [i, entry] of (entries as unknown[]).entries()) {
      const at = `entry ${i}`;
      if (typeof entry !== "object" || entry === null) fail(`${at}: expected an object`);
      const { name, sha256, datasets, ...rest } = entry as Record<string, unknown>;
      const extra = Object.keys(rest);
      if (extra.length > 0) fail(`${at}: unknown key(s) ${extra.join(", ")}`);
      if (typeof name !== "string" || !NAME.test(name)) {
        fail(`${at}: "name" must be 1-64 letters, digits, ".", "_" or "-", got ${JSON.stringify(name)}`);
      }
      if (names.has(name as string)) fail(`${at}: name "${name}" is given twice`);
      if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) {
        fail(
          `${at} ("${name}"): "sha256" must be 64 lowercase hex digits (the token's SHA-256, not the token)`,
        );
      }
      if (byHash.has(sha256 as string)) fail(`${at} ("${name}"): its sha256 is another entry's too`);
      const covers =
        datasets === "*"
          ? "*"
          : Array.isArray(datasets) && datasets.length > 0 && datasets.every((d) => typeof d === "string")
            ? Object.freeze([...(datasets as string[])])
            : fail(`${at} ("${name}"): "datasets" must be "*" or a non-empty array of dataset names`);
      names.add(name as string);
      byHash.set(sha256 as string, Object.freeze({ name: name as string, datasets: covers }));
    }
    return new AccessTokens(byHash);
  }

  /** How many tokens the file holds. */
  get size(): number {
    return this.#byHash.size;
  }

  /**
   * The token named by `authorization` (an `Authorization` header), when it covers `dataset`: a
   * dataset's name, `"*"` for every dataset (a token of `"datasets": "*"`), or undefined for any.
   * Throws an {@link HttpError}: 401 (with `WWW-Authenticate`) for no bearer token or an unknown
   * one, 403 for a token that does not cover the dataset.
   */
  authorize(authorization: string | string[] | undefined, dataset?: string): AccessToken {
    const header = Array.isArray(authorization) ? authorization[0] : authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      throw unauthenticated("this endpoint needs an access token: send Authorization: Bearer <token>");
    }
    const token = this.#byHash.get(accessTokenHash(match[1]!));
    if (token === undefined)
      throw unauthenticated("the access token is not known here (revoked, or mistyped)");
    if (dataset !== undefined && token.datasets !== "*" && !token.datasets.includes(dataset)) {
      const what = dataset === "*" ? 'every dataset ("*"), as this endpoint needs' : `dataset "${dataset}"`;
      throw new HttpError(
        403,
        AuthErrorCode.Forbidden,
        `token "${token.name}" does not cover ${what} (it covers ${token.datasets.join(", ")})`,
      );
    }
    return token;
  }
}

/** What checks a request's token: {@link AccessTokens}, or an {@link AccessTokenFile} kept current. */
export type TokenCheck = Pick<AccessTokens, "authorize">;

/** Options of {@link AccessTokenFile.open}. */
export interface AccessTokenFileOptions {
  logger: Logger;
  /** How often the file is looked at for a change (default 5 s). */
  intervalMs?: number;
}

/**
 * A token file read at start and again whenever it changes (its modification time, size or inode,
 * looked at every few seconds: a Kubernetes Secret's update swaps the file), so a token added or
 * revoked takes effect without a restart. A changed file that cannot be read or trusted is logged
 * and the tokens before it stay in force.
 */
export class AccessTokenFile implements TokenCheck {
  readonly #path: string;
  readonly #logger: Logger;
  #tokens: AccessTokens;
  #stamp: string;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  private constructor(path: string, tokens: AccessTokens, stamp: string, logger: Logger) {
    this.#path = path;
    this.#tokens = tokens;
    this.#stamp = stamp;
    this.#logger = logger;
  }

  /** Reads the file (throwing, naming it, when it cannot be read or trusted) and starts watching it. */
  static async open(path: string, options: AccessTokenFileOptions): Promise<AccessTokenFile> {
    const stamp = await stampOf(path);
    const file = new AccessTokenFile(path, await AccessTokens.load(path), stamp, options.logger);
    file.#timer = setInterval(() => void file.check(), options.intervalMs ?? 5_000);
    file.#timer.unref();
    return file;
  }

  /** How many tokens are in force. */
  get size(): number {
    return this.#tokens.size;
  }

  authorize(authorization: string | string[] | undefined, dataset?: string): AccessToken {
    return this.#tokens.authorize(authorization, dataset);
  }

  /** Reads the file again if it changed since it was last read; the watch calls this. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const stamp = await stampOf(this.#path);
      if (stamp === this.#stamp) return;
      this.#stamp = stamp;
      const before = this.#tokens.size;
      this.#tokens = await AccessTokens.load(this.#path);
      this.#logger.info(
        { tokensFile: this.#path, before, tokens: this.#tokens.size },
        "token file read again",
      );
    } catch (error) {
      this.#logger.error(
        { err: error, tokensFile: this.#path, tokens: this.#tokens.size },
        "token file changed but cannot be used: the tokens before it stay in force",
      );
    } finally {
      this.#checking = false;
    }
  }

  /** Stops watching the file. */
  close(): void {
    clearInterval(this.#timer);
  }
}

async function stampOf(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch (error) {
    throw new Error(`token file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A service's token file, read at start and kept current ({@link AccessTokenFile}), logged with how
 * many tokens it holds; or undefined when `variable` is unset, logged as a warning that `endpoint`
 * is open to anyone who reaches it.
 */
export async function loadAccessTokens(
  file: string | undefined,
  o: { variable: string; endpoint: string; logger: Logger; intervalMs?: number },
): Promise<AccessTokenFile | undefined> {
  if (file === undefined) {
    o.logger.warn(`${o.endpoint} is open to anyone who reaches it: set ${o.variable} to require tokens`);
    return undefined;
  }
  const tokens = await AccessTokenFile.open(file, {
    logger: o.logger,
    ...(o.intervalMs === undefined ? {} : { intervalMs: o.intervalMs }),
  });
  o.logger.info({ tokensFile: file, tokens: tokens.size }, `${o.endpoint} requires an access token`);
  return tokens;
}

function unauthenticated(message: string): HttpError {
  return new HttpError(401, AuthErrorCode.Unauthenticated, message, {
    headers: { "www-authenticate": 'Bearer realm="inlet"' },
  });
}
