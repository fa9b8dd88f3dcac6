import { type CliCommand } from '../command';

// Placeholder until the command lands (not committed).
export const dlqCommand: CliCommand = {
  name: 'dlq',
  summary: '(in progress)',
  help: 'idsync dlq: in progress\n',
  run: async () => 1,
};
