import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EntryChangeEvent } from '@idsync/contracts';
import { entryGuid, isSkip, lastKnownDn, needsRefetch, parseDirSyncEntry, parseGeneralizedTime, type ParseContext, type Skip } from './parse-dirsync-entry';
import { rawEntryFromJson, type RawEntry, type RawEntryJson } from './raw-entry';
import { Scope } from './scope';

/** Entries captured from the local Samba DC (see __fixtures__/README.md). */
function fixture(name: string): RawEntry[] {
  const json = JSON.parse(readFileSync(join(__dirname, '__fixtures__', `${name}.json`), 'utf8')) as RawEntryJson | RawEntryJson[];
  return (Array.isArray(json) ? json : [json]).map(rawEntryFromJson);
}
function only(name: string): RawEntry {
  const [entry] = fixture(name);
  if (!entry) throw new Error(`fixture ${name} is empty`);
  return entry;
}

const BASE = 'DC=example,DC=test';
const USER_GUID = 'eaa91aba-814c-4100-91e6-f9c1101cac18';
const GROUP_GUID = '5c37abe5-4736-4d73-89c7-5ca3a8151ec9';
const USER_DN = `CN=Fixture User,OU=fixtures,OU=Corp,${BASE}`;
const USER_CLASSES = ['top', 'person', 'organizationalPerson', 'user'];

const context = (overrides: Partial<ParseContext> = {}): ParseContext => ({
  directory: 'ad',
  server: 'ldaps://dc1.example.test:636',
  cookieDigest: '0123456789abcdef0123',
  index: 7,
  detectedAt: 1_800_000_000_000,
  scope: new Scope([`OU=Corp,${BASE}`], ['user', 'group', 'organizationalUnit']),
  refetchedObjectClasses: USER_CLASSES,
  knownDn: null,
  ...overrides,
});

function event(result: EntryChangeEvent | Skip): EntryChangeEvent {
  if (isSkip(result)) throw new Error(`expected an event, got skip ${result.skip} for ${result.dn}`);
  return result;
}

