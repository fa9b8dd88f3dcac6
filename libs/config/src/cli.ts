import { ConfigError, loadConfig, type Environment } from './loader';

const USAGE = 'usage: validate-config validate <config.yaml>\n  Checks the file and the environment variables it refers to; connects nowhere.\n';

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** `validate <file>`: exit 0 when valid, 1 when invalid (every problem listed), 2 on a usage error. */
export function runConfigCli(argv: readonly string[], env: Environment, io: CliOutput): number {
  const [command, file] = argv;
  if (command === '--help' || command === '-h') {
    io.out(USAGE);
    return 0;
  }
  if (command !== 'validate' || !file) {
    io.err(`${command === undefined ? 'missing command' : `unknown command '${command}'`}\n${USAGE}`);
    return 2;
  }
  try {
    const { config } = loadConfig(env, file);
    const dirs = Object.entries(config.directories).map(([name, d]) => `${name} (${d.kind}, ${d.urls.join(' ')})`);
    io.out(`${file}: valid\n  directories: ${dirs.join(', ')}\n  kafka: ${config.kafka.brokers.join(', ')}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (require.main === module) {
  process.exitCode = runConfigCli(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
}
