import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEntryChange, encodeEntryChange } from '@idsync/contracts';
import { ChangeNumber } from './change-number';
import {
  EntryIdUnknownError,
  MalformedChangelogEntryError,
  dnAfterModRdn,
  parseChangelogEntry,
  parseGeneralizedTime,
  readChangelogRecord,
  toEntryChangeEvent,
  type RawChangelogEntry,
} from './changelog-entry';

/** Real cn=changelog entries from the local 389-ds, as ldapts returned them (see __fixtures__/README.md). */
const FIXTURES = join(__dirname, '__fixtures__');
const fixture = (name: string): RawChangelogEntry => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as RawChangelogEntry;
const context = { directory: 'ds', server: 'ldaps://127.0.0.1:3636', detectedAt: 1_800_000_000_000 };
const add = fixture('add-user');
const uuid = String(add['targetuniqueid']);
const userDn = String(add['targetDn']);
const uid = /^uid=([^,]+),/.exec(userDn)?.[1] ?? '';
const people = userDn.slice(userDn.indexOf(',') + 1);
const names = (event: { attributes: readonly { name: string }[] }): string[] => event.attributes.map((a) => a.name.toLowerCase());

describe('parseChangelogEntry on entries captured from 389-ds', () => {
  it('turns an add into every attribute as replace, with object classes, entryUUID identity and a deterministic id', () => {
    const event = parseChangelogEntry(add, context);
    expect(event.op).toBe('add');
    expect(event.eventId).toBe(`ds:${String(add['changeNumber'])}`);
    expect(event.source).toEqual({ system: 'ldap', directory: 'ds', server: context.server, position: { kind: 'change-number', changeNumber: String(add['changeNumber']) } });
    expect(event.entryId).toEqual({ kind: 'entryUUID', value: uuid });
    expect(event.dn).toBe(userDn);
    expect(event.previousDn).toBeNull();
    expect(event.objectClasses).toEqual(['top', 'person', 'organizationalPerson', 'inetOrgPerson']);
    expect(event.attributes).toContainEqual({ name: 'mail', op: 'replace', values: [`${uid}@example.com`, `${uid}.alt@example.com`] });
    expect(event.attributes).toContainEqual({ name: 'cn', op: 'replace', values: ['Fixture User'] });
    expect(event.attributes.every((a) => a.op === 'replace')).toBe(true);
    expect(event.initiator).toBe('cn=directory manager');
    expect(event.changeTime).toBe(parseGeneralizedTime(String(add['changeTime'])));
    expect(event.detectedAt).toBe(context.detectedAt);
  });

  it('leaves out the operational attributes 389-ds copies into an add', () => {
    const event = parseChangelogEntry(add, context);
    for (const noise of ['creatorsname', 'modifiersname', 'createtimestamp', 'modifytimestamp', 'entryid', 'parentid', 'entryuuid', 'dsentrydn', 'nsuniqueid']) {
      expect(names(event)).not.toContain(noise);
    }
    expect(names(event)).toEqual(['objectclass', 'uid', 'cn', 'sn', 'mail', 'userpassword']);
  });

  it('lets a userPassword hash pass as a value', () => {
    const event = parseChangelogEntry(add, context);
    expect(event.attributes.find((a) => a.name === 'userPassword')?.values).toEqual(['{PBKDF2-SHA512}dummy-hash']);
  });

  it('turns a modify into value-level add, delete and replace, with base64, folded and binary values decoded', () => {
    const event = parseChangelogEntry(fixture('modify-multi'), context);
    expect(event.op).toBe('modify');
    expect(event.objectClasses).toEqual([]);
    expect(event.attributes).toEqual([
      { name: 'description', op: 'replace', values: [`Ünïcode déscription ${'long '.repeat(30)}`] },
      { name: 'mail', op: 'add', values: [`${uid}.third@example.com`] },
      { name: 'mail', op: 'delete', values: [`${uid}.alt@example.com`] },
      { name: 'telephoneNumber', op: 'replace', values: ['+1 555 0100', '+1 555 0101'] },
      { name: 'jpegPhoto', op: 'add', values: [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x80, 0xfe])] },
    ]);
  });

  it('reads a single-valued replace and drops the modifiersName/modifyTimestamp bookkeeping', () => {
    expect(parseChangelogEntry(fixture('modify-single'), context).attributes).toEqual([{ name: 'title', op: 'replace', values: ['Engineer'] }]);
  });

  it('reports group member adds and removes as value deltas, not whole lists', () => {
    const group = fixture('add-group');
    const added = parseChangelogEntry(fixture('group-member-add'), context);
    const removed = parseChangelogEntry(fixture('group-member-remove'), context);
    expect(added.entryId.value).toBe(String(group['targetuniqueid']));
    expect(added.attributes).toEqual([{ name: 'member', op: 'add', values: [userDn] }]);
    expect(removed.attributes).toEqual([{ name: 'member', op: 'delete', values: [`uid=mmiller,${people}`] }]);
  });

  it('excludes the clear-text password 389-ds records for a password change, and counts it', () => {
    const entry = fixture('password-change');
    const record = readChangelogRecord(entry);
    expect(record.passwordValuesExcluded).toBe(1);
    const event = toEntryChangeEvent(record, context);
    expect(names(event)).toEqual(['userpassword']);
    expect(JSON.stringify(encodeEntryChange(event).toString('latin1'))).not.toContain('dummy-clear-password');
    expect(JSON.stringify(event)).not.toContain('unhashed');
  });

  it('leaves nothing of 389-ds password-policy bookkeeping (passwordGraceUserTime)', () => {
    expect(parseChangelogEntry(fixture('password-policy-update'), context).attributes).toEqual([]);
  });

  it('computes the new DN of a rename, keeps the old one, and reports the naming value change', () => {
    const event = parseChangelogEntry(fixture('modrdn-rename'), context);
    expect(event.op).toBe('rename');
    expect(event.previousDn).toBe(userDn);
    expect(event.dn).toBe(`uid=${uid}-renamed,${people}`);
    expect(event.entryId.value).toBe(uuid);
    expect(event.attributes).toEqual([
      { name: 'uid', op: 'delete', values: [uid] },
      { name: 'uid', op: 'add', values: [`${uid}-renamed`] },
    ]);
  });

  it('computes the new DN of a move under newSuperior, with no naming value change', () => {
    const event = parseChangelogEntry(fixture('modrdn-move'), context);
    expect(event.op).toBe('rename');
    expect(event.previousDn).toBe(`uid=${uid}-renamed,${people}`);
    expect(event.dn).toBe(`uid=${uid}-renamed,ou=${uid},${people}`);
    expect(event.attributes).toEqual([]);
  });

  it('turns a delete into an event keyed by entryUUID with the last DN and the deleted entry’s classes, and no initiator', () => {
    const event = parseChangelogEntry(fixture('delete-user'), context);
    expect(event.op).toBe('delete');
    expect(event.entryId.value).toBe(uuid);
    expect(event.dn).toBe(`uid=${uid}-renamed,ou=${uid},${people}`);
    expect(event.objectClasses).toEqual(['top', 'person', 'organizationalPerson', 'inetOrgPerson']);
    expect(event.attributes).toEqual([]);
    // 389-ds copies the entry's last modifiersName into changeInitiatorsName for deletes: not who deleted it.
    expect(event.initiator).toBeNull();
  });

  it("keeps the deleted entry's recorded attributes as its last state, without operational or password attributes", () => {
    const record = readChangelogRecord(fixture('delete-user'));
    const names = (record.lastState ?? []).map((attribute) => attribute.name.toLowerCase());
    expect(names).toEqual(expect.arrayContaining(['objectclass', 'cn', 'sn', 'mail']));
    expect(names.filter((name) => ['userpassword', 'unhashed#user#password', 'modifiersname', 'entryid', 'nsuniqueid'].includes(name))).toEqual([]);
    expect(readChangelogRecord(fixture('modrdn-move')).lastState).toBeNull();
  });

  it('gives every captured fixture an event that survives the Avro codec unchanged', () => {
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
      const event = parseChangelogEntry(fixture(file.replace(/\.json$/, '')), context);
      expect(decodeEntryChange(encodeEntryChange(event))).toEqual(event);
    }
  });
});

