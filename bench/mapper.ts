/**
 * Mapper throughput on one core, pure (no Kafka, no servers): decode -> mapChange (demo pipes) -> encode, over a
 * realistic mix of AD and directory events (user adds, attribute modifies, group member changes, deletes),
 * and the same run's bare decode + encode (the events re-encoded) for comparison. Goal: >= 20,000 mapped events/s.
 *   npm run bench -- mapper [events]
 */
import { decodeEntryChange, encodeEntryChange, encodeWriteRequest, type AttributeChange, type EntryChangeEvent } from '@idsync/contracts';
import { compilePipe, mapChange, MappingError } from '@idsync/mapping';
import { offlineDemoConfig } from './lib/offline-config.ts';

const TOTAL = Number(process.argv[2] ?? 200_000);
const config = offlineDemoConfig();
const pipesBySource = new Map<string, ReturnType<typeof compilePipe>[]>();
for (const pipe of config.pipes) pipesBySource.set(pipe.source, [...(pipesBySource.get(pipe.source) ?? []), compilePipe(pipe)]);

const rep = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const guid = (n: number) => `${hex(n, 8)}-7a2d-4c1b-9e8f-${hex(n * 7919, 12)}`;
const OUS = ['Sales', 'Engineering'];

function adEvent(n: number): EntryChangeEvent {
  const user = n % 5000;
  const ou = OUS[user % 2] ?? 'Sales';
  const dn = `CN=User ${user},OU=${ou},OU=Corp,DC=example,DC=test`;
  const base = {
    eventId: `ad:dirsync:bench:${n}`,
    source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1.example.test:636', position: { kind: 'dirsync', cookieDigest: 'sha256:00ff', index: n } },
    entryId: { kind: 'objectGUID', value: guid(user) },
    previousDn: null,
    objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
    initiator: null,
    changeTime: 1_704_164_645_000 + n,
    detectedAt: 1_704_164_646_000 + n,
    after: null,
    before: null,
  } as const;
  switch (n % 10) {
    case 0:
    case 1:
    case 2: // user add
      return {
        ...base,
        op: 'add',
        dn,
        attributes: [
          rep('sAMAccountName', `user${user}`),
          rep('givenName', 'User'),
          rep('sn', String(user)),
          rep('cn', `User ${user}`),
          rep('mail', `user${user}@example.test`),
          rep('description', `${ou}, EMEA`),
          rep('telephoneNumber', '+1 555 0100'),
          rep('userAccountControl', user % 7 === 0 ? '514' : '512'),
          rep('accountExpires', user % 3 === 0 ? '134458272000000000' : '9223372036854775807'),
          rep('pwdLastSet', '0'),
        ],
      };
    case 3:
    case 4:
    case 5:
    case 6: // attribute modifies
      return { ...base, op: 'modify', dn, attributes: [rep('sAMAccountName', `user${user}`), rep('mail', `u${user}.${n}@example.test`), rep('description', `changed ${n}`)] };
    case 7:
    case 8: // group member changes (AD: member DNs cannot map to uid= DNs; the description does)
      return {
        ...base,
        entryId: { kind: 'objectGUID', value: guid(100_000 + (n % 50)) },
        op: 'modify',
        dn: `CN=Group ${n % 50},OU=Groups,OU=Corp,DC=example,DC=test`,
        objectClasses: ['top', 'group'],
        attributes: [{ name: 'member', op: 'add', values: [dn] }, rep('description', `group change ${n}`)],
      };
    default: // delete
      return { ...base, op: 'delete', dn, attributes: [rep('sAMAccountName', `user${user}`)] };
  }
}

