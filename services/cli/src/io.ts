/** What a command may touch of the outside world besides servers: streams, environment, clock. Tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars redraw in place only on a terminal; elsewhere they print a line now and then. */
  readonly isTty: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  now(): number;
  /** Asks a yes/no question on a terminal; undefined when there is no terminal to ask (CI, pipes). */
  confirm?(question: string): Promise<boolean>;
}

export const EXIT_CODES = {
  ok: 0,
  /** A server refused or failed, or the work could not be finished. */
  failed: 1,
  /** Wrong command, option, or name (pipe, group, directory...). */
  usage: 2,
  /** Refused as unsafe: a threshold, a running consumer group, no confirmation. */
  refused: 3,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * An error the user can act on: the message names the problem, `hint` what to do. Printed without a stack trace.
 * `retriable` says whether running the same command again later can help (a server down, not a wrong name).
 */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly retriable: boolean;

  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? EXIT_CODES.failed;
    this.hint = options.hint;
    this.retriable = options.retriable ?? false;
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT_CODES.usage, ...(hint === undefined ? {} : { hint }) });
    this.name = 'UsageError';
  }
}

/** Refused because it would be unsafe; the message says what to change or which flag accepts the risk. */
export class RefusedError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT_CODES.refused, ...(hint === undefined ? {} : { hint }) });
    this.name = 'RefusedError';
  }
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTty: process.stderr.isTTY === true,
    env: process.env,
    now: () => Date.now(),
    ...(process.stdin.isTTY === true && process.stderr.isTTY === true
      ? {
          confirm: async (question: string): Promise<boolean> => {
            const { createInterface } = await import('node:readline/promises');
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              const answer = await rl.question(`${question} [y/N] `);
              return /^y(es)?$/i.test(answer.trim());
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  };
}
