import { type CliCommand } from '../command';

// Placeholder until the command lands (not committed).
export const replayCommand: CliCommand = {
  name: 'replay',
  summary: '(in progress)',
  help: 'idsync replay: in progress\n',
  run: async () => 1,
};