describe('parseDirSyncEntry: entries captured from Samba', () => {
  it('turns a new user into an add keyed by objectGUID with every attribute, binary values as bytes, no secrets or noise', () => {
    const entry = only('add-user');
    expect(needsRefetch(entry)).toBe(false);
    const e = event(parseDirSyncEntry(entry, context({ refetchedObjectClasses: undefined })));
    expect(e.op).toBe('add');
    expect(e.entryId).toEqual({ kind: 'objectGUID', value: USER_GUID });
    expect(e.dn).toBe(USER_DN);
    expect(e.objectClasses).toEqual(USER_CLASSES);
    const byName = new Map(e.attributes.map((a) => [a.name, a]));
    expect(byName.get('sAMAccountName')).toEqual({ name: 'sAMAccountName', op: 'replace', values: ['fixture.user'] });
    expect(Buffer.isBuffer(byName.get('objectSid')?.values[0])).toBe(true);
    expect(byName.get('objectCategory')?.values).toEqual([`CN=Person,CN=Schema,CN=Configuration,${BASE}`]);
    for (const dropped of ['objectGUID', 'parentGUID', 'name', 'instanceType', 'nTSecurityDescriptor', 'unicodePwd', 'dBCSPwd', 'ntPwdHistory', 'lmPwdHistory', 'objectClass']) {
      expect(byName.has(dropped)).toBe(false);
    }
    expect(e.changeTime).toBe(Date.UTC(2026, 10, 25, 18, 39, 47));
    expect(e.initiator).toBeNull();
  });

  it('completes an add that lacks its naming attribute (as echoes of our own creates do) from the DN', () => {
    const entry = only('add-user');
    const withoutCn: RawEntry = { ...entry, attributes: Object.fromEntries(Object.entries(entry.attributes).filter(([name]) => name.toLowerCase() !== 'cn')) };
    const e = event(parseDirSyncEntry(withoutCn, context({ refetchedObjectClasses: undefined })));
    expect(e.attributes.filter((a) => a.name.toLowerCase() === 'cn')).toEqual([{ name: 'CN', op: 'replace', values: ['Fixture User'] }]);
  });

  it('gives a deterministic event id and the DirSync position', () => {
    const e = event(parseDirSyncEntry(only('add-user'), context()));
    expect(e.eventId).toBe('ad:0123456789abcdef0123:7');
    expect(e.source).toEqual({ system: 'active-directory', directory: 'ad', server: 'ldaps://dc1.example.test:636', position: { kind: 'dirsync', cookieDigest: '0123456789abcdef0123', index: 7 } });
  });

  it('turns a single-valued change into a modify replacing that attribute, with the class from the re-fetch', () => {
    const entry = only('modify-description');
    expect(needsRefetch(entry)).toBe(true);
    const e = event(parseDirSyncEntry(entry, context({ knownDn: USER_DN })));
    expect(e.op).toBe('modify');
    expect(e.previousDn).toBeNull();
    expect(e.objectClasses).toEqual(USER_CLASSES);
    expect(e.attributes).toEqual([{ name: 'description', op: 'replace', values: ['first description'] }]);
    expect(e.changeTime).toBeNull();
  });

  it('sends a changed multi-valued (non-linked) attribute whole, after an add and after a removal of one value', () => {
    expect(event(parseDirSyncEntry(only('modify-multi-add'), context())).attributes).toEqual([{ name: 'otherTelephone', op: 'replace', values: ['+1 555 0100', '+1 555 0101'] }]);
    expect(event(parseDirSyncEntry(only('modify-multi-delete'), context())).attributes).toEqual([{ name: 'otherTelephone', op: 'replace', values: ['+1 555 0101'] }]);
  });

  it('reports a removed attribute as a replace with no values', () => {
    expect(event(parseDirSyncEntry(only('modify-remove-attribute'), context())).attributes).toEqual([{ name: 'description', op: 'replace', values: [] }]);
  });

  it('turns group member additions and removals into value deltas, not whole lists', () => {
    const group = context({ refetchedObjectClasses: ['top', 'group'] });
    const added = event(parseDirSyncEntry(only('group-member-add'), group));
    expect(added.entryId.value).toBe(GROUP_GUID);
    expect(added.op).toBe('modify');
    expect(added.attributes).toEqual([{ name: 'member', op: 'add', values: [USER_DN, `CN=Jane Doe,OU=Sales,OU=Corp,${BASE}`] }]);
    const removed = event(parseDirSyncEntry(only('group-member-delete'), group));
    expect(removed.attributes).toEqual([{ name: 'member', op: 'delete', values: [`CN=Jane Doe,OU=Sales,OU=Corp,${BASE}`] }]);
  });

  it('reports a password change as a modify of pwdLastSet only, never the (empty) secret attributes', () => {
    const e = event(parseDirSyncEntry(only('password-reset'), context({ knownDn: USER_DN })));
    expect(e.op).toBe('modify');
    expect(e.attributes).toEqual([{ name: 'pwdLastSet', op: 'replace', values: ['134401055871577140'] }]);
  });

  it('turns a rename into op rename with the previous DN the detector knew', () => {
    const e = event(parseDirSyncEntry(only('rename'), context({ knownDn: USER_DN })));
    expect(e.op).toBe('rename');
    expect(e.dn).toBe(`CN=Fixture Renamed,OU=fixtures,OU=Corp,${BASE}`);
    expect(e.previousDn).toBe(USER_DN);
    expect(e.attributes).toEqual([]);
  });

  it('turns a move into op rename, with previousDn null when the detector never saw the object', () => {
    const e = event(parseDirSyncEntry(only('move'), context({ knownDn: null })));
    expect(e.op).toBe('rename');
    expect(e.dn).toBe(`CN=Fixture Renamed,OU=fixtures-moved,OU=Corp,${BASE}`);
    expect(e.previousDn).toBeNull();
  });

  it('still reports a rename whose new DN the detector already knew, with previousDn null', () => {
    const entry = only('move');
    const e = event(parseDirSyncEntry(entry, context({ knownDn: entry.dn.toUpperCase() })));
    expect(e.op).toBe('rename');
    expect(e.previousDn).toBeNull();
  });

  it('turns a tombstone into a delete keyed by objectGUID carrying the last known DN', () => {
    const tombstone = only('delete-user');
    expect(tombstone.dn).toContain('\\0ADEL:');
    const e = event(parseDirSyncEntry(tombstone, context()));
    expect(e.op).toBe('delete');
    expect(e.entryId).toEqual({ kind: 'objectGUID', value: USER_GUID });
    expect(e.dn).toBe(`CN=Fixture Renamed,OU=fixtures-moved,OU=Corp,${BASE}`);
    expect(e.attributes).toEqual([]);
  });

  it('reconstructs the last known DN of deleted groups and OUs too', () => {
    expect(fixture('cleanup').map(lastKnownDn).sort()).toEqual([`CN=Fixture Group,OU=fixtures,OU=Corp,${BASE}`, `OU=fixtures,OU=Corp,${BASE}`, `OU=fixtures-moved,OU=Corp,${BASE}`]);
  });

  it('reads objectGUID as the canonical GUID text', () => {
    expect(entryGuid(only('modify-description'))).toBe(USER_GUID);
  });
});

