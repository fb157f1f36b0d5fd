import { Agent, request } from "node:http";

/** A dataset as `GET /v1/datasets` lists it (the fields the bench reads). */
export interface DatasetInfo {
  name: string;
  rows: number;
  version: number;
  files: number;
  freshnessMs?: number;
}

/** A timed answer of `POST /v1/query`. */
export interface QueryAnswer {
  status: number;
  /** The body as received (decode with `toString()`). */
  body: Buffer;
  /** From sending the request to the last byte of the answer, ms. */
  ms: number;
}

/** The query service's HTTP API, as the bench uses it. */
export class QueryClient {
  readonly #url: URL;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 8 });

  constructor(queryUrl: string) {
    this.#url = new URL(queryUrl);
  }

  /** `GET /v1/datasets`. */
  async datasets(): Promise<DatasetInfo[]> {
    const answer = await this.#request("GET", "/v1/datasets", undefined, 10_000);
    const text = answer.body.toString("utf8");
    if (answer.status !== 200)
      throw new Error(`GET /v1/datasets answered ${answer.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as DatasetInfo[] | { datasets: DatasetInfo[] };
    return Array.isArray(body) ? body : body.datasets;
  }

  /** Rows committed in `names` (all datasets when omitted). */
  async rows(names?: readonly string[]): Promise<number> {
    const list = await this.datasets();
    return list.filter((d) => names === undefined || names.includes(d.name)).reduce((n, d) => n + d.rows, 0);
  }

  /**
   * `POST /v1/query {sql, format}`, read to the last byte: plain `node:http` and raw bytes, so the
   * client adds as little as it can to the time (no decoding, no parsing).
   */
  query(sql: string, format: "json" | "ndjson" | "csv" = "json", timeoutMs = 60_000): Promise<QueryAnswer> {
    return this.#request("POST", "/v1/query", Buffer.from(JSON.stringify({ sql, format })), timeoutMs);
  }

  /** Runs `sql` and returns its rows (JSON format); throws on a non-200 answer. */
  async rowsOf<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const answer = await this.query(sql);
    const text = answer.body.toString("utf8");
    if (answer.status !== 200) throw new Error(`query answered ${answer.status}: ${text.slice(0, 300)}`);
    return (JSON.parse(text) as { rows: T[] }).rows;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  #request(
    method: string,
    path: string,
    payload: Buffer | undefined,
    timeoutMs: number,
  ): Promise<QueryAnswer> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(
        {
          host: this.#url.hostname,
          port: this.#url.port,
          path,
          method,
          agent: this.#agent,
          headers:
            payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": payload.byteLength },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks),
              ms: performance.now() - started,
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
}
