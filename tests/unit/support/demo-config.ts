// config/demo.yaml with placeholder settings (no server is contacted): the demo's pipes for pure tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@idsync/config';
import { compilePipe, type CompiledPipe } from '@idsync/mapping';

export const DEMO_ENV: Record<string, string> = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  AD_URL: 'ldaps://127.0.0.1:636',
  DS_URL: 'ldaps://127.0.0.1:636',
  AD_BASE_DN: 'DC=example,DC=test',
  DS_BASE_DN: 'dc=example,dc=com',
  AD_BIND_DN: 'CN=Administrator,CN=Users,DC=example,DC=test',
  AD_WRITER_BIND_DN: 'CN=idsync-writer,CN=Users,DC=example,DC=test',
  DS_BIND_DN: 'cn=Directory Manager',
  DS_WRITER_BIND_DN: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
  AD_BIND_PASSWORD: 'x',
  AD_WRITER_PASSWORD: 'x',
  DS_BIND_PASSWORD: 'x',
  DS_WRITER_PASSWORD: 'x',
  AD_CA_FILE: '/dev/null',
  DS_CA_FILE: '/dev/null',
  IDSYNC_PASSWORD_KEY_K1: Buffer.alloc(32, 1).toString('base64'),
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
};

const file = join(__dirname, '..', '..', '..', 'config', 'demo.yaml');
export const demoConfig = parseConfig(readFileSync(file, 'utf8'), file, DEMO_ENV);

export function demoPipe(name: string): CompiledPipe {
  const found = demoConfig.pipes.find((p) => p.name === name);
  if (!found) throw new Error(`demo.yaml has no pipe ${name}`);
  return compilePipe(found);
}