describe('parseDirSyncEntry: scope', () => {
  it('skips entries outside includeBaseDns (DirSync reads the whole domain)', () => {
    const admin = only('first-pass-user');
    const narrow = context({ scope: new Scope([`OU=Engineering,OU=Corp,${BASE}`], []) });
    expect(parseDirSyncEntry(admin, narrow)).toEqual({ skip: 'out-of-scope', dn: admin.dn });
  });

  it('skips excluded object classes, and unknown ones when a class filter is set', () => {
    const ouOnly = context({ scope: new Scope([BASE], ['organizationalUnit']) });
    expect(parseDirSyncEntry(only('add-user'), ouOnly)).toMatchObject({ skip: 'object-class-excluded' });
    expect(parseDirSyncEntry(only('modify-description'), context({ refetchedObjectClasses: [] }))).toMatchObject({ skip: 'object-class-unknown' });
    expect(event(parseDirSyncEntry(only('modify-description'), context({ refetchedObjectClasses: [], scope: new Scope([BASE], []) }))).objectClasses).toEqual([]);
  });

  it('publishes a move out of scope (as a rename) so subscribers learn the entry left', () => {
    const move = only('move');
    const scope = new Scope([`OU=fixtures,OU=Corp,${BASE}`], []);
    const e = event(parseDirSyncEntry(move, context({ scope, knownDn: `CN=Fixture Renamed,OU=fixtures,OU=Corp,${BASE}` })));
    expect(e.op).toBe('rename');
    // From a DN the detector did not know (moved while it was stopped): published too, without a previous DN;
    // the writers act on it only when the entry is linked.
    expect(parseDirSyncEntry(move, context({ scope, knownDn: null }))).toMatchObject({ op: 'rename', previousDn: null });
    // An ordinary modify out of scope stays out.
    const modify: RawEntry = { dn: `CN=Elsewhere,OU=Other,${BASE}`, attributes: { objectGUID: [Buffer.alloc(16, 2)], description: ['x'] } };
    expect(parseDirSyncEntry(modify, context({ scope, knownDn: null }))).toMatchObject({ skip: 'out-of-scope' });
  });

  it('skips an entry with nothing but replication noise', () => {
    const noise: RawEntry = { dn: USER_DN, attributes: { objectGUID: [Buffer.alloc(16, 1)], instanceType: ['4'], uSNChanged: ['5'] } };
    expect(parseDirSyncEntry(noise, context())).toEqual({ skip: 'no-change', dn: USER_DN });
  });

  it('skips an entry without objectGUID', () => {
    expect(parseDirSyncEntry({ dn: USER_DN, attributes: { description: ['x'] } }, context())).toEqual({ skip: 'no-object-guid', dn: USER_DN });
  });
});

describe('parseGeneralizedTime', () => {
  it('reads AD generalized time with fractions', () => {
    expect(parseGeneralizedTime('20261125183947.5Z')).toBe(Date.UTC(2026, 10, 25, 18, 39, 47, 500));
    expect(parseGeneralizedTime('yesterday')).toBeNull();
  });
});
