import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { parseConfig, type SyncConfig } from '@idsync/config';
import { asKafkaAdmin, stackEnv } from './local-stack';

const ROOT = join(__dirname, '..', '..', '..');
const START_HINT = 'start the local stack with `npm run stack -- up` (or run the whole suite with `npm test`)';

export { parseStackEnv, stackEnv, stackEnvPath } from './local-stack';

/**
 * The demo configuration resolved against the local stack, as the services load it but for Kafka's account: code run
 * inside a test connects as the stack's Kafka administrator (its topics are the test's own, with no ACLs). The
 * services started as processes (e2e/pipeline.ts) connect with their own accounts and the run's ACLs.
 * `pipesFile` (relative to the repository) replaces its pipes section.
 */
export function stackConfig(options: { pipesFile?: string } = {}): SyncConfig {
  const file = join(ROOT, 'config', 'demo.yaml');
  const env = stackEnv();
  return asKafkaAdmin(parseConfig(withPipes(readFileSync(file, 'utf8'), options.pipesFile), file, env), env);
}

/** Configuration text with its `pipes:` section replaced by the one in `pipesFile`. */
export function withPipes(text: string, pipesFile?: string): string {
  if (!pipesFile) return text;
  const start = text.indexOf('\npipes:');
  return `${start < 0 ? text : text.slice(0, start)}\n${readFileSync(join(ROOT, pipesFile), 'utf8')}`;
}

/** Fails, with how to start it, when nothing listens on a server's port. */
export async function requireServer(what: string, host: string, port: number, timeoutMs = 2_000): Promise<void> {
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
  if (!reachable) throw new Error(`${what} is not reachable at ${host}:${port}: ${START_HINT}`);
}

export function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url.includes('://') ? url : `tcp://${url}`);
  const fallback = parsed.protocol === 'ldaps:' ? 636 : 389;
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : fallback };
}

/** A short unique suffix, so test entries and topics never collide between runs. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Kafka, Samba AD and 389-ds of the configuration must answer; otherwise the test fails saying how to start them. */
export async function requireStackServers(config: SyncConfig): Promise<void> {
  for (const [what, url] of [
    ['Kafka', config.kafka.brokers[0] ?? ''],
    ['Samba AD', config.directories['ad']?.urls[0] ?? ''],
    ['389-ds', config.directories['ds']?.urls[0] ?? ''],
  ] as const) {
    const { host, port } = hostPort(url);
    await requireServer(what, host, port);
  }
}
