import { type CliCommand } from '../command';

// Placeholder until the command lands (not committed).
export const resyncCommand: CliCommand = {
  name: 'resync',
  summary: '(in progress)',
  help: 'idsync resync: in progress\n',
  run: async () => 1,
};
