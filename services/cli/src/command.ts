import { type CliIo } from './io';

/** One subcommand: `idsync <name> ...`. `run` returns the exit code; it throws CliError for what the user can fix. */
export interface CliCommand {
  readonly name: string;
  /** One line for `idsync --help`. */
  readonly summary: string;
  /** The whole `idsync <name> --help` text. */
  readonly help: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}
