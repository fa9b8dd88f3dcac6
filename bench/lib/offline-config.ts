// config/demo.yaml parsed without the local stack: every variable it names set to a placeholder (for benches that map
// or route events in-process and never connect).
import { readFileSync } from 'node:fs';
import { parseConfig } from '@idsync/config';

export const OFFLINE_ENV = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  AD_URL: 'ldaps://127.0.0.1:636',
  AD_BASE_DN: 'DC=example,DC=test',
  AD_BIND_DN: 'CN=Administrator,CN=Users,DC=example,DC=test',
  AD_BIND_PASSWORD: 'bench',
  AD_WRITER_BIND_DN: 'CN=idsync-writer,CN=Users,DC=example,DC=test',
  AD_WRITER_PASSWORD: 'bench',
  AD_CA_FILE: '/dev/null',
  DS_URL: 'ldaps://127.0.0.1:3636',
  DS_BASE_DN: 'dc=example,dc=com',
  DS_BIND_DN: 'cn=Directory Manager',
  DS_BIND_PASSWORD: 'bench',
  DS_WRITER_BIND_DN: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
  DS_WRITER_PASSWORD: 'bench',
  DS_CA_FILE: '/dev/null',
  KAFKA_CA_FILE: '/dev/null',
  ...Object.fromEntries(['AD_DETECTOR', 'DS_DETECTOR', 'MAPPER', 'AD_WRITER', 'DS_WRITER', 'PASSWORD_AGENT', 'CLI'].map((who) => [`KAFKA_${who}_PASSWORD`, 'bench'])),
  IDSYNC_PASSWORD_KEY_K1: Buffer.alloc(32, 1).toString('base64'),
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
};

/** The demo configuration as the services would load it, with OFFLINE_ENV's placeholders. */
export function offlineDemoConfig(): ReturnType<typeof parseConfig> {
  return parseConfig(readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8'), 'config/demo.yaml', OFFLINE_ENV);
}
