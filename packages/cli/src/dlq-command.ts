import {
  type Bus,
  connectBus,
  createSubjects,
  type DeadLetterFilter,
  type DeadLetterInfo,
  type ListDeadLettersOptions,
  listDeadLetters,
  type ReplayOutcome,
  replayDeadLetters,
} from "@inlet/bus";
import { CliError, CliErrorCode } from "./cli-error.js";
import { type CliIo, write } from "./cli-io.js";
import { OutputFormat } from "./output-format.js";
import { renderTable } from "./table.js";

/** The NATS server the dlq commands talk to when neither `--nats` nor `INLET_NATS_URL` says otherwise. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Letters `inlet dlq list` shows when `--limit` is not given. */
export const DEFAULT_LIST_LIMIT = 1_000;

/** Options shared by `inlet dlq list` and `inlet dlq replay`. */
export interface DlqCommandOptions extends DeadLetterFilter {
  /** NATS servers, comma-separated. */
  natsUrl: string;
  /** Prefix of the streams and subjects (tests, shared servers); `""` for none. */
  prefix: string;
  format: OutputFormat;
}

/** Options of {@link runDlqReplay}. */
export interface DlqReplayOptions extends DlqCommandOptions {
  dryRun: boolean;
  keep: boolean;
}

/** `inlet dlq list`: dead letters in stream order, with what each holds and why it is there. */
export async function runDlqList(options: DlqCommandOptions, io: CliIo): Promise<void> {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  await withBus(options.natsUrl, async (bus) => {
    // One more than shown, to tell whether there are more.
    const letters = listDeadLetters(bus, { ...filterOf(options), limit: limit + 1 });
    let shown = 0;
    let more = false;
    const rows: (string | null)[][] = [];
    if (options.format === OutputFormat.Json) await write(io.stdout, "[");
    for await (const letter of letters) {
      if (shown === limit) {
        more = true;
        break;
      }
      if (options.format === OutputFormat.Json) {
        await write(io.stdout, `${shown === 0 ? "\n" : ",\n"}${JSON.stringify(letter)}`);
      } else {
        rows.push(letterRow(letter));
      }
      shown++;
    }
    const note = more ? `showing the first ${limit}: use --limit or --seq for more` : undefined;
    if (options.format === OutputFormat.Json) {
      await write(io.stdout, `${shown === 0 ? "" : "\n"}]\n`);
      if (note !== undefined) await write(io.stderr, `${note}\n`);
      return;
    }
    await write(io.stdout, renderTable(LIST_COLUMNS, rows));
    await write(
      io.stdout,
      `${shown} dead letter${shown === 1 ? "" : "s"}${note === undefined ? "" : `; ${note}`}\n`,
    );
  });
}

/**
 * `inlet dlq replay`: sends the selected letters back (frames to their source subject, events
 * through the collector), one line per letter, then a summary. Returns the exit status: 0 when
 * every letter was replayed (or would be, in a dry run), 1 otherwise.
 */
export async function runDlqReplay(options: DlqReplayOptions, io: CliIo): Promise<number> {
  return withBus(options.natsUrl, async (bus) => {
    const json = options.format === OutputFormat.Json;
    const report = await replayDeadLetters(bus, {
      ...filterOf(options),
      dryRun: options.dryRun,
      keep: options.keep,
      ...(json
        ? {}
        : { onOutcome: (outcome: ReplayOutcome) => write(io.stdout, `${outcomeLine(outcome)}\n`) }),
    });
    const { totals } = report;
    if (json) {
      await write(io.stdout, `${JSON.stringify({ dryRun: options.dryRun, ...report })}\n`);
    } else {
      const counts = [
        options.dryRun ? `would replay ${totals.wouldReplay}` : `replayed ${totals.replayed}`,
        `rejected again ${totals.rejected}`,
        `not replayable ${totals.notReplayable}`,
        `failed ${totals.failed}`,
      ];
      const dry = options.dryRun ? " (dry run: nothing sent or deleted)" : "";
      await write(io.stdout, `${counts.join(", ")} of ${totals.selected} dead letters${dry}\n`);
    }
    return totals.replayed + totals.wouldReplay === totals.selected ? 0 : 1;
  });
}

const LIST_COLUMNS = [
  { name: "seq", type: "BIGINT" },
  { name: "time", type: "VARCHAR" },
  { name: "stage", type: "VARCHAR" },
  { name: "dataset", type: "VARCHAR" },
  { name: "kind", type: "VARCHAR" },
  { name: "code", type: "VARCHAR" },
  { name: "event_id", type: "VARCHAR" },
  { name: "events", type: "BIGINT" },
  { name: "source", type: "VARCHAR" },
  { name: "reason", type: "VARCHAR" },
];

function letterRow(letter: DeadLetterInfo): (string | null)[] {
  const events = letter.kind === "event" ? 1 : letter.eventCount;
  const source =
    letter.sourceSubject === undefined ? null : `${letter.sourceSubject}:${letter.sourceSeq ?? "?"}`;
  return [
    String(letter.seq),
    letter.time.toISOString(),
    letter.stage,
    letter.dataset,
    letter.kind,
    letter.code,
    letter.eventId ?? null,
    events === undefined ? null : String(events),
    source,
    letter.reason,
  ];
}

// `12 replayed frame processor/clicks MAX_DELIVERIES: published to ingest.clicks as seq 40`
function outcomeLine(outcome: ReplayOutcome): string {
  const { letter } = outcome;
  const what = letter.kind === "event" && letter.eventId !== undefined ? ` ${letter.eventId}` : "";
  const retry = outcome.retryAfter === undefined ? "" : ` (after ${outcome.retryAfter.toISOString()})`;
  const status = outcome.status.replace("-", " ");
  return `${letter.seq} ${status} ${letter.kind}${what} ${letter.stage}/${letter.dataset} ${letter.code}: ${outcome.message}${retry}`;
}

function filterOf(options: DlqCommandOptions): ListDeadLettersOptions {
  const { stage, dataset, code, fromSeq, toSeq, limit } = options;
  return { subjects: createSubjects(options.prefix), stage, dataset, code, fromSeq, toSeq, limit };
}

async function withBus<T>(natsUrl: string, work: (bus: Bus) => Promise<T>): Promise<T> {
  let bus: Bus;
  try {
    bus = await connectBus({ servers: natsUrl.split(","), name: "inlet-cli" });
  } catch (error) {
    throw new CliError(
      CliErrorCode.Failed,
      `cannot reach NATS at ${natsUrl}: ${error instanceof Error ? error.message : String(error)} ` +
        "(give the server with --nats or INLET_NATS_URL)",
      { cause: error },
    );
  }
  try {
    return await work(bus);
  } finally {
    await bus.close();
  }
}
