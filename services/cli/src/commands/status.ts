import { type CliCommand } from '../command';

// Placeholder until the command lands (not committed).
export const statusCommand: CliCommand = {
  name: 'status',
  summary: '(in progress)',
  help: 'idsync status: in progress\n',
  run: async () => 1,
};
