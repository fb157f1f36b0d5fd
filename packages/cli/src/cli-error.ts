/** Codes carried by {@link CliError}; each maps to the process exit status. */
export const CliErrorCode = {
  /** The command line is wrong (unknown command or option, missing SQL): exit 2. */
  Usage: "USAGE",
  /** The statement or request failed: exit 1. */
  Failed: "FAILED",
} as const;

/** A {@link CliErrorCode} value. */
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** A failure the CLI reports as `inlet: <message>` on stderr, exiting 2 for usage errors, else 1. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
