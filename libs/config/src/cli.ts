#!/usr/bin/env node
import { ConfigError, loadConfig } from './loader';

/** `validate [file]`: checks a configuration file without connecting anywhere. Exit 0 valid, 1 invalid, 2 usage. */
function main(argv: readonly string[]): number {
  const [command, file] = argv;
  if (command === '--help' || command === '-h' || command === undefined) {
    process.stdout.write('usage: validate-config validate <config.yaml>\n  Checks the file and the environment variables it refers to; connects nowhere.\n');
    return command === undefined ? 2 : 0;
  }
  if (command !== 'validate' || !file) {
    process.stderr.write(`unknown command '${command}'; usage: validate-config validate <config.yaml>\n`);
    return 2;
  }
  try {
    const { config } = loadConfig(process.env, file);
    const dirs = Object.entries(config.directories).map(([name, d]) => `${name} (${d.kind}, ${d.urls.length} URL(s))`);
    process.stdout.write(`${file}: valid\n  directories: ${dirs.join(', ')}\n  kafka: ${config.kafka.brokers.join(', ')}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = main(process.argv.slice(2));
