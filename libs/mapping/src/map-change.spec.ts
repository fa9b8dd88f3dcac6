import { type AttributeChange, type EntryChangeEvent, type EntryImage } from '@idsync/contracts';
import { parse } from 'yaml';
import { compilePipe, type CompiledPipe } from './compile-pipe';
import { mapChange, MappingError, type MapResult } from './map-change';
import { pipeSchema } from './pipe';

/** AD stores a GUID's first three groups little-endian: the bytes objectGUID really holds. */
function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  const bytes = Buffer.from(hex, 'hex');
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return bytes;
}

function pipeFromYaml(text: string): CompiledPipe {
  return compilePipe(pipeSchema.parse(parse(text)));
}

const adToDs = pipeFromYaml(`
name: ad-to-ds
source: ad
destination: ds
dnMaps:
  - from: "*,OU=Groups,OU=Corp,DC=example,DC=test"
    to: "{1},ou=Groups,dc=example,dc=com"
  - from: "*,**,OU=Corp,DC=example,DC=test"
    to: "{1},ou=People,dc=example,dc=com"
correlation: [[uid], [mail]]
ignoreChangesBy: ["CN=idsync-writer,OU=Service Accounts,DC=example,DC=test"]
syncClasses:
  - name: users
    evaluationOrder: 10
    includeBaseDns: ["OU=Corp,DC=example,DC=test"]
    excludeAdSystemObjects: true
    objectClasses: [user]
    includeFilter: "(!(objectClass=computer))"
    destinationObjectClasses: [top, person, organizationalPerson, inetOrgPerson]
    attributeMappings:
      - { from: sAMAccountName, to: uid }
      - { from: givenName, to: givenName }
      - { from: sn, to: sn }
      - { to: cn, template: "{givenName} {sn}" }
      - { from: mail, to: mail }
      - { from: telephoneNumber, to: telephoneNumber }
      - { from: thumbnailPhoto, to: jpegPhoto }
      - { from: manager, to: manager, dn: true }
  - name: groups
    evaluationOrder: 20
    includeBaseDns: ["DC=example,DC=test"]
    excludeAdSystemObjects: true
    objectClasses: [group]
    destinationObjectClasses: [top, groupOfNames]
    attributeMappings:
      - { from: cn, to: cn }
      - { from: description, to: description }
      - { from: member, to: member, dn: true }
`);

const dsToAd = pipeFromYaml(`
name: ds-to-ad
source: ds
destination: ad
dnMaps:
  - from: "*,ou=Groups,dc=example,dc=com"
    to: "{1},OU=Groups,OU=Corp,DC=example,DC=test"
  - from: "*,ou=People,dc=example,dc=com"
    to: "CN={cn},OU=People,OU=Corp,DC=example,DC=test"
correlation: [[sAMAccountName]]
ignoreChangesBy: ["cn=idsync-writer,ou=Services,dc=example,dc=com"]
syncClasses:
  - name: people
    evaluationOrder: 1
    includeBaseDns: ["ou=People,dc=example,dc=com"]
    objectClasses: [inetOrgPerson]
    destinationObjectClasses: [top, person, organizationalPerson, user]
    attributeMappings:
      - { from: uid, to: sAMAccountName }
      - { to: cn, template: "{givenName} {sn}" }
      - { from: givenName, to: givenName }
      - { from: sn, to: sn }
      - { from: mail, to: mail }
      - { to: userAccountControl, values: ["512"] }
  - name: groups
    evaluationOrder: 2
    includeBaseDns: ["ou=Groups,dc=example,dc=com"]
    objectClasses: [groupOfNames]
    destinationObjectClasses: [top, group]
    attributeMappings:
      - { from: cn, to: cn }
      - { from: member, to: member, dn: true }
`);

const JANE_GUID = '6f1c0b3e-7a2d-4c1b-9e8f-0a1b2c3d4e5f';
const replace = (name: string, ...values: (string | Buffer)[]): AttributeChange => ({ name, op: 'replace', values });
/** An after-image (v2): every attribute of the detector's set, `[]` for one the entry lacks. */
const image = (attributes: Record<string, string[]>): EntryImage => Object.entries(attributes).map(([name, values]) => ({ name, values }));

function adEvent(fields: Partial<EntryChangeEvent> & Pick<EntryChangeEvent, 'eventId' | 'op' | 'dn'>): EntryChangeEvent {
  return {
    source: {
      system: 'active-directory',
      directory: 'ad',
      server: 'ldaps://dc1.example.test:636',
      position: { kind: 'dirsync', cookieDigest: 'sha256:5d41402abc4b2a76b9719d911017c592', index: 0 },
    },
    entryId: { kind: 'objectGUID', value: JANE_GUID },
    previousDn: null,
    objectClasses: [],
    attributes: [],
    initiator: null,
    changeTime: 1_704_164_645_000,
    detectedAt: 1_704_164_646_120,
    after: null,
    before: null,
    ...fields,
  };
}

function dsEvent(fields: Partial<EntryChangeEvent> & Pick<EntryChangeEvent, 'eventId' | 'op' | 'dn'>): EntryChangeEvent {
  return {
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds1.example.com:636', position: { kind: 'change-number', changeNumber: '4711' } },
    entryId: { kind: 'entryUUID', value: '0b7d4a52-3e1f-4f60-8a55-2c9e7b1d0a11' },
    previousDn: null,
    objectClasses: [],
    attributes: [],
    initiator: 'cn=Directory Manager',
    changeTime: 1_704_164_700_000,
    detectedAt: 1_704_164_700_350,
    after: null,
    before: null,
    ...fields,
  };
}

const thumbnail = Buffer.from('ffd8ffe000104a464946', 'hex');

/** DirSync's view of a new user, as the AD detector reports it. */
const adUserAdd = adEvent({
  eventId: 'ad:dirsync:5d41402a:0',
  op: 'add',
  dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test',
  objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
  attributes: [
    replace('objectClass', 'top', 'person', 'organizationalPerson', 'user'),
    replace('cn', 'Jane Doe'),
    replace('sn', 'Doe'),
    replace('givenName', 'Jane'),
    replace('displayName', 'Jane Doe'),
    replace('sAMAccountName', 'jdoe'),
    replace('userPrincipalName', 'jdoe@example.test'),
    replace('mail', 'jane.doe@example.test'),
    replace('userAccountControl', '512'),
    replace('objectGUID', guidBytes(JANE_GUID)),
    replace('objectSid', Buffer.from('010500000000000515000000a1b2c3d4e5f60718293a4b5c51040000', 'hex')),
    replace('thumbnailPhoto', thumbnail),
    replace('manager', 'CN=John Smith,OU=Sales,OU=Corp,DC=example,DC=test'),
    replace('whenCreated', '20240102030405.0Z'),
  ],
});

