import { type EntryChangeEvent } from '@idsync/contracts';
import { deletesFirst } from './page-order';

const event = (op: EntryChangeEvent['op'], id: string): EntryChangeEvent => ({
  eventId: `ad:c:${id}`,
  source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1', position: { kind: 'dirsync', cookieDigest: 'c', index: 0 } },
  entryId: { kind: 'objectGUID', value: id },
  op,
  dn: 'CN=Rehire,OU=Corp,DC=example,DC=test',
  previousDn: null,
  objectClasses: [],
  attributes: [],
  initiator: null,
  changeTime: null,
  detectedAt: 0,
  after: null,
  before: null,
});

describe('a DirSync page published', () => {
  it('puts the deletes first and keeps the order of everything else', () => {
    const page = [event('add', 'new'), event('modify', 'm'), event('delete', 'old'), event('rename', 'r'), event('delete', 'old2')];
    expect(deletesFirst(page).map((e) => `${e.op}:${e.entryId.value}`)).toEqual(['delete:old', 'delete:old2', 'add:new', 'modify:m', 'rename:r']);
  });
});
