import { parseArgs } from "node:util";

/** The figures the bench can measure, in the order it runs them. */
export const Figure = {
  Bus: "bus",
  Parquet: "parquet",
  Writer: "writer",
  E2e: "e2e",
  Memory: "memory",
  Freshness: "freshness",
  Cdc: "cdc",
  Query: "query",
} as const;

/** One of {@link Figure}. */
export type Figure = (typeof Figure)[keyof typeof Figure];

/** Every figure, in run order. */
export const ALL_FIGURES: readonly Figure[] = Object.values(Figure);

/** How producers reach the collector during `e2e` and `freshness`. */
export const Transport = { Http: "http", Nats: "nats" } as const;

/** One of {@link Transport}. */
export type Transport = (typeof Transport)[keyof typeof Transport];

/** Sizes and durations of one bench run: the full run fits in about 10 minutes, `--quick` in about 2. */
export interface BenchOptions {
  figures: ReadonlySet<Figure>;
  quick: boolean;
  /** Write `NODE_OPTIONS=--cpu-prof` into the services of the e2e stack; profiles land in `profileDir`. */
  profile: boolean;
  /** Where results go (default `bench/results`). */
  outDir: string;
  /** Where `--profile` writes `.cpuprofile` files (default `bench/results/profiles`). */
  profileDir: string;
  /** Events the bus ceiling publishes and then consumes. */
  busEvents: number;
  /** Events the parquet ceiling converts. */
  parquetEvents: number;
  /** Events pre-filled into CURATED for the writer figure (a multiple of `writerMaxRows` per dataset). */
  writerEvents: number;
  /** The lake-writer's row bound per micro-batch, in the writer figure and the stack. */
  writerMaxRows: number;
  /** The lake-writer's flush interval, ms (`INLET_WRITER_FLUSH_MS`). */
  flushMs: number;
  /** Load before the e2e window opens, s. */
  warmupS: number;
  /** The e2e measuring window, s. */
  e2eWindowS: number;
  /** Duration of the freshness load, s. */
  freshnessS: number;
  /** Concurrent producer requests in e2e. */
  concurrency: number;
  /** Events per producer request. */
  batchEvents: number;
  /** Producers hold off while this many frames wait undelivered in front of the stages. */
  maxQueuedFrames: number;
  /** Extra environment for every service of the stack and the lake-writer alone (`--env KEY=VALUE`). */
  serviceEnv: Record<string, string>;
  transport: Transport;
  /** Rows of the query figure's table. */
  queryRows: number;
  /** Rows of the CDC figure's source table, and the updates it drains. */
  cdcTableRows: number;
  cdcChanges: number;
}

/** Thrown for a bad command line. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "USAGE";
}

/** The help text of `pnpm bench`. */
export const USAGE = `pnpm bench [options]      (or ./inlet bench)

Measures Inlet's figures and the machine's ceilings in one run, writes
bench/results/latest.json and bench/results/latest.md.

  --only LIST        figures to run, comma-separated: ${ALL_FIGURES.join(", ")}
                     (memory is measured during e2e; freshness runs at half the e2e rate)
  --quick            a ~2 minute smoke run: smaller sizes, shorter windows
  --profile          CPU-profile the services (node --cpu-prof); summary in results/profiles/summary.md
  --transport T      http (default) or nats: how producers reach the collector
  --concurrency N    producer requests in flight during e2e (default 8)
  --flush-ms MS      the lake-writer's flush interval (default 5000)
  --max-queued N     producers hold off while N frames wait undelivered in front of the
                     stages (default 200, about 200k events)
  --env KEY=VALUE    extra environment for the services (repeatable), to try a setting:
                     --env INLET_WRITER_MAX_ACK_PENDING=200 --env INLET_WRITER_MAX_ROWS=50000
  --window S         the e2e window in seconds (default 60, quick 20)
  --out DIR          where to write latest.json and latest.md (default bench/results)
  -h, --help         this text
`;

/** Parses the command line; throws {@link UsageError}. `rootDir` anchors the default output directory. */
export function parseOptions(argv: readonly string[], rootDir: string): BenchOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: "string" },
      quick: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      transport: { type: "string", default: Transport.Http },
      concurrency: { type: "string" },
      "flush-ms": { type: "string" },
      "max-queued": { type: "string" },
      env: { type: "string", multiple: true },
      window: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return "help";
  const quick = values.quick ?? false;
  const figures = parseFigures(values.only);
  const transport = values.transport;
  if (transport !== Transport.Http && transport !== Transport.Nats) {
    throw new UsageError(`--transport must be http or nats, got ${JSON.stringify(transport)}`);
  }
  const outDir = values.out ?? `${rootDir}/bench/results`;
  const writerMaxRows = 100_000;
  return {
    figures,
    quick,
    profile: values.profile ?? false,
    outDir,
    profileDir: `${outDir}/profiles`,
    busEvents: quick ? 60_000 : 240_000,
    parquetEvents: quick ? 300_000 : 1_200_000,
    writerEvents: (quick ? 1 : 4) * 3 * writerMaxRows,
    writerMaxRows,
    flushMs: positive("--flush-ms", values["flush-ms"], 5_000),
    warmupS: quick ? 8 : 20,
    e2eWindowS: positive("--window", values.window, quick ? 20 : 60),
    freshnessS: quick ? 15 : 40,
    concurrency: positive("--concurrency", values.concurrency, 8),
    batchEvents: 1_000,
    maxQueuedFrames: positive("--max-queued", values["max-queued"], 200),
    serviceEnv: parseEnvPairs(values.env ?? []),
    transport,
    queryRows: quick ? 2_000_000 : 10_000_000,
    cdcTableRows: quick ? 20_000 : 50_000,
    cdcChanges: quick ? 50_000 : 200_000,
  };
}

function parseFigures(only: string | undefined): ReadonlySet<Figure> {
  if (only === undefined) return new Set(ALL_FIGURES);
  const names = only
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const unknown = names.filter((n) => !(ALL_FIGURES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(`--only takes a list of ${ALL_FIGURES.join(", ")}; unknown: ${unknown.join(", ")}`);
  }
  return new Set(names as Figure[]);
}

function parseEnvPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

function positive(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got ${raw}`);
  return n;
}
