import { ConfigError, CONFIG_READERS, loadConfig, type ConfigReader, type Environment } from './loader';

const USAGE = `usage: validate-config validate <config.yaml> [--service <name>]
  Checks the file and the environment variables it refers to; connects nowhere.
  --service: check it as that program loads it: only the credentials it uses must be set
  (${CONFIG_READERS.join(', ')}); without it, every credential must be set.
`;

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** `validate <file> [--service <name>]`: exit 0 when valid, 1 when invalid (every problem listed), 2 on a usage error. */
export function runConfigCli(argv: readonly string[], env: Environment, io: CliOutput): number {
  const [command, file, ...rest] = argv;
  if (command === '--help' || command === '-h') {
    io.out(USAGE);
    return 0;
  }
  if (command !== 'validate' || !file || file.startsWith('--')) {
    io.err(`${command === undefined ? 'missing command' : command === 'validate' ? 'missing file' : `unknown command '${command}'`}\n${USAGE}`);
    return 2;
  }
  let reader: ConfigReader | undefined;
  if (rest.length > 0) {
    const [flag, name] = rest;
    if (flag !== '--service' || name === undefined || rest.length !== 2 || !(CONFIG_READERS as readonly string[]).includes(name)) {
      io.err(`${flag === '--service' ? `unknown service '${name ?? ''}'` : `unknown option '${flag ?? ''}'`}\n${USAGE}`);
      return 2;
    }
    reader = name as ConfigReader;
  }
  try {
    const { config, withheld } = loadConfig(env, file, { reader });
    const dirs = Object.entries(config.directories).map(([name, d]) => `${name} (${d.kind}, ${d.urls.join(' ')})`);
    const scope = reader === undefined ? '' : ` for ${reader}`;
    const unused = withheld.length === 0 ? '' : `  not set, not used by ${reader ?? 'it'}: ${withheld.join(', ')}\n`;
    io.out(`${file}: valid${scope}\n  directories: ${dirs.join(', ')}\n  kafka: ${config.kafka.brokers.join(', ')}\n${unused}`);
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
