import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@idsync/config';
import { decodeWriteRequest, encodeEntryChange, type EntryChangeEvent, LEAVE_SCOPE_HEADER, SNAPSHOT_HEADER } from '@idsync/contracts';
import { RecordMapper } from './record-mapper';

const ENV = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  AD_URL: 'ldaps://127.0.0.1:636',
  AD_BASE_DN: 'DC=example,DC=test',
  AD_BIND_DN: 'CN=a,DC=example,DC=test',
  AD_BIND_PASSWORD: 'x',
  AD_WRITER_BIND_DN: 'CN=w,DC=example,DC=test',
  AD_WRITER_PASSWORD: 'x',
  AD_CA_FILE: '/dev/null',
  DS_URL: 'ldaps://127.0.0.1:3636',
  DS_BASE_DN: 'dc=example,dc=com',
  DS_BIND_DN: 'cn=Directory Manager',
  DS_BIND_PASSWORD: 'x',
  DS_WRITER_BIND_DN: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
  DS_WRITER_PASSWORD: 'x',
  DS_CA_FILE: '/dev/null',
  IDSYNC_PASSWORD_KEY_K1: Buffer.alloc(32, 1).toString('base64'),
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
  KAFKA_CA_FILE: '/dev/null',
  ...Object.fromEntries(['AD_DETECTOR', 'DS_DETECTOR', 'MAPPER', 'AD_WRITER', 'DS_WRITER', 'PASSWORD_AGENT', 'CLI'].map((p) => [`KAFKA_${p}_PASSWORD`, 'x'])),
};
const ROOT = join(__dirname, '..', '..', '..');
const file = join(ROOT, 'config', 'demo.yaml');
const demo = readFileSync(file, 'utf8');
// The uid-renaming pipes of tests/fixtures (the demo's own pipes mirror the trees; see tests/unit/demo-pipes.spec.ts).
const text = `${demo.slice(0, demo.indexOf('\npipes:'))}\n${readFileSync(join(ROOT, 'tests', 'fixtures', 'uid-pipes.yaml'), 'utf8')}`;
const config = parseConfig(text, file, ENV);
const mapper = new RecordMapper(config);

