import type { Logger } from "@inlet/telemetry";

/** A started service, as `start()` returns it. */
export interface RunningService {
  /** Stops taking work, finishes and commits what is in flight, closes connections. */
  stop(): Promise<void>;
}

/** Options of {@link runService}. */
export interface RunServiceOptions {
  /** The service's name, logged when it starts. */
  name: string;
  logger: Logger;
  /** Connects and starts the service; a rejection exits the process with code 1. */
  start: () => Promise<RunningService>;
  /** How long `stop()` may take after SIGTERM/SIGINT before the process exits with 1, ms; default 25000 (under Kubernetes' 30 s grace period). */
  stopTimeoutMs?: number;
}

// A log destination that never drains must not keep a dead process alive.
const EXIT_FLUSH_TIMEOUT_MS = 1_000;

/**
 * The body of a service's `main.ts`: starts the service and logs `service started`; on SIGTERM or
 * SIGINT calls `stop()` once, logs `service stopped` and exits 0 (a second signal exits 1 at once).
 * Exits 1 when start or stop fails or stop times out, and on an unhandled rejection or uncaught
 * exception: a broken process stops, its supervisor restarts it. The only caller of `process.exit`.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const { name, logger } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 25_000;
  let running: RunningService | undefined;
  let stopRequested = false;
  let exiting = false;

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    const done = () => process.exit(code);
    setTimeout(done, EXIT_FLUSH_TIMEOUT_MS);
    try {
      logger.flush(done);
    } catch {
      done();
    }
  };

  const stopAndExit = async (service: RunningService): Promise<void> => {
    const timer = setTimeout(() => {
      logger.error({ stopTimeoutMs }, "service stop timed out");
      exit(1);
    }, stopTimeoutMs);
    try {
      await service.stop();
    } catch (error) {
      clearTimeout(timer);
      logger.error({ err: error }, "service stop failed");
      exit(1);
      return;
    }
    clearTimeout(timer);
    logger.info("service stopped");
    exit(0);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      logger.warn({ signal }, "second signal, exiting without a clean stop");
      exit(1);
      return;
    }
    stopRequested = true;
    logger.info({ signal }, "service stopping");
    // A signal during start is acted on once start resolves.
    if (running !== undefined) void stopAndExit(running);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("unhandledRejection", (reason) => {
    logger.fatal({ err: reason }, "unhandled rejection");
    exit(1);
  });
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "uncaught exception");
    exit(1);
  });

  try {
    running = await options.start();
  } catch (error) {
    logger.error({ err: error }, "service failed to start");
    exit(1);
    return;
  }
  logger.info({ name, pid: process.pid }, "service started");
  if (stopRequested) await stopAndExit(running);
}
