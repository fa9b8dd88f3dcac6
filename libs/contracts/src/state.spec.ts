import { entryStateOf } from './state';
import { type EntryChangeEvent } from './types';

const modify: EntryChangeEvent = {
  eventId: 'ds/changelog/7',
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds', position: { kind: 'change-number', changeNumber: '7' } },
  entryId: { kind: 'entryUUID', value: '3f2a9c1e-5b7d-4e80-9a1b-2c3d4e5f6a7b' },
  op: 'modify',
  dn: 'uid=jdoe,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: [],
  attributes: [{ name: 'telephoneNumber', op: 'replace', values: ['+1 555 0100'] }],
  initiator: null,
  changeTime: 1_000,
  detectedAt: 1_250,
  after: [
    { name: 'objectClass', values: ['top', 'inetOrgPerson'] },
    { name: 'mail', values: ['jdoe@example.com'] },
    { name: 'telephoneNumber', values: ['+1 555 0100'] },
  ],
  before: null,
};

describe('the state an event implies', () => {
  it('is the after-image, with the DN, the object classes the image holds, and the event it was read with', () => {
    expect(entryStateOf(modify)).toEqual({
      entryId: modify.entryId,
      directory: 'ds',
      dn: modify.dn,
      objectClasses: ['top', 'inetOrgPerson'],
      attributes: modify.after,
      eventId: 'ds/changelog/7',
      changeTime: 1_000,
      detectedAt: 1_250,
    });
  });

  it('is a deletion for a delete, and unknown for an event without its entry (v1, or deleted before it was read)', () => {
    expect(entryStateOf({ ...modify, op: 'delete', after: null })).toBe('deleted');
    expect(entryStateOf({ ...modify, after: null })).toBeNull();
  });
});
