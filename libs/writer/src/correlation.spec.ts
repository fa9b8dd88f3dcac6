import { type WriteRequest } from '@idsync/contracts';
import { correlationQueries } from './correlation';

const base: WriteRequest = {
  requestId: 'e/ad-to-ds/0',
  pipe: 'ad-to-ds',
  sourceEventId: 'e',
  sourceEntryId: { kind: 'objectGUID', value: '00000000-0000-4000-8000-000000000000' },
  op: 'upsert',
  dn: 'uid=jdoe,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: [],
  attributes: [
    { name: 'uid', op: 'replace', values: ['j*doe)(uid=*'] },
    { name: 'mail', op: 'add', values: ['jdoe@example.com'] },
    { name: 'givenName', op: 'replace', values: ['Jane'] },
    { name: 'sn', op: 'replace', values: ['Doe'] },
  ],
  correlation: [['mail'], ['UID'], ['givenName', 'sn']],
  changeTime: null,
  detectedAt: 0,
};

describe('correlationQueries', () => {
  it('skips lists whose full values the request does not state, keeps the order of the others', () => {
    expect(correlationQueries(base).map((q) => q.attributes)).toEqual([['UID'], ['givenName', 'sn']]);
  });

  it('escapes values: filter metacharacters from the source cannot change the filter', () => {
    const [byUid, byName] = correlationQueries(base);
    expect(byUid?.filter.toString()).toBe('(UID=j\\2adoe\\29\\28uid=\\2a)');
    expect(byName?.filter.toString()).toBe('(&(givenName=Jane)(sn=Doe))');
  });
});
