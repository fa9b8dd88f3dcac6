import { type CliCommand } from '../command';

// Placeholder until the command lands (not committed).
export const setStartpointCommand: CliCommand = {
  name: 'set-startpoint',
  summary: '(in progress)',
  help: 'idsync set-startpoint: in progress\n',
  run: async () => 1,
};