function expectMapped(result: MapResult): Extract<MapResult, { kind: 'mapped' }> {
  if (result.kind !== 'mapped') throw new Error(`expected a mapped result, got ${result.reason}: ${result.detail}`);
  return result;
}

function mappingError(run: () => unknown): MappingError {
  try {
    run();
  } catch (error) {
    if (error instanceof MappingError) return error;
    throw error;
  }
  throw new Error('expected a MappingError');
}

describe('mapChange: Active Directory to the directory server', () => {
  it('maps a new AD user to an upsert of every mapped attribute under ou=People', () => {
    const result = expectMapped(mapChange(adUserAdd, adToDs));
    expect(result.syncClass).toBe('users');
    expect(result.warnings).toEqual([]);
    expect(result.requests).toEqual([
      {
        requestId: 'ad:dirsync:5d41402a:0/ad-to-ds/0',
        pipe: 'ad-to-ds',
        sourceEventId: 'ad:dirsync:5d41402a:0',
        sourceEntryId: { kind: 'objectGUID', value: JANE_GUID },
        op: 'upsert',
        dn: 'CN=Jane Doe,ou=People,dc=example,dc=com',
        previousDn: null,
        objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        attributes: [
          replace('sn', 'Doe'),
          replace('givenName', 'Jane'),
          replace('uid', 'jdoe'),
          replace('mail', 'jane.doe@example.test'),
          replace('jpegPhoto', thumbnail),
          replace('manager', 'CN=John Smith,ou=People,dc=example,dc=com'),
          replace('cn', 'Jane Doe'),
        ],
        correlation: [['uid'], ['mail']],
        changeTime: 1_704_164_645_000,
        detectedAt: 1_704_164_646_120,
      },
    ]);
  });

  it('passes binary values through as the same bytes', () => {
    const photo = expectMapped(mapChange(adUserAdd, adToDs)).requests[0]?.attributes.find((a) => a.name === 'jpegPhoto');
    expect(photo?.values[0]).toBe(thumbnail);
  });

  it('gives the same requests, with the same ids, when the event is replayed', () => {
    expect(mapChange(adUserAdd, adToDs)).toEqual(mapChange(structuredClone(adUserAdd), adToDs));
  });

  it('maps an incremental member add, leaving out (with a warning) a member no DN map covers', () => {
    const event = adEvent({
      eventId: 'ad:dirsync:5d41402a:1',
      entryId: { kind: 'objectGUID', value: '1e0d5c4b-2a39-4847-a6b5-c4d3e2f10a9b' },
      op: 'modify',
      dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test',
      objectClasses: ['top', 'group'],
      attributes: [{ name: 'member', op: 'add', values: ['CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', 'CN=Administrator,CN=Users,DC=example,DC=test'] }],
    });
    const result = expectMapped(mapChange(event, adToDs));
    expect(result.syncClass).toBe('groups');
    expect(result.requests).toHaveLength(1);
    expect(result.requests[0]).toMatchObject({
      requestId: 'ad:dirsync:5d41402a:1/ad-to-ds/0',
      op: 'modify',
      dn: 'CN=Sales Team,ou=Groups,dc=example,dc=com',
      objectClasses: ['top', 'groupOfNames'],
      attributes: [{ name: 'member', op: 'add', values: ['CN=Jane Doe,ou=People,dc=example,dc=com'] }],
    });
    expect(result.warnings).toEqual(["member: no DN map matches 'CN=Administrator,CN=Users,DC=example,DC=test'; left out"]);
  });

  it('drops a member change whose every value is unmappable, keeping the rest of the modify', () => {
    const event = adEvent({
      eventId: 'ad:dirsync:5d41402a:2',
      op: 'modify',
      dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test',
      objectClasses: ['top', 'group'],
      attributes: [{ name: 'member', op: 'delete', values: ['CN=Guest,CN=Users,DC=example,DC=test'] }, replace('description', 'Sales staff')],
    });
    const result = expectMapped(mapChange(event, adToDs));
    expect(result.requests[0]?.attributes).toEqual([replace('description', 'Sales staff')]);
    expect(result.warnings).toHaveLength(1);
  });

  it('maps a tombstone delete to a delete of the last known DN plus an unlink from groups', () => {
    const event = adEvent({
      eventId: 'ad:dirsync:5d41402a:3',
      op: 'delete',
      dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test',
      attributes: [replace('isDeleted', 'TRUE')],
    });
    const result = expectMapped(mapChange(event, adToDs));
    expect(result.syncClass).toBe('users');
    expect(result.requests.map(({ requestId, op, dn, previousDn, attributes, objectClasses }) => ({ requestId, op, dn, previousDn, attributes, objectClasses }))).toEqual([
      {
        requestId: 'ad:dirsync:5d41402a:3/ad-to-ds/0',
        op: 'delete',
        dn: 'CN=Jane Doe,ou=People,dc=example,dc=com',
        previousDn: null,
        attributes: [],
        objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      },
      {
        requestId: 'ad:dirsync:5d41402a:3/ad-to-ds/1',
        op: 'unlink',
        dn: 'CN=Jane Doe,ou=People,dc=example,dc=com',
        previousDn: 'CN=Jane Doe,ou=People,dc=example,dc=com',
        attributes: [{ name: 'member', op: 'delete', values: ['CN=Jane Doe,ou=People,dc=example,dc=com'] }],
        objectClasses: [],
      },
    ]);
  });

  it('excludes AD built-in objects', () => {
    const event = adEvent({
      eventId: 'ad:dirsync:5d41402a:4',
      op: 'add',
      dn: 'CN=Administrators,CN=Builtin,DC=example,DC=test',
      objectClasses: ['top', 'group'],
      attributes: [replace('cn', 'Administrators'), replace('isCriticalSystemObject', 'TRUE'), replace('groupType', '-2147483643')],
    });
    expect(mapChange(event, adToDs)).toEqual({
      kind: 'dropped',
      reason: 'no-sync-class',
      syncClass: null,
      detail: 'no sync class matched (users: not under any includeBaseDns; groups: AD system object (in the CN=Builtin system container))',
    });
  });

  it('excludes the well-known accounts in CN=Users', () => {
    const event = adEvent({ eventId: 'e', op: 'add', dn: 'CN=krbtgt,CN=Users,DC=example,DC=test', objectClasses: ['top', 'group'] });
    expect(mapChange(event, adToDs)).toMatchObject({ kind: 'dropped', reason: 'no-sync-class' });
  });

  it('does not select a class on a modify whose object classes it cannot decide', () => {
    const event = adEvent({ eventId: 'e', op: 'modify', dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', attributes: [replace('mail', 'x@example.test')] });
    expect(mapChange(event, adToDs)).toMatchObject({
      kind: 'dropped',
      reason: 'no-sync-class',
      detail: expect.stringContaining('users: object classes unknown'),
    });
  });
});

describe('mapChange: modifies and templates', () => {
  const modify = (attributes: AttributeChange[]): EntryChangeEvent =>
    adEvent({
      eventId: 'ad:dirsync:77:0',
      op: 'modify',
      dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test',
      objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
      attributes,
    });

  it('keeps add, delete and replace of each value-level change', () => {
    const result = expectMapped(
      mapChange(
        modify([
          { name: 'telephoneNumber', op: 'add', values: ['+1 555 0100'] },
          { name: 'telephoneNumber', op: 'delete', values: ['+1 555 0199'] },
          { name: 'mail', op: 'replace', values: [] },
        ]),
        adToDs,
      ),
    );
    expect(result.requests[0]?.attributes).toEqual([
      { name: 'telephoneNumber', op: 'add', values: ['+1 555 0100'] },
      { name: 'telephoneNumber', op: 'delete', values: ['+1 555 0199'] },
      { name: 'mail', op: 'replace', values: [] },
    ]);
  });

  it('maps a delete that names no values (the whole attribute removed, as 389-ds records it) to the same delete', () => {
    const result = expectMapped(mapChange(modify([{ name: 'telephoneNumber', op: 'delete', values: [] }]), adToDs));
    expect(result.requests[0]?.attributes).toEqual([{ name: 'telephoneNumber', op: 'delete', values: [] }]);
  });

  it('re-renders a template as a replace when its inputs changed and the event states them all', () => {
    const result = expectMapped(mapChange(modify([replace('givenName', 'Janet'), replace('sn', 'Smith')]), adToDs));
    expect(result.requests[0]?.attributes).toEqual([replace('givenName', 'Janet'), replace('sn', 'Smith'), replace('cn', 'Janet Smith')]);
    expect(result.warnings).toEqual([]);
  });

  it('leaves a template alone, with a warning, when the modify lacks one of its inputs', () => {
    const result = expectMapped(mapChange(modify([replace('sn', 'Smith')]), adToDs));
    expect(result.requests[0]?.attributes).toEqual([replace('sn', 'Smith')]);
    expect(result.warnings).toEqual(["cn not updated: template '{givenName} {sn}' needs the full value of givenName, which the event does not state"]);
  });

  it('drops a modify that changes no mapped attribute', () => {
    expect(mapChange(modify([replace('lastLogonTimestamp', '133480000000000000')]), adToDs)).toEqual({
      kind: 'dropped',
      reason: 'nothing-to-write',
      detail: 'no mapped attribute changed',
      syncClass: 'users',
    });
  });

  it("drops changes made by the reverse pipe's writer account", () => {
    const event = { ...modify([replace('sn', 'Smith')]), initiator: 'cn=IDSYNC-writer, ou=Service Accounts, dc=example, dc=test' };
    expect(mapChange(event, adToDs)).toMatchObject({ kind: 'dropped', reason: 'ignored-initiator' });
  });
});

/** A new 389-ds person, as the DS detector reads it from the retro changelog. */
const dsPersonAdd = dsEvent({
  eventId: 'ds:changelog:4711',
  op: 'add',
  dn: 'uid=jdoe,ou=People,dc=example,dc=com',
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [
    replace('objectClass', 'top', 'person', 'organizationalPerson', 'inetOrgPerson'),
    replace('uid', 'jdoe'),
    replace('cn', 'Jane Doe'),
    replace('sn', 'Doe'),
    replace('givenName', 'Jane'),
    replace('mail', 'jane.doe@example.com'),
    replace('userPassword', '{PBKDF2-SHA512}10000$c2FsdHNhbHQ=$aGFzaGhhc2g='),
  ],
});

describe('mapChange: the directory server to Active Directory', () => {
  it('maps a new inetOrgPerson to an AD user: uid to sAMAccountName, cn from givenName and sn', () => {
    const result = expectMapped(mapChange(dsPersonAdd, dsToAd));
    expect(result.syncClass).toBe('people');
    expect(result.requests).toEqual([
      expect.objectContaining({
        requestId: 'ds:changelog:4711/ds-to-ad/0',
        op: 'upsert',
        dn: 'CN=Jane Doe,OU=People,OU=Corp,DC=example,DC=test',
        objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
        correlation: [['sAMAccountName']],
        attributes: [
          replace('sAMAccountName', 'jdoe'),
          replace('sn', 'Doe'),
          replace('givenName', 'Jane'),
          replace('mail', 'jane.doe@example.com'),
          replace('cn', 'Jane Doe'),
          replace('userAccountControl', '512'),
        ],
      }),
    ]);
  });

  it('never copies a password attribute in the clear (only the sealed idsyncPassword travels)', () => {
    const request = expectMapped(mapChange(dsPersonAdd, dsToAd)).requests[0];
    expect(request?.attributes.map((a) => a.name)).not.toEqual(expect.arrayContaining(['userPassword']));
    expect(request?.attributes.map((a) => a.name)).not.toEqual(expect.arrayContaining(['unicodePwd']));
  });

  it('maps a modrdn to a rename with both DNs mapped, leaving the naming attribute to the rename', () => {
    const event = dsEvent({
      eventId: 'ds:changelog:4712',
      entryId: { kind: 'entryUUID', value: '5a0c9e1d-8b7f-4e2a-9c3d-1f2e3d4c5b6a' },
      op: 'rename',
      dn: 'cn=Sales Staff,ou=Groups,dc=example,dc=com',
      previousDn: 'cn=Sales Team,ou=Groups,dc=example,dc=com',
      objectClasses: ['top', 'groupOfNames'],
      attributes: [
        { name: 'cn', op: 'add', values: ['Sales Staff'] },
        { name: 'cn', op: 'delete', values: ['Sales Team'] },
      ],
    });
    const result = expectMapped(mapChange(event, dsToAd));
    expect(result.syncClass).toBe('groups');
    expect(result.requests).toEqual([
      expect.objectContaining({
        requestId: 'ds:changelog:4712/ds-to-ad/0',
        op: 'rename',
        dn: 'cn=Sales Staff,OU=Groups,OU=Corp,DC=example,DC=test',
        previousDn: 'cn=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test',
        attributes: [],
      }),
    ]);
  });

  it('maps a rename whose previous DN the detector does not know to a rename the writer resolves by link', () => {
    const event = dsEvent({
      eventId: 'ds:changelog:4720',
      entryId: { kind: 'entryUUID', value: '5a0c9e1d-8b7f-4e2a-9c3d-1f2e3d4c5b6a' },
      op: 'rename',
      dn: 'cn=Sales Staff,ou=Groups,dc=example,dc=com',
      previousDn: null,
      objectClasses: ['top', 'groupOfNames'],
      attributes: [
        { name: 'cn', op: 'add', values: ['Sales Staff'] },
        { name: 'cn', op: 'delete', values: ['Sales Team'] },
      ],
    });
    const result = expectMapped(mapChange(event, dsToAd));
    expect(result.requests).toEqual([
      expect.objectContaining({
        op: 'rename',
        sourceEntryId: { kind: 'entryUUID', value: '5a0c9e1d-8b7f-4e2a-9c3d-1f2e3d4c5b6a' },
        dn: 'cn=Sales Staff,OU=Groups,OU=Corp,DC=example,DC=test',
        previousDn: null,
        attributes: [],
      }),
    ]);
  });

  it('fails with a MappingError naming the event, the entry and the missing template attribute', () => {
    const event = { ...dsPersonAdd, eventId: 'ds:changelog:4713', attributes: dsPersonAdd.attributes.filter((a) => a.name !== 'givenName') };
    const error = mappingError(() => mapChange(event, dsToAd));
    expect(error.retriable).toBe(false);
    expect(error.eventId).toBe('ds:changelog:4713');
    expect(error.message).toBe(
      "cannot map event ds:changelog:4713 (entry 'uid=jdoe,ou=People,dc=example,dc=com') through pipe 'ds-to-ad': template '{givenName} {sn}' for cn needs attribute givenName, which the entry does not have",
    );
    expect(error.message).not.toContain('PBKDF2');
  });

  it('drops an entry no sync class takes', () => {
    const event = dsEvent({
      eventId: 'ds:changelog:4714',
      op: 'add',
      dn: 'cn=backup,ou=Services,dc=example,dc=com',
      objectClasses: ['top', 'applicationProcess'],
      attributes: [replace('cn', 'backup')],
    });
    expect(mapChange(event, dsToAd)).toEqual({
      kind: 'dropped',
      reason: 'no-sync-class',
      syncClass: null,
      detail: 'no sync class matched (people: not under any includeBaseDns; groups: not under any includeBaseDns)',
    });
  });

  it('fails when the DN map needs an attribute the event does not carry', () => {
    const event = dsEvent({
      eventId: 'ds:changelog:4715',
      op: 'modify',
      dn: 'uid=jdoe,ou=People,dc=example,dc=com',
      objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      attributes: [replace('mail', 'jane@example.com')],
    });
    expect(mappingError(() => mapChange(event, dsToAd)).problem).toBe(
      "DN map 2 ('*,ou=People,dc=example,dc=com' -> 'CN={cn},OU=People,OU=Corp,DC=example,DC=test') needs attribute cn, which the event does not carry with its full value",
    );
  });

  it('leaves out a member whose DN map reads attributes of the referenced entry', () => {
    const event = dsEvent({
      eventId: 'ds:changelog:4716',
      op: 'modify',
      dn: 'cn=Sales Team,ou=Groups,dc=example,dc=com',
      objectClasses: ['top', 'groupOfNames'],
      attributes: [{ name: 'member', op: 'add', values: ['uid=jdoe,ou=People,dc=example,dc=com'] }],
    });
    expect(mapChange(event, dsToAd)).toEqual({
      kind: 'dropped',
      reason: 'nothing-to-write',
      syncClass: 'groups',
      detail:
        "no mapped attribute changed (member: DN map 2 ('*,ou=People,dc=example,dc=com' -> 'CN={cn},OU=People,OU=Corp,DC=example,DC=test') needs cn of the referenced entry 'uid=jdoe,ou=People,dc=example,dc=com', which this event does not carry; left out)",
    });
  });
});

describe('mapChange: failures and switches', () => {
  it('fails on an unparsable DN', () => {
    const event = adEvent({ eventId: 'bad:1', op: 'add', dn: 'CN=Jane,,DC=example' });
    const error = mappingError(() => mapChange(event, adToDs));
    expect(error.message).toBe("cannot map event bad:1 (entry 'CN=Jane,,DC=example') through pipe 'ad-to-ds': the entry DN is not a valid DN: empty RDN");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('fails when no DN map matches the entry', () => {
    const event = adEvent({ eventId: 'e:2', op: 'add', dn: 'CN=Sales,OU=Other,DC=example,DC=test', objectClasses: ['group'], attributes: [replace('cn', 'Sales')] });
    expect(mappingError(() => mapChange(event, adToDs)).problem).toBe(
      "no DN map matched the entry DN 'CN=Sales,OU=Other,DC=example,DC=test' (patterns: '*,OU=Groups,OU=Corp,DC=example,DC=test', '*,**,OU=Corp,DC=example,DC=test')",
    );
  });

  const noDeletes = pipeFromYaml(`
name: no-deletes
source: ad
destination: ds
syncClasses:
  - { name: all, evaluationOrder: 0, deletes: false, creates: false, destinationObjectClasses: [] }
`);

  it('drops an operation the sync class disables', () => {
    expect(mapChange(adEvent({ eventId: 'e', op: 'delete', dn: 'cn=a,dc=x' }), noDeletes)).toEqual({
      kind: 'dropped',
      reason: 'operation-disabled',
      detail: "sync class 'all' does not allow deletes",
      syncClass: 'all',
    });
    expect(mapChange(adEvent({ eventId: 'e', op: 'add', dn: 'cn=a,dc=x' }), noDeletes)).toMatchObject({ reason: 'operation-disabled' });
  });

  it('turns a snapshot into a modify when the class may modify but not create, and keeps DNs without DN maps', () => {
    const result = expectMapped(mapChange(adEvent({ eventId: 's', op: 'snapshot', dn: 'cn=a,dc=x', attributes: [replace('cn', 'a')] }), noDeletes));
    expect(result.requests[0]).toMatchObject({ op: 'modify', dn: 'cn=a,dc=x', attributes: [] });
  });

  it('maps a snapshot like an add, but clears what the source lacks so a resync makes the destination equal', () => {
    const snapshot = expectMapped(mapChange({ ...adUserAdd, op: 'snapshot' }, adToDs)).requests[0];
    const add = expectMapped(mapChange(adUserAdd, adToDs)).requests[0];
    expect(snapshot?.attributes).toEqual([...(add?.attributes ?? []).slice(0, -1), replace('telephoneNumber'), ...(add?.attributes ?? []).slice(-1)]);
  });

  it('adds group members on an add instead of replacing them, so a late echo of a create never removes newer members', () => {
    const groupAdd: EntryChangeEvent = {
      ...adUserAdd,
      dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test',
      objectClasses: ['top', 'group'],
      attributes: [replace('cn', 'Sales Team'), replace('member', 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test')],
    };
    const member = 'CN=Jane Doe,ou=People,dc=example,dc=com';
    const mappedAdd = expectMapped(mapChange(groupAdd, adToDs));
    expect(mappedAdd.requests[0]?.attributes.filter((a) => a.name === 'member')).toEqual([{ name: 'member', op: 'add', values: [member] }]);
    const mappedSnapshot = expectMapped(mapChange({ ...groupAdd, op: 'snapshot' }, adToDs));
    expect(mappedSnapshot.requests[0]?.attributes.filter((a) => a.name === 'member')).toEqual([replace('member', member)]);
  });

  const autoMap = pipeFromYaml(`
name: auto
source: ds
destination: ds2
autoMapSameNames: true
autoMapExclude: [modifyTimestamp]
syncClasses:
  - name: all
    evaluationOrder: 0
    destinationObjectClasses: [inetOrgPerson]
    attributeMappings:
      - { to: mail, template: "{uid}@example.org" }
`);

  it('copies same-named attributes except objectClass, excluded ones and explicitly mapped targets', () => {
    const event = dsEvent({
      eventId: 'a',
      op: 'add',
      dn: 'uid=jdoe,ou=People,dc=example,dc=com',
      attributes: [replace('objectClass', 'inetOrgPerson'), replace('uid', 'jdoe'), replace('mail', 'old@example.com'), replace('userPassword', 'secret'), replace('jpegPhoto', thumbnail)],
    });
    expect(expectMapped(mapChange(event, autoMap)).requests[0]?.attributes).toEqual([replace('uid', 'jdoe'), replace('jpegPhoto', thumbnail), replace('mail', 'jdoe@example.org')]);
  });
});

describe("mapChange: moves across the pipe's scope", () => {
  const groupGuid = '0e2a1c6f-d493-4e8b-a1c5-2f7e0b9d4c31';
  const groupMove = (dn: string, previousDn: string | null): EntryChangeEvent =>
    adEvent({
      eventId: 'ad:cookie:70',
      entryId: { kind: 'objectGUID', value: groupGuid },
      op: 'rename',
      dn,
      previousDn,
      objectClasses: ['top', 'group'],
      attributes: [],
    });
  // groups are taken anywhere in the domain except by the DN maps; users only below OU=Corp.
  const userMove = (dn: string, previousDn: string | null): EntryChangeEvent =>
    adEvent({ eventId: 'ad:cookie:71', op: 'rename', dn, previousDn, objectClasses: ['top', 'person', 'organizationalPerson', 'user'], attributes: [] });

  it('maps a move out of every sync class to a delete of the linked entry (and an unlink from groups), flagged as leaving the scope', () => {
    const result = expectMapped(mapChange(userMove('CN=Jane Doe,OU=Leavers,DC=example,DC=test', 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test'), adToDs));
    expect(result.scopeChange).toBe('left');
    expect(result.syncClass).toBe('users');
    expect(result.requests.map(({ op, dn, previousDn }) => ({ op, dn, previousDn }))).toEqual([
      { op: 'delete', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', previousDn: null },
      { op: 'unlink', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', previousDn: 'CN=Jane Doe,ou=People,dc=example,dc=com' },
    ]);
  });

  it('treats a move out of scope from a DN the detector did not know as leaving too (the writer acts only on a linked entry)', () => {
    const result = expectMapped(mapChange(userMove('CN=Jane Doe,OU=Leavers,DC=example,DC=test', null), adToDs));
    expect(result.scopeChange).toBe('left');
    expect(result.requests.map((r) => r.op)).toEqual(['delete']);
  });

  it('keeps the destination entry and only unlinks it when the pipe says onLeaveScope: unlink', () => {
    const unlinking = compilePipe({ ...adToDs.config, onLeaveScope: 'unlink' });
    const result = expectMapped(mapChange(userMove('CN=Jane Doe,OU=Leavers,DC=example,DC=test', 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test'), unlinking));
    expect(result.scopeChange).toBe('left');
    expect(result.requests.map((r) => r.op)).toEqual(['delete']);
  });

  it('maps a move from outside every class into one to a rename without a previous DN, flagged as entering the scope', () => {
    const result = expectMapped(mapChange(userMove('CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', 'CN=Jane Doe,OU=Joiners,DC=example,DC=test'), adToDs));
    expect(result.scopeChange).toBe('entered');
    expect(result.requests).toEqual([expect.objectContaining({ op: 'rename', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', previousDn: null })]);
  });

  it('drops a move that stays outside every class, and a move within the scope is an ordinary rename', () => {
    expect(mapChange(userMove('CN=Jane Doe,OU=Leavers,DC=example,DC=test', 'CN=Jane Doe,OU=Joiners,DC=example,DC=test'), adToDs)).toMatchObject({ kind: 'dropped', reason: 'no-sync-class' });
    const within = expectMapped(mapChange(groupMove('CN=Staff,OU=Groups,OU=Corp,DC=example,DC=test', 'CN=Team,OU=Groups,OU=Corp,DC=example,DC=test'), adToDs));
    expect(within.scopeChange).toBeUndefined();
  });

  it('never calls it leaving when the event cannot decide (a filter on attributes it lacks)', () => {
    const filtered = compilePipe({ ...adToDs.config, syncClasses: adToDs.config.syncClasses.map((c) => ({ ...c, includeFilter: '(department=Sales)' })) });
    expect(mapChange(userMove('CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', 'CN=Jane Doe,OU=Old,OU=Corp,DC=example,DC=test'), filtered)).toMatchObject({
      kind: 'dropped',
      reason: 'no-sync-class',
    });
  });
});

describe('mapChange: the entry after the change (v2 after-image)', () => {
  const janeUser = ['top', 'person', 'organizationalPerson', 'user'];
  const janeAfter = { objectClass: janeUser, givenName: ['Jane'], sn: ['Smith'], department: ['Sales'], telephoneNumber: ['+1 555 0100'] };
  const salesOnly = compilePipe({
    ...adToDs.config,
    syncClasses: adToDs.config.syncClasses.map((c) => (c.name === 'users' ? { ...c, includeFilter: '(department=Sales)' } : c)),
  });
  const modify = (attributes: AttributeChange[], after: EntryImage | null): EntryChangeEvent =>
    adEvent({ eventId: 'ad:dirsync:90:0', op: 'modify', dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', objectClasses: janeUser, attributes, after });
  const phoneChange = [replace('telephoneNumber', '+1 555 0100')];

  it('selects a class by a filter on an attribute the modify did not change, from the after-image', () => {
    const result = expectMapped(mapChange(modify(phoneChange, image(janeAfter)), salesOnly));
    expect(result.syncClass).toBe('users');
    // The template's inputs did not change: cn is not re-sent.
    expect(result.requests[0]?.attributes).toEqual(phoneChange);
    expect(result.warnings).toEqual([]);
  });

  it('drops a modify of an unrelated attribute of an entry the filter never took (FALSE by the after-image)', () => {
    expect(mapChange(modify(phoneChange, image({ ...janeAfter, department: ['HR'] })), salesOnly)).toEqual({
      kind: 'dropped',
      reason: 'no-sync-class',
      syncClass: null,
      detail: 'no sync class matched (users: includeFilter is FALSE; groups: none of the object classes group)',
    });
  });

  it('leaves the filter UNDEFINED for a v1 event, which has no after-image', () => {
    expect(mapChange(modify(phoneChange, null), salesOnly)).toMatchObject({
      kind: 'dropped',
      reason: 'no-sync-class',
      detail: expect.stringContaining('users: includeFilter is UNDEFINED'),
    });
  });

  it('re-renders a template from the after-image when only one input changed, value by value', () => {
    const snChange: AttributeChange[] = [
      { name: 'sn', op: 'add', values: ['Smith'] },
      { name: 'sn', op: 'delete', values: ['Doe'] },
    ];
    const result = expectMapped(mapChange(modify(snChange, image(janeAfter)), adToDs));
    expect(result.requests[0]?.attributes).toEqual([...snChange, replace('cn', 'Jane Smith')]);
    expect(result.warnings).toEqual([]);
  });

  it('re-renders a template from the after-image when only one input changed, by a replace', () => {
    const result = expectMapped(mapChange(modify([replace('sn', 'Smith')], image(janeAfter)), adToDs));
    expect(result.requests[0]?.attributes).toEqual([replace('sn', 'Smith'), replace('cn', 'Jane Smith')]);
    expect(result.warnings).toEqual([]);
  });

  it('still warns when the after-image does not list an input of the template', () => {
    const { givenName: _unread, ...withoutGivenName } = janeAfter;
    const result = expectMapped(mapChange(modify([replace('sn', 'Smith')], image(withoutGivenName)), adToDs));
    expect(result.requests[0]?.attributes).toEqual([replace('sn', 'Smith')]);
    expect(result.warnings).toEqual(["cn not updated: template '{givenName} {sn}' needs the full value of givenName, which the event does not state"]);
  });

  it("builds a DN map's {attr} from the after-image on a modify that does not change it", () => {
    const event = dsEvent({
      eventId: 'ds:changelog:4790',
      op: 'modify',
      dn: 'uid=jdoe,ou=People,dc=example,dc=com',
      objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      attributes: [replace('mail', 'jane@example.com')],
      after: image({ cn: ['Jane Doe'], mail: ['jane@example.com'] }),
    });
    expect(expectMapped(mapChange(event, dsToAd)).requests).toEqual([
      expect.objectContaining({ op: 'modify', dn: 'CN=Jane Doe,OU=People,OU=Corp,DC=example,DC=test', attributes: [replace('mail', 'jane@example.com')] }),
    ]);
  });

  const janeInPeople = [
    { op: 'delete', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', previousDn: null },
    { op: 'unlink', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', previousDn: 'CN=Jane Doe,ou=People,dc=example,dc=com' },
  ];

  it('maps a modify that takes the entry out of the filter to the leave-scope requests for the linked entry', () => {
    const result = expectMapped(mapChange(modify([replace('department', 'HR')], image({ ...janeAfter, department: ['HR'] })), salesOnly));
    expect(result.scopeChange).toBe('left');
    expect(result.syncClass).toBe('users');
    expect(result.requests.map(({ op, dn, previousDn }) => ({ op, dn, previousDn }))).toEqual(janeInPeople);
  });

  it("maps a modify that removes the class's object class to leaving the scope", () => {
    const contact = ['top', 'person', 'organizationalPerson', 'contact'];
    const event = { ...modify([{ name: 'objectClass', op: 'delete', values: ['user'] }], image({ ...janeAfter, objectClass: contact })), objectClasses: contact };
    const result = expectMapped(mapChange(event, adToDs));
    expect(result.scopeChange).toBe('left');
    expect(result.requests.map(({ op, dn, previousDn }) => ({ op, dn, previousDn }))).toEqual(janeInPeople);
  });

  it('only unlinks the linked entry when the pipe says onLeaveScope: unlink', () => {
    const unlinking = compilePipe({ ...salesOnly.config, onLeaveScope: 'unlink' });
    const result = expectMapped(mapChange(modify([replace('department', 'HR')], image({ ...janeAfter, department: ['HR'] })), unlinking));
    expect(result.scopeChange).toBe('left');
    expect(result.requests.map((r) => r.op)).toEqual(['delete']);
  });

  it('drops a modify of a filter attribute of an entry outside every class by its DN (it was never in scope)', () => {
    const event = { ...modify([replace('department', 'HR')], image({ ...janeAfter, department: ['HR'] })), dn: 'CN=Jane Doe,OU=Leavers,DC=example,DC=test' };
    expect(mapChange(event, salesOnly)).toEqual({
      kind: 'dropped',
      reason: 'no-sync-class',
      syncClass: null,
      detail: 'no sync class matched (users: not under any includeBaseDns; groups: none of the object classes group)',
    });
  });

  it('drops a modify that changes the filter attribute but leaves another failing criterion as it was', () => {
    const twoCriteria = compilePipe({
      ...adToDs.config,
      syncClasses: adToDs.config.syncClasses.map((c) => (c.name === 'users' ? { ...c, includeFilter: '(&(department=Sales)(employeeType=staff))' } : c)),
    });
    const after = image({ ...janeAfter, department: ['HR'], employeeType: ['contractor'] });
    expect(mapChange(modify([replace('department', 'HR')], after), twoCriteria)).toMatchObject({ kind: 'dropped', reason: 'no-sync-class' });
    expect(expectMapped(mapChange(modify([replace('department', 'HR'), replace('employeeType', 'contractor')], after), twoCriteria)).scopeChange).toBe('left');
  });

  it('never calls a v1 modify (no after-image) leaving, even when it replaces the filter attribute', () => {
    expect(mapChange(modify([replace('department', 'HR')], null), salesOnly)).toEqual({
      kind: 'dropped',
      reason: 'no-sync-class',
      syncClass: null,
      detail: 'no sync class matched (users: includeFilter is FALSE; groups: none of the object classes group)',
    });
  });

  it('never calls it leaving while another class cannot be decided', () => {
    const undecided = compilePipe({
      ...salesOnly.config,
      syncClasses: [...salesOnly.config.syncClasses, { ...salesOnly.config.syncClasses[0]!, name: 'contractors', evaluationOrder: 30, includeFilter: '(employeeType=contractor)' }],
    });
    const result = mapChange(modify([replace('department', 'HR')], image({ ...janeAfter, department: ['HR'] })), undecided);
    expect(result).toMatchObject({ kind: 'dropped', reason: 'no-sync-class', detail: expect.stringContaining('contractors: includeFilter is UNDEFINED') });
  });
});

describe('mapChange: a modify into a sync class (v2 after-image)', () => {
  const janeUser = ['top', 'person', 'organizationalPerson', 'user'];
  const janeDn = 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test';
  const withUsers = (pipe: CompiledPipe, users: Record<string, unknown>): CompiledPipe =>
    compilePipe({ ...pipe.config, syncClasses: pipe.config.syncClasses.map((c) => (c.name === 'users' ? { ...c, ...users } : c)) });
  const salesOnly = withUsers(adToDs, { includeFilter: '(department=Sales)' });
  /** The ad-to-ds detector's whole attribute set for Jane after her move to Sales: `[]` for what she lacks. */
  const salesJane = {
    objectClass: janeUser,
    cn: ['Jane Doe'],
    description: [],
    department: ['Sales'],
    givenName: ['Jane'],
    isCriticalSystemObject: [],
    mail: [],
    manager: ['CN=John Smith,OU=Sales,OU=Corp,DC=example,DC=test'],
    member: [],
    sAMAccountName: ['jdoe'],
    sn: ['Doe'],
    telephoneNumber: ['+1 555 0100'],
    thumbnailPhoto: [],
  };
  const modify = (attributes: AttributeChange[], after: EntryImage | null): EntryChangeEvent =>
    adEvent({ eventId: 'ad:dirsync:91:0', op: 'modify', dn: janeDn, objectClasses: janeUser, attributes, after });
  const toSales = [replace('department', 'Sales')];

  it('maps a modify into the class filter (HR -> Sales) to an upsert of every mapped attribute from the after-image, entering the scope', () => {
    const result = expectMapped(mapChange(modify(toSales, image(salesJane)), salesOnly));
    expect(result).toMatchObject({ syncClass: 'users', scopeChange: 'entered', warnings: [] });
    expect(result.requests).toEqual([
      {
        requestId: 'ad:dirsync:91:0/ad-to-ds/0',
        pipe: 'ad-to-ds',
        sourceEventId: 'ad:dirsync:91:0',
        sourceEntryId: { kind: 'objectGUID', value: JANE_GUID },
        op: 'upsert',
        dn: 'CN=Jane Doe,ou=People,dc=example,dc=com',
        previousDn: null,
        objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        attributes: [
          // What she has, in the image's order; DN values through the DN maps.
          replace('givenName', 'Jane'),
          replace('manager', 'CN=John Smith,ou=People,dc=example,dc=com'),
          replace('uid', 'jdoe'),
          replace('sn', 'Doe'),
          replace('telephoneNumber', '+1 555 0100'),
          // What she lacks is cleared, as a snapshot would.
          replace('mail'),
          replace('jpegPhoto'),
          replace('cn', 'Jane Doe'),
        ],
        correlation: [['uid'], ['mail']],
        changeTime: 1_704_164_645_000,
        detectedAt: 1_704_164_646_120,
      },
    ]);
  });

  it('creates an entry again when a modify brings it back after a modify took it out (its destination entry was deleted then)', () => {
    const left = expectMapped(mapChange(modify([replace('department', 'HR')], image({ ...salesJane, department: ['HR'] })), salesOnly));
    expect(left.scopeChange).toBe('left');
    const back = expectMapped(mapChange(modify(toSales, image(salesJane)), salesOnly));
    expect(back.scopeChange).toBe('entered');
    expect(back.requests.map((r) => r.op)).toEqual(['upsert']);
  });

  it('keeps a telephoneNumber modify of a Sales entry a plain modify (the filter reads no changed attribute)', () => {
    const phone = [replace('telephoneNumber', '+1 555 0199')];
    const result = expectMapped(mapChange(modify(phone, image({ ...salesJane, telephoneNumber: ['+1 555 0199'] })), salesOnly));
    expect(result.scopeChange).toBeUndefined();
    expect(result.requests).toEqual([expect.objectContaining({ op: 'modify', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', attributes: phone })]);
  });

  it('keeps a modify a plain modify when another class held the entry before it, whatever the changed attributes', () => {
    const others = compilePipe({
      ...salesOnly.config,
      syncClasses: [...salesOnly.config.syncClasses, { ...adToDs.config.syncClasses[0]!, name: 'others', evaluationOrder: 30 }],
    });
    const result = expectMapped(mapChange(modify([...toSales, replace('telephoneNumber', '+1 555 0100')], image(salesJane)), others));
    expect(result.syncClass).toBe('users');
    expect(result.scopeChange).toBeUndefined();
    expect(result.requests).toEqual([expect.objectContaining({ op: 'modify', attributes: [replace('telephoneNumber', '+1 555 0100')] })]);
  });

  it("keeps today's plain modify in a class that does not allow creates", () => {
    const noCreates = withUsers(salesOnly, { creates: false });
    const result = expectMapped(mapChange(modify([...toSales, replace('telephoneNumber', '+1 555 0100')], image(salesJane)), noCreates));
    expect(result.scopeChange).toBeUndefined();
    expect(result.requests).toEqual([expect.objectContaining({ op: 'modify', attributes: [replace('telephoneNumber', '+1 555 0100')] })]);
    expect(mapChange(modify(toSales, image(salesJane)), noCreates)).toMatchObject({ kind: 'dropped', reason: 'nothing-to-write' });
  });

  it('still drops it in a class that does not allow modifies', () => {
    expect(mapChange(modify(toSales, image(salesJane)), withUsers(salesOnly, { modifies: false }))).toMatchObject({ kind: 'dropped', reason: 'operation-disabled' });
  });

  it('leaves a v1 modify (no after-image) as it was: a plain modify of what changed', () => {
    const result = expectMapped(mapChange(modify([...toSales, replace('telephoneNumber', '+1 555 0100')], null), salesOnly));
    expect(result.scopeChange).toBeUndefined();
    expect(result.requests).toEqual([expect.objectContaining({ op: 'modify', attributes: [replace('telephoneNumber', '+1 555 0100')] })]);
  });

  it('keeps the sealed password the modify carries (the image never holds one)', () => {
    const sealed = Buffer.from('IDSP\x01\x01\x02k1-opaque-ciphertext', 'latin1');
    const password: AttributeChange = { name: 'idsyncPassword', op: 'replace', values: [sealed] };
    const result = expectMapped(mapChange(modify([...toSales, password], image(salesJane)), salesOnly));
    expect(result.scopeChange).toBe('entered');
    expect(result.requests[0]?.attributes.filter((a) => a.name === 'idsyncPassword')).toEqual([password]);
    const withoutPasswords = withUsers(salesOnly, { passwords: false });
    expect(expectMapped(mapChange(modify([...toSales, password], image(salesJane)), withoutPasswords)).requests[0]?.attributes.map((a) => a.name)).not.toContain('idsyncPassword');
  });

  it('leaves out, with a warning, a template it cannot render, and leaves alone a mapped attribute the image does not list', () => {
    const { mail: _unlisted, ...withoutMail } = salesJane;
    const result = expectMapped(mapChange(modify(toSales, image({ ...withoutMail, givenName: [] })), salesOnly));
    expect(result.scopeChange).toBe('entered');
    const names = result.requests[0]?.attributes.map((a) => a.name);
    expect(names).not.toContain('cn');
    expect(names).not.toContain('mail');
    expect(result.requests[0]?.attributes).toContainEqual(replace('givenName'));
    expect(result.warnings).toEqual(['mail left alone: the after-image does not list mail', "cn left out: template '{givenName} {sn}' needs attribute givenName, which the after-image does not give"]);
  });

  it('replaces a member list on a group modified into its class (as a snapshot does), and sets constants', () => {
    const syncedGroups = compilePipe({
      ...adToDs.config,
      syncClasses: adToDs.config.syncClasses.map((c) =>
        c.name === 'groups' ? { ...c, includeFilter: '(description=synced)', attributeMappings: [...c.attributeMappings, { kind: 'constant' as const, to: 'o', values: ['Example'] }] } : c,
      ),
    });
    const event = adEvent({
      eventId: 'ad:dirsync:92:0',
      op: 'modify',
      dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test',
      objectClasses: ['top', 'group'],
      attributes: [replace('description', 'synced')],
      after: image({ objectClass: ['top', 'group'], cn: ['Sales Team'], description: ['synced'], member: [janeDn], isCriticalSystemObject: [] }),
    });
    const result = expectMapped(mapChange(event, syncedGroups));
    expect(result.scopeChange).toBe('entered');
    expect(result.requests).toEqual([
      expect.objectContaining({
        op: 'upsert',
        dn: 'CN=Sales Team,ou=Groups,dc=example,dc=com',
        attributes: [replace('cn', 'Sales Team'), replace('description', 'synced'), replace('member', 'CN=Jane Doe,ou=People,dc=example,dc=com'), replace('o', 'Example')],
      }),
    ]);
  });

  it("creates a person given the class's object class by a modify, with templates and constants", () => {
    const inetOrgPerson = ['top', 'person', 'organizationalPerson', 'inetOrgPerson'];
    const event = dsEvent({
      eventId: 'ds:changelog:4800',
      op: 'modify',
      dn: 'uid=jdoe,ou=People,dc=example,dc=com',
      objectClasses: inetOrgPerson,
      attributes: [{ name: 'objectClass', op: 'add', values: ['inetOrgPerson'] }],
      after: image({ objectClass: inetOrgPerson, cn: ['Jane Doe'], givenName: ['Jane'], sn: ['Doe'], mail: ['jane@example.com'], uid: ['jdoe'], member: [] }),
    });
    const result = expectMapped(mapChange(event, dsToAd));
    expect(result).toMatchObject({ syncClass: 'people', scopeChange: 'entered' });
    expect(result.requests).toEqual([
      expect.objectContaining({
        op: 'upsert',
        dn: 'CN=Jane Doe,OU=People,OU=Corp,DC=example,DC=test',
        attributes: [
          replace('givenName', 'Jane'),
          replace('sn', 'Doe'),
          replace('mail', 'jane@example.com'),
          replace('sAMAccountName', 'jdoe'),
          replace('cn', 'Jane Doe'),
          replace('userAccountControl', '512'),
        ],
      }),
    ]);
  });

  it('changes nothing for adds, snapshots, renames and deletes that carry an after-image', () => {
    const full = Object.entries(salesJane)
      .filter(([, values]) => values.length > 0)
      .map(([name, values]) => replace(name, ...values));
    expect(expectMapped(mapChange(adEvent({ eventId: 'a', op: 'add', dn: janeDn, objectClasses: janeUser, attributes: full, after: image(salesJane) }), salesOnly)).scopeChange).toBeUndefined();
    expect(expectMapped(mapChange(adEvent({ eventId: 's', op: 'snapshot', dn: janeDn, objectClasses: janeUser, attributes: full, after: image(salesJane) }), salesOnly)).scopeChange).toBeUndefined();
    const rename = adEvent({
      eventId: 'r',
      op: 'rename',
      dn: janeDn,
      previousDn: 'CN=Jane Doe,OU=HR,OU=Corp,DC=example,DC=test',
      objectClasses: janeUser,
      attributes: toSales,
      after: image(salesJane),
    });
    expect(expectMapped(mapChange(rename, salesOnly)).requests.map((r) => r.op)).toEqual(['rename']);
    expect(expectMapped(mapChange(adEvent({ eventId: 'd', op: 'delete', dn: janeDn, objectClasses: janeUser }), salesOnly)).requests.map((r) => r.op)).toEqual(['delete', 'unlink']);
  });
});