describe('changelog entries in other spellings and shapes', () => {
  const minimal = (fields: Record<string, string | Buffer>): RawChangelogEntry => ({
    changenumber: '7',
    targetdn: 'uid=a,ou=People,dc=example,dc=com',
    changetype: 'modify',
    changes: 'replace: sn\nsn: A\n-\n',
    ...fields,
  });

  it('reads attribute names in any case and changes given as bytes', () => {
    const event = parseChangelogEntry(
      { CHANGENUMBER: '8', TargetDN: 'uid=a,dc=example,dc=com', ChangeType: 'MODIFY', CHANGES: Buffer.from('add: cn\ncn: x\n-\n\0'), TARGETUNIQUEID: 'AABBCCDD-EEFF-0011-2233-445566778899' },
      context,
    );
    expect(event.entryId).toEqual({ kind: 'entryUUID', value: 'aabbccdd-eeff-0011-2233-445566778899' });
    expect(event.attributes).toEqual([{ name: 'cn', op: 'add', values: ['x'] }]);
  });

  it('needs the entryUUID from a re-fetch when the server did not record targetUniqueId, and says so when it is unknown', () => {
    const record = readChangelogRecord(minimal({}));
    expect(record.entryUuid).toBeNull();
    expect(() => toEntryChangeEvent(record, context)).toThrow(EntryIdUnknownError);
    expect(toEntryChangeEvent(record, context, { entryUuid: '00112233445566778899AABBCCDDEEFF', objectClasses: ['person'] })).toMatchObject({
      entryId: { kind: 'entryUUID', value: '00112233-4455-6677-8899-aabbccddeeff' },
      objectClasses: ['person'],
    });
  });

  it.each([
    ['no changeNumber', { changenumber: '' }],
    ['an unknown changeType', { changetype: 'merge' }],
    ['a broken targetDn', { targetdn: 'not a dn' }],
    ['broken LDIF', { changes: 'sn: A\n' }],
    ['a bad targetUniqueId', { targetuniqueid: 'xyz' }],
    ['a bad changeTime', { changetime: 'yesterday' }],
    ['a modrdn without newRdn', { changetype: 'modrdn' }],
  ])('refuses an entry with %s, naming its change number', (_what, fields) => {
    expect(() => readChangelogRecord(minimal(fields))).toThrow(MalformedChangelogEntryError);
  });

  it('builds modrdn DNs with the DN functions, escaping intact', () => {
    expect(dnAfterModRdn('cn=Smith\\, John,ou=People,dc=example,dc=com', 'cn=Smith\\, Jane', null)).toBe('cn=Smith\\, Jane,ou=People,dc=example,dc=com');
    expect(dnAfterModRdn('cn=a,ou=A,dc=x', 'cn=a', 'ou=B + l=x,dc=x')).toBe('cn=a,ou=B+l=x,dc=x');
  });

  it('parses generalized time with fractions and offsets', () => {
    expect(parseGeneralizedTime('20261125183926Z')).toBe(Date.UTC(2026, 10, 25, 18, 39, 26));
    expect(parseGeneralizedTime('20261125183926.5Z')).toBe(Date.UTC(2026, 10, 25, 18, 39, 26, 500));
    expect(parseGeneralizedTime('20261125203926+0200')).toBe(Date.UTC(2026, 10, 25, 18, 39, 26));
  });

  it('orders by change number via the value type', () => {
    expect(readChangelogRecord(minimal({ changenumber: '10' })).changeNumber.isAfter(ChangeNumber.parse('9'))).toBe(true);
  });
});