const event = (fields: Partial<EntryChangeEvent>): EntryChangeEvent => ({
  eventId: 'ds:changelog:7',
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://127.0.0.1:3636', position: { kind: 'change-number', changeNumber: '7' } },
  entryId: { kind: 'entryUUID', value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001' },
  op: 'modify',
  dn: 'uid=mmiller,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [{ name: 'mail', op: 'replace', values: ['mary@example.com'] }],
  initiator: 'cn=Directory Manager',
  changeTime: null,
  detectedAt: 1_700_000_000_000,
  after: null,
  before: null,
  ...fields,
});

describe('RecordMapper with uid-renaming pipes', () => {
  it('routes a directory change to the AD operations topic, keyed by the entry id', () => {
    const result = mapper.map(encodeEntryChange(event({})));
    if (result.kind !== 'mapped') throw new Error(result.reason);
    expect(result.records.map((r) => [r.topic, r.key])).toEqual([[config.kafka.topics.adOperations.name, '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001']]);
    expect(decodeWriteRequest(result.records[0]?.value ?? null)).toMatchObject({ op: 'modify', dn: 'CN=mmiller,OU=Corp,DC=example,DC=test' });
  });

  it('gives the same bytes for the same record (no clock, no random id)', () => {
    const record = encodeEntryChange(event({}));
    const first = mapper.map(record);
    const second = mapper.map(Buffer.from(record));
    expect(second).toEqual(first);
  });

  it('dead-letters an undecodable record with the decoder’s reason', () => {
    expect(mapper.map(Buffer.from('hello'))).toEqual({ kind: 'dead-letter', reason: expect.stringMatching(/^undecodable entry-change record \(magic-byte\)/), code: 'undecodable' });
  });

  it("marks the delete of an entry moved out of the pipe's scope for the writer (link only), and counts the move", () => {
    const moved = mapper.map(encodeEntryChange(event({ op: 'rename', dn: 'uid=mmiller,ou=Leavers,dc=example,dc=com', previousDn: 'uid=mmiller,ou=People,dc=example,dc=com', attributes: [] })));
    if (moved.kind !== 'mapped') throw new Error(moved.reason);
    expect(moved.scopeChanges).toEqual([{ pipe: 'ds-to-ad', change: 'left' }]);
    const deletes = moved.records.filter((r) => decodeWriteRequest(r.value).op === 'delete');
    expect(deletes).toHaveLength(1);
    expect(deletes[0]?.headers).toEqual({ [LEAVE_SCOPE_HEADER]: 'delete' });
    expect(moved.records.filter((r) => r.headers === undefined).map((r) => decodeWriteRequest(r.value).op)).toEqual(moved.records.length > 1 ? ['unlink'] : []);
  });

  it("marks the delete of an entry a modify took out of the pipe's scope the same way", () => {
    const person = ['top', 'person', 'organizationalPerson'];
    const modified = mapper.map(
      encodeEntryChange(
        event({
          objectClasses: person,
          attributes: [{ name: 'objectClass', op: 'delete', values: ['inetOrgPerson'] }],
          after: [{ name: 'objectClass', values: person }],
        }),
      ),
    );
    if (modified.kind !== 'mapped') throw new Error(modified.reason);
    expect(modified.scopeChanges).toEqual([{ pipe: 'ds-to-ad', change: 'left' }]);
    expect(modified.records.map((r) => [decodeWriteRequest(r.value).op, r.headers])).toEqual([
      ['delete', { [LEAVE_SCOPE_HEADER]: 'delete' }],
      ['unlink', undefined],
    ]);
  });

  it('marks the upsert of a full read (a snapshot) so the writer may move the linked entry to its DN; an add is not marked', () => {
    const full = {
      attributes: [
        { name: 'uid', op: 'replace' as const, values: ['mmiller'] },
        { name: 'cn', op: 'replace' as const, values: ['Mary Miller'] },
        { name: 'sn', op: 'replace' as const, values: ['Miller'] },
      ],
    };
    const snapshot = mapper.map(encodeEntryChange(event({ op: 'snapshot', ...full })));
    const add = mapper.map(encodeEntryChange(event({ op: 'add', ...full })));
    if (snapshot.kind !== 'mapped' || add.kind !== 'mapped') throw new Error('not mapped');
    expect(snapshot.records.map((r) => r.headers)).toEqual([{ [SNAPSHOT_HEADER]: 'true' }]);
    expect(add.records.map((r) => r.headers)).toEqual([undefined]);
  });

  it("marks the upsert of an entry a modify brought into the pipe's scope like the snapshot of one renamed into it", () => {
    const person = ['top', 'person', 'organizationalPerson', 'inetOrgPerson'];
    const replace = (name: string, ...values: string[]) => ({ name, op: 'replace' as const, values });
    const entry = [replace('uid', 'mmiller'), replace('givenName', 'Mary'), replace('sn', 'Miller'), replace('mail', 'mary@example.com')];
    // Renamed in: the rename names no previous DN, and the detector's read of the entry right after it creates it.
    const renamed = mapper.map(encodeEntryChange(event({ op: 'rename', previousDn: 'uid=mmiller,ou=Leavers,dc=example,dc=com', objectClasses: person, attributes: [] })));
    const snapshot = mapper.map(encodeEntryChange(event({ eventId: 'ds:changelog:7:entered', op: 'snapshot', objectClasses: person, attributes: entry })));
    // Modified in: the class's object class given back, the entry whole in the after-image.
    const modified = mapper.map(
      encodeEntryChange(
        event({
          eventId: 'ds:changelog:8',
          objectClasses: person,
          attributes: [{ name: 'objectClass', op: 'add', values: ['inetOrgPerson'] }],
          after: [{ name: 'objectClass', values: person }, ...entry.map(({ name, values }) => ({ name, values })), { name: 'description', values: [] }, { name: 'member', values: [] }],
        }),
      ),
    );
    if (renamed.kind !== 'mapped' || snapshot.kind !== 'mapped' || modified.kind !== 'mapped') throw new Error('not mapped');
    expect(renamed.scopeChanges).toEqual([{ pipe: 'ds-to-ad', change: 'entered' }]);
    expect(renamed.records.map((r) => [decodeWriteRequest(r.value).op, r.headers])).toEqual([['rename', undefined]]);
    expect(modified.scopeChanges).toEqual([{ pipe: 'ds-to-ad', change: 'entered' }]);
    expect(modified.records.map((r) => [decodeWriteRequest(r.value).op, r.headers])).toEqual([['upsert', { [SNAPSHOT_HEADER]: 'true' }]]);
    expect(modified.records.map((r) => r.headers)).toEqual(snapshot.records.map((r) => r.headers));
    const written = (mapping: typeof modified) =>
      mapping.records.map((r) => decodeWriteRequest(r.value)).map(({ op, dn, previousDn, objectClasses, attributes }) => ({ op, dn, previousDn, objectClasses, attributes }));
    expect(written(modified)).toEqual(written(snapshot));
  });

  it('maps a record addressed to one pipe (a resync) with that pipe only', () => {
    const addressed = mapper.map(encodeEntryChange(event({})), 'ds-to-ad');
    expect(addressed).toMatchObject({ kind: 'mapped', requests: [{ pipe: 'ds-to-ad' }] });
    const elsewhere = mapper.map(encodeEntryChange(event({})), 'ad-to-ds');
    expect(elsewhere).toMatchObject({ kind: 'mapped', records: [], drops: [{ pipe: 'ad-to-ds', reason: 'no-pipe' }] });
  });

  it('counts an event from a directory no pipe reads as dropped (no-pipe)', () => {
    const result = mapper.map(encodeEntryChange(event({ source: { system: 'ldap', directory: 'other', server: 'ldaps://x', position: { kind: 'change-number', changeNumber: '1' } } })));
    expect(result).toMatchObject({ kind: 'mapped', records: [], drops: [{ pipe: 'none', reason: 'no-pipe' }] });
  });

  it('drops the ds-writer’s own changes (ignored-initiator)', () => {
    const result = mapper.map(encodeEntryChange(event({ initiator: 'uid=idsync-writer,ou=Services,dc=example,dc=com' })));
    expect(result).toMatchObject({ kind: 'mapped', records: [], drops: [{ pipe: 'ds-to-ad', reason: 'ignored-initiator' }] });
  });
});
