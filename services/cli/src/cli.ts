import { type CliCommand } from './command';
import { COMMANDS } from './commands';
import { CliError, type CliIo, EXIT_CODES } from './io';
import { GLOBAL_HELP } from './options';

export const USAGE = `idsync: operations toolbox for identity sync pipelines

usage: idsync <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(15)} ${c.summary}`).join('\n')}

${GLOBAL_HELP}

Exit status: 0 done, 1 failed (a server refused or is unreachable), 2 wrong command, option or name,
3 refused as unsafe (nothing was changed).
Run 'idsync <command> --help' for a command's options.
`;

export function findCommand(name: string): CliCommand | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Runs one command line; every error the user can act on comes out as a message and an exit code, never a stack. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : findCommand(topic);
    io.out(command ? command.help : USAGE);
    return name === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  const command = findCommand(name);
  if (!command) {
    const near = COMMANDS.filter((c) => c.name.startsWith(name.slice(0, 2))).map((c) => c.name);
    io.err(`idsync: unknown command '${name}'${near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : ''}\nRun 'idsync --help' for the list.\n`);
    return EXIT_CODES.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return EXIT_CODES.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`idsync ${command.name}: ${error.message.replace(/^idsync [a-z-]+: /, '')}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
      return error.exitCode;
    }
    io.err(`idsync ${command.name}: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_CODES.failed;
  }
}
