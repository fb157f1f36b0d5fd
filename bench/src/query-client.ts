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
  text: string;
  /** From sending the request to the last byte of the answer, ms. */
  ms: number;
}

/** The query service's HTTP API, as the bench uses it. */
export class QueryClient {
  readonly #url: string;

  constructor(queryUrl: string) {
    this.#url = queryUrl;
  }

  /** `GET /v1/datasets`. */
  async datasets(): Promise<DatasetInfo[]> {
    const res = await fetch(`${this.#url}/v1/datasets`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET /v1/datasets answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as DatasetInfo[] | { datasets: DatasetInfo[] };
    return Array.isArray(body) ? body : body.datasets;
  }

  /** Rows committed in `names` (all datasets when omitted). */
  async rows(names?: readonly string[]): Promise<number> {
    const list = await this.datasets();
    return list.filter((d) => names === undefined || names.includes(d.name)).reduce((n, d) => n + d.rows, 0);
  }

  /** `POST /v1/query {sql, format}`, read to the end. */
  async query(
    sql: string,
    format: "json" | "ndjson" | "csv" = "json",
    timeoutMs = 60_000,
  ): Promise<QueryAnswer> {
    const started = performance.now();
    const res = await fetch(`${this.#url}/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql, format }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  }

  /** Runs `sql` and returns its rows (JSON format); throws on a non-200 answer. */
  async rowsOf<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const answer = await this.query(sql);
    if (answer.status !== 200)
      throw new Error(`query answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    return (JSON.parse(answer.text) as { rows: T[] }).rows;
  }
}
