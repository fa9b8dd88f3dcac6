import { type EntryChangeEvent } from '@idsync/contracts';
import { enteredScopeSnapshot } from './entered-scope';
import { IncludeRules } from './include-rules';

const rename: EntryChangeEvent = {
  eventId: 'ds:4801',
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds1:636', position: { kind: 'change-number', changeNumber: '4801' } },
  entryId: { kind: 'entryUUID', value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001' },
  op: 'rename',
  dn: 'uid=mia,ou=People,ou=Corp,dc=example,dc=com',
  previousDn: 'uid=mia,ou=Joiners,dc=example,dc=com',
  objectClasses: [],
  attributes: [],
  initiator: 'cn=admin',
  changeTime: 1_700_000_000_000,
  detectedAt: 1_700_000_000_500,
  after: null,
  before: null,
};

describe('a rename into the watched subtrees', () => {
  const rules = new IncludeRules({ includeBaseDns: ['ou=Corp,dc=example,dc=com'] });

  it('is told apart from a rename within them or out of them', () => {
    expect(rules.entersScope(rename)).toBe(true);
    expect(rules.entersScope({ ...rename, previousDn: 'uid=mia,ou=Old,ou=Corp,dc=example,dc=com' })).toBe(false);
    expect(rules.entersScope({ ...rename, dn: 'uid=mia,ou=Leavers,dc=example,dc=com', previousDn: 'uid=mia,ou=People,ou=Corp,dc=example,dc=com' })).toBe(false);
    expect(rules.entersScope({ ...rename, op: 'modify', previousDn: null })).toBe(false);
  });

  it('is followed by the entry as read: every user attribute as a replace, no operational attribute, no secret', () => {
    const photo = Buffer.from([0xff, 0xd8, 0xff]);
    const snapshot = enteredScopeSnapshot(rename, {
      dn: 'uid=mia,ou=People,ou=Corp,dc=example,dc=com',
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      uid: 'mia',
      cn: 'Mia',
      mail: ['mia@example.com'],
      jpegPhoto: photo,
      userPassword: '{PBKDF2-SHA512}10000$secret',
      entryUUID: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001',
      modifyTimestamp: '20260101000000Z',
    });
    expect(snapshot).toMatchObject({
      eventId: 'ds:4801:entered',
      op: 'snapshot',
      previousDn: null,
      entryId: rename.entryId,
      objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    });
    expect(snapshot.attributes.map((a) => a.name)).toEqual(['objectClass', 'uid', 'cn', 'mail', 'jpegPhoto']);
    expect(snapshot.attributes.find((a) => a.name === 'jpegPhoto')?.values).toEqual([photo]);
    expect(JSON.stringify(snapshot)).not.toContain('PBKDF2');
  });
});
