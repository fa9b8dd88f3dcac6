import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');

export type StackServer = 'kafka' | 'samba' | 'ds';

/** Stops one server of the local stack (its data stays): `npm run stack -- stop <server>`. */
export async function stopServer(server: StackServer): Promise<void> {
  await run('bash', [join(ROOT, 'scripts', 'stack.sh'), 'stop', server], { timeout: 60_000 });
}

/** Starts it again and waits until it listens: `npm run stack -- start <server>`. */
export async function startServer(server: StackServer): Promise<void> {
  await run('bash', [join(ROOT, 'scripts', 'stack.sh'), 'start', server], { timeout: 120_000 });
}
