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
  // In a session of its own: the server must outlive this test process (and any signal sent to its group).
  await run('setsid', ['bash', join(ROOT, 'scripts', 'stack.sh'), 'start', server], { timeout: 120_000 });
}

const DS_PIDFILE = '/run/dirsrv/slapd-idsync.pid';

/** Freezes 389-ds (SIGSTOP): it keeps accepting TCP connections in the kernel and answers nothing, like a hung server. */
export async function freezeDirectoryServer(): Promise<void> {
  await run('bash', ['-c', `kill -STOP "$(cat ${DS_PIDFILE})"`]);
}

export async function thawDirectoryServer(): Promise<void> {
  await run('bash', ['-c', `kill -CONT "$(cat ${DS_PIDFILE})"`]);
}

/** TCP sockets a process holds towards a port, in any state (connecting, established, closing). */
export async function socketsTo(pid: number, port: number): Promise<number> {
  const { stdout } = await run('ss', ['-Htanp', 'dport', '=', `:${port}`]);
  return stdout.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
}

const KAFKA_PIDFILE = '/var/lib/idsync-stack/kafka/kafka.pid';

/** Kills the Kafka broker (SIGKILL: no controlled shutdown, logs recovered at the next start) and waits until it is gone. */
export async function killKafka(): Promise<void> {
  await run('bash', ['-c', `pid="$(cat ${KAFKA_PIDFILE})"; kill -9 "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done`], { timeout: 30_000 });
}
