#!/usr/bin/env node
import { runCli } from './cli';
import { processIo } from './io';

// kafkajs sets negative timeouts on Node 24 (harmless, clamped to 1 ms); keep the operator's stderr for what matters.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') process.stderr.write(`idsync: ${warning.name}: ${warning.message}\n`);
});

runCli(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`idsync: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
