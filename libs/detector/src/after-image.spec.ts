import { type EntryChangeEvent } from '@idsync/contracts';
import { afterImageAttributes, compilePipe, pipeSchema } from '@idsync/mapping';
import { afterImageIds, entryImage, lastKnownImage, withAfterImages, withLastKnownImages } from './after-image';

const dsToAd = {
  name: 'ds-to-ad',
  source: 'ds',
  destination: 'ad',
  attributeMappings: [
    { from: 'telephoneNumber', to: 'telephoneNumber' },
    { from: 'jpegPhoto', to: 'thumbnailPhoto' },
  ],
  syncClasses: [{ name: 'staff', evaluationOrder: 1, includeFilter: '(departmentNumber=4*)', destinationObjectClasses: ['user'] }],
};
const pipe = compilePipe(pipeSchema.parse(dsToAd));
const set = afterImageAttributes('ds', [pipe], { include: ['mail'] });
const skipId = new Set(['entryuuid']);
const photo = Buffer.from([0xff, 0xd8, 0xff]);

const event = (op: EntryChangeEvent['op'], id: string): EntryChangeEvent => ({
  eventId: `ds/changelog/${id}`,
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds', position: { kind: 'change-number', changeNumber: '1' } },
  entryId: { kind: 'entryUUID', value: id },
  op,
  dn: `uid=${id},ou=People,dc=example,dc=com`,
  previousDn: null,
  objectClasses: [],
  attributes: [{ name: 'telephoneNumber', op: 'replace', values: ['+1 555 0100'] }],
  initiator: null,
  changeTime: null,
  detectedAt: 0,
  after: null,
  before: null,
});

describe('an after-image of a read entry', () => {
  it('lists every attribute of the set in the set spelling, with no values where the entry has none', () => {
    const image = entryImage({ dn: 'uid=a', TELEPHONENUMBER: '+1 555 0100', departmentnumber: ['4021'], objectClass: ['top', 'person'], entryUUID: 'x' }, set, skipId);
    expect(image).toEqual([
      { name: 'departmentNumber', values: ['4021'] },
      { name: 'jpegPhoto', values: [] },
      { name: 'mail', values: [] },
      { name: 'objectClass', values: ['top', 'person'] },
      { name: 'telephoneNumber', values: ['+1 555 0100'] },
    ]);
  });

  it('keeps binary values as the bytes read, and never the id attribute', () => {
    const image = entryImage({ dn: 'uid=a', jpegPhoto: photo, entryUUID: 'x' }, set, skipId);
    expect(image.find((attribute) => attribute.name === 'jpegPhoto')?.values).toEqual([photo]);
    expect(image.map((attribute) => attribute.name.toLowerCase())).not.toContain('entryuuid');
  });

  it('holds every other returned attribute when the set is every user attribute, minus secrets and denied ones, sorted', () => {
    const everything = afterImageAttributes('ds', [compilePipe(pipeSchema.parse({ ...dsToAd, autoMapSameNames: true }))], { exclude: ['audio'] });
    const image = entryImage({ dn: 'uid=a', sn: 'Doe', cn: 'Jane Doe', userPassword: '{SSHA}x', audio: Buffer.alloc(3), objectClass: 'person', entryUUID: 'x' }, everything, skipId);
    expect(image.map((attribute) => attribute.name)).toEqual(['departmentNumber', 'jpegPhoto', 'objectClass', 'telephoneNumber', 'cn', 'sn']);
  });
});

describe('events with after-images', () => {
  const read = new Map([['u1', { dn: 'uid=u1,ou=People,dc=example,dc=com', objectClasses: ['inetOrgPerson'], image: [{ name: 'mail', values: ['u1@example.com'] }] }]]);

  it('get the image of their entry on adds, modifies, renames and snapshots', () => {
    const out = withAfterImages([event('modify', 'u1'), event('rename', 'u1'), event('add', 'u1'), event('snapshot', 'u1')], read);
    for (const imaged of out) expect(imaged.after).toEqual([{ name: 'mail', values: ['u1@example.com'] }]);
  });

  it('keep after null on a delete, and when the entry was not found (deleted since)', () => {
    const [deleted, gone] = withAfterImages([event('delete', 'u1'), event('modify', 'u2')], read);
    expect(deleted?.after).toBeNull();
    expect(gone?.after).toBeNull();
  });

  it('are read once per entry, never for deletes', () => {
    expect(afterImageIds([event('modify', 'u1'), event('modify', 'u1'), event('delete', 'u2'), event('add', 'u3')])).toEqual(['u1', 'u3']);
  });
});

describe("a deleted entry's last known state", () => {
  it('holds what the source kept of the set, only attributes with values, never the id or a secret', () => {
    const kept = [
      { name: 'objectClass', values: ['top', 'inetOrgPerson'] },
      { name: 'departmentNumber', values: ['4021'] },
      { name: 'telephoneNumber', values: [] },
      { name: 'userPassword', values: ['{SSHA}x'] },
      { name: 'entryUUID', values: ['x'] },
      { name: 'roomNumber', values: ['12'] },
    ];
    expect(lastKnownImage(kept, set, skipId)).toEqual([
      { name: 'departmentNumber', values: ['4021'] },
      { name: 'objectClass', values: ['top', 'inetOrgPerson'] },
    ]);
    expect(lastKnownImage([{ name: 'roomNumber', values: ['12'] }], set, skipId)).toBeNull();
  });

  it('goes on delete events only, as before', () => {
    const images = new Map([['u1', [{ name: 'mail', values: ['u1@example.com'] }]]]);
    const [deleted, modified] = withLastKnownImages([event('delete', 'u1'), event('modify', 'u1')], images);
    expect(deleted?.before).toEqual([{ name: 'mail', values: ['u1@example.com'] }]);
    expect(modified?.before).toBeNull();
  });
});