function dsEvent(n: number): EntryChangeEvent {
  const user = n % 5000;
  const dn = `cn=Person ${user},ou=Support,ou=Corp,dc=example,dc=com`;
  const base = {
    eventId: `ds:changelog:${n}`,
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds1.example.com:636', position: { kind: 'change-number', changeNumber: String(n) } },
    entryId: { kind: 'entryUUID', value: guid(200_000 + user) },
    previousDn: null,
    objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    initiator: 'cn=Directory Manager',
    changeTime: 1_704_164_645_000 + n,
    detectedAt: 1_704_164_646_000 + n,
    after: null,
    before: null,
  } as const;
  switch (n % 10) {
    case 0:
    case 1:
    case 2:
      return {
        ...base,
        op: 'add',
        dn,
        attributes: [rep('uid', `person${user}`), rep('givenName', 'Person'), rep('sn', String(user)), rep('cn', `Person ${user}`), rep('mail', `person${user}@example.com`)],
      };
    case 3:
    case 4:
    case 5:
    case 6:
      return { ...base, op: 'modify', dn, attributes: [rep('mail', `p${user}.${n}@example.com`), rep('description', `changed ${n}`)] };
    case 7:
    case 8:
      return {
        ...base,
        entryId: { kind: 'entryUUID', value: guid(300_000 + (n % 50)) },
        op: 'modify',
        dn: `cn=Team ${n % 50},ou=Groups,ou=Corp,dc=example,dc=com`,
        objectClasses: ['top', 'groupOfNames'],
        attributes: [
          { name: 'member', op: 'add', values: [dn] },
          { name: 'member', op: 'delete', values: [`cn=Person ${(user + 1) % 5000},ou=Support,ou=Corp,dc=example,dc=com`] },
        ],
      };
    default:
      return { ...base, op: 'delete', dn, attributes: [] };
  }
}

// 60 % AD, 40 % directory; encoded up front, as they sit on the change topics.
const DISTINCT = 20_000;
const records: Buffer[] = [];
for (let n = 0; n < DISTINCT; n++) records.push(encodeEntryChange(n % 5 < 3 ? adEvent(n) : dsEvent(n)));

function mapAll(count: number) {
  let requests = 0;
  let dropped = 0;
  let failed = 0;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const event = decodeEntryChange(records[i % DISTINCT] ?? null);
    for (const pipe of pipesBySource.get(event.source.directory) ?? []) {
      try {
        const result = mapChange(event, pipe);
        if (result.kind === 'dropped') {
          dropped++;
          continue;
        }
        for (const request of result.requests) {
          bytes += encodeWriteRequest(request).length;
          requests++;
        }
      } catch (error) {
        if (!(error instanceof MappingError)) throw error;
        failed++;
      }
    }
  }
  return { requests, dropped, failed, bytes };
}

function bare(count: number) {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += encodeEntryChange(decodeEntryChange(records[i % DISTINCT] ?? null)).length;
  return bytes;
}

function time<T>(work: () => T): { ms: number; result: T } {
  const started = process.hrtime.bigint();
  const result = work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

mapAll(20_000); // warm-up
bare(20_000);
const mapped = time(() => mapAll(TOTAL));
const heapMapped = process.memoryUsage().heapUsed;
const plain = time(() => bare(TOTAL));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const line = (what: string, ms: number) =>
  `${what.padEnd(34)} ${Math.round((TOTAL / ms) * 1000)
    .toLocaleString('en-US')
    .padStart(9)} events/s  ${((ms * 1000) / TOTAL).toFixed(2).padStart(6)} µs/event`;

console.log(
  `mapper bench: ${TOTAL.toLocaleString('en-US')} events (60 % AD, 40 % directory: adds 30 %, modifies 40 %, group member changes 20 %, deletes 10 %), pipes: ${config.pipes.map((p) => p.name).join(', ')}, Node ${process.version}`,
);
console.log(line('decode -> mapChange -> encode', mapped.ms));
console.log(line('bare decode -> encode', plain.ms));
console.log(
  `write requests ${mapped.result.requests.toLocaleString('en-US')} (${mb(mapped.result.bytes)}), dropped ${mapped.result.dropped.toLocaleString('en-US')}, mapping errors ${mapped.result.failed}`,
);
console.log(`heap used after the mapped run ${mb(heapMapped)}, now ${mb(process.memoryUsage().heapUsed)}, rss ${mb(process.memoryUsage().rss)}`);
console.log(`goal >= 20,000 mapped events/s: ${(TOTAL / mapped.ms) * 1000 >= 20_000 ? 'met' : 'NOT met'}`);
