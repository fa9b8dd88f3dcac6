// config/demo.yaml with placeholder settings (no server is contacted): the demo's pipes for pure tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@idsync/config';
import { type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import { compilePipe, type CompiledPipe, mapChange } from '@idsync/mapping';

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
  KAFKA_CA_FILE: '/dev/null',
  ...Object.fromEntries(['AD_DETECTOR', 'DS_DETECTOR', 'MAPPER', 'AD_WRITER', 'DS_WRITER', 'PASSWORD_AGENT', 'CLI'].map((p) => [`KAFKA_${p}_PASSWORD`, `kafka-${p.toLowerCase()}`])),
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

/** An AD user's event as the ad-detector publishes it (fields override). */
export const adEvent = (fields: Partial<EntryChangeEvent>): EntryChangeEvent => ({
  eventId: 'ad:abc:0',
  source: { system: 'active-directory', directory: 'ad', server: 'ldaps://127.0.0.1:636', position: { kind: 'dirsync', cookieDigest: 'abc', index: 0 } },
  entryId: { kind: 'objectGUID', value: '8d3c6a52-0f5e-4d6b-9b1e-2f9a7c4d5e60' },
  op: 'add',
  dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
  attributes: [],
  initiator: null,
  changeTime: null,
  detectedAt: 0,
  after: null,
  before: null,
  ...fields,
});

/** A directory event as the ds-detector publishes it (fields override; DN and classes are adEvent's unless given). */
export const dsEvent = (fields: Partial<EntryChangeEvent>): EntryChangeEvent =>
  adEvent({
    eventId: 'ds:42',
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://127.0.0.1:3636', position: { kind: 'change-number', changeNumber: '42' } },
    entryId: { kind: 'entryUUID', value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001' },
    ...fields,
  });

/** The write requests an event maps to; a dropped event fails the test with its reason. */
export function requestsFor(event: EntryChangeEvent, pipe: CompiledPipe): WriteRequest[] {
  const result = mapChange(event, pipe);
  if (result.kind !== 'mapped') throw new Error(`dropped: ${result.reason} ${result.detail}`);
  return [...result.requests];
}
