// What the tests and the benchmarks both need from the local stack: its settings, Kafka as its administrator, free
// ports. Node built-ins only and erasable syntax, so the benchmarks run it as it is (node strips the types).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { SyncConfig } from '@idsync/config';

const START_HINT = 'start the local stack with `npm run stack -- up` (or run the whole suite with `npm test`)';

/** The generated connection file of the local stack (`npm run stack -- env` prints its path). */
export function stackEnvPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['IDSYNC_STACK_DIR'] ?? '/var/lib/idsync-stack', 'stack.env');
}

/** Parses KEY='value' lines as written by scripts/stack.sh. */
export function parseStackEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) out[match[1]] = match[2];
  }
  return out;
}

/** The local stack's settings (stack.env), as the services read them from their environment. */
export function stackEnv(): Record<string, string> {
  const path = stackEnvPath();
  try {
    return parseStackEnv(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`the local stack's settings file ${path} is missing: ${START_HINT}`);
  }
}

/** The stack's Kafka administrator (no service has this account). */
function kafkaAdmin(env: Readonly<Record<string, string>>): { username: string; password: string } {
  const username = env['IDSYNC_KAFKA_ADMIN_USERNAME'];
  const password = env['IDSYNC_KAFKA_ADMIN_PASSWORD'];
  if (!username || !password) throw new Error(`the local stack's settings have no Kafka administrator (IDSYNC_KAFKA_ADMIN_*): ${START_HINT}`);
  return { username, password };
}

/**
 * `config` connecting to Kafka as the stack's administrator: code a test or a benchmark runs in its own process, on
 * its own topics, which have no ACLs. Services started as processes keep their own accounts.
 */
export function asKafkaAdmin(config: SyncConfig, env: Readonly<Record<string, string>> = stackEnv()): SyncConfig {
  return { ...config, kafka: { ...config.kafka, sasl: { mechanism: 'scram-sha-512', ...kafkaAdmin(env) } } };
}

/** kafkajs settings for the stack's Kafka as its administrator: brokers, TLS with the stack's CA, SCRAM. */
export function stackKafkaOptions(env: Readonly<Record<string, string>> = stackEnv()): {
  brokers: string[];
  ssl: { ca: string[] };
  sasl: { mechanism: 'scram-sha-512'; username: string; password: string };
} {
  const caFile = env['KAFKA_CA_FILE'];
  if (!caFile) throw new Error(`the local stack's settings have no Kafka CA (KAFKA_CA_FILE): ${START_HINT}`);
  return {
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
    ssl: { ca: [readFileSync(caFile, 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', ...kafkaAdmin(env) },
  };
}

/** Ports handed out by this process: the OS may offer a probed port again once its probe socket is closed. */
const givenPorts = new Set<number>();

/** A free loopback port not handed out before in this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probePort();
    if (givenPorts.has(port)) continue;
    givenPorts.add(port);
    return port;
  }
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
