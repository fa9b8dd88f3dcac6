import { type EntryLink } from '@idsync/contracts';
import { LinkStore } from '@idsync/links';
import { currentEntry } from '@idsync/writer';
import { linkedDestination, linkedSources, type PipeLinks, selectDeletions, type UnclaimedEntry } from './resync-links';

const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const adEnd = (n: number) => ({ directory: 'ad', kind: 'objectGUID' as const, value: id(n) });
const dsEnd = (n: number) => ({ directory: 'ds', kind: 'entryUUID' as const, value: id(n) });
const link = (pipe: string, source: EntryLink['source'], destination: EntryLink['destination']): EntryLink => ({ pipe, source, destination, origin: 'created', linkedAt: 1, linkedBy: 'ds-writer' });
const unclaimed = (dn: string, n: number | null): UnclaimedEntry => ({ entry: currentEntry({ dn, objectClass: ['inetOrgPerson'] }), id: n === null ? null : id(n) });

let store: LinkStore;
let links: PipeLinks;

beforeEach(() => {
  store = LinkStore.open();
  links = { lookup: store, source: 'ad', destination: 'ds' };
});
afterEach(() => store.close());

describe('linked entries, read as undirected', () => {
  it('finds the destination of a source entry through a link of this pipe or of the reverse pipe', () => {
    store.put(link('ad-to-ds', adEnd(1), dsEnd(101)));
    store.put(link('ds-to-ad', dsEnd(102), adEnd(2)));
    expect(linkedDestination(links, id(1))).toBe(id(101));
    expect(linkedDestination(links, id(2))).toBe(id(102));
    expect(linkedDestination(links, id(3))).toBeNull();
  });

  it('lists every source-side end of a destination entry, once, and ignores links to other directories', () => {
    store.put(link('ad-to-ds', adEnd(1), dsEnd(101)));
    store.put(link('ds-to-ad', dsEnd(101), adEnd(1)));
    store.put(link('ds-to-hr', dsEnd(101), { directory: 'hr', kind: 'entryUUID', value: id(7) }));
    expect(linkedSources(links, id(101))).toEqual([adEnd(1)]);
  });
});

describe('selectDeletions', () => {
  it('offers only entries linked to source entries the read did not return', () => {
    store.put(link('ad-to-ds', adEnd(1), dsEnd(101)));
    const selection = selectDeletions([unclaimed('cn=Gone,ou=Corp,dc=example,dc=com', 101)], links, new Set([id(2)]));
    expect(selection.candidates).toEqual([expect.objectContaining({ id: id(101), sources: [adEnd(1)] })]);
    expect(selection.unlinked).toEqual([]);
  });

  it('never offers an entry linked to nothing at the source: the directory’s own entries are left alone', () => {
    store.put(link('ds-to-hr', dsEnd(103), { directory: 'hr', kind: 'entryUUID', value: id(7) }));
    const selection = selectDeletions(
      [unclaimed('cn=Own,ou=Corp,dc=example,dc=com', 102), unclaimed('cn=Elsewhere,ou=Corp,dc=example,dc=com', 103), unclaimed('cn=NoId,ou=Corp,dc=example,dc=com', null)],
      links,
      new Set(),
    );
    expect(selection.candidates).toEqual([]);
    expect(selection.unlinked.map((u) => u.entry.dn)).toEqual(['cn=Own,ou=Corp,dc=example,dc=com', 'cn=Elsewhere,ou=Corp,dc=example,dc=com', 'cn=NoId,ou=Corp,dc=example,dc=com']);
  });

  it('never offers an entry created in the destination and synced back, while its counterpart at the source is read', () => {
    // ds-to-ad created AD entry 2 for directory entry 104: the same pair, seen from ad-to-ds.
    store.put(link('ds-to-ad', dsEnd(104), adEnd(2)));
    const selection = selectDeletions([unclaimed('uid=own,ou=People,ou=Corp,dc=example,dc=com', 104)], links, new Set([id(2)]));
    expect(selection.candidates).toEqual([]);
    expect(selection.sourceRead.map((u) => u.id)).toEqual([id(104)]);
  });

  it('offers an entry linked by the reverse pipe when its counterpart was not read (it is then looked up by id)', () => {
    store.put(link('ds-to-ad', dsEnd(104), adEnd(2)));
    const selection = selectDeletions([unclaimed('uid=own,ou=People,ou=Corp,dc=example,dc=com', 104)], links, new Set([id(9)]));
    expect(selection.candidates.map((c) => c.sources)).toEqual([[adEnd(2)]]);
  });

  it('keeps an entry linked to two source entries when one of them was read, and keeps the order (children first)', () => {
    store.put(link('ad-to-ds', adEnd(1), dsEnd(105)));
    store.put(link('ds-to-ad', dsEnd(105), adEnd(3)));
    store.put(link('ad-to-ds', adEnd(4), dsEnd(106)));
    store.put(link('ad-to-ds', adEnd(5), dsEnd(107)));
    const entries = [unclaimed('cn=Child,ou=Old,dc=example,dc=com', 106), unclaimed('cn=Both,dc=example,dc=com', 105), unclaimed('ou=Old,dc=example,dc=com', 107)];
    const selection = selectDeletions(entries, links, new Set([id(3)]));
    expect(selection.candidates.map((c) => c.entry.dn)).toEqual(['cn=Child,ou=Old,dc=example,dc=com', 'ou=Old,dc=example,dc=com']);
    expect(selection.sourceRead.map((u) => u.entry.dn)).toEqual(['cn=Both,dc=example,dc=com']);
  });
});
