import { type EntryLink, type WriteRequest } from '@idsync/contracts';
import { LinkStore } from '@idsync/links';
import { compilePipe, pipeSchema } from '@idsync/mapping';
import { AttributeKnowledge, currentEntry } from '@idsync/writer';
import { snapshotEvent } from '@idsync/detector';
import { compareRequest, describeDifference, DestinationIndex, mapSnapshot, needsPublishing } from './resync-compare';
import { type PipeLinks } from './resync-links';

const options = { kind: 'ldap' as const, attributes: new AttributeKnowledge() };
const upsert = (dn: string, attributes: Record<string, string[]>): WriteRequest => ({
  requestId: 'r/1',
  pipe: 'ad-to-ds',
  sourceEventId: 'e/1',
  sourceEntryId: { kind: 'objectGUID', value: '00000000-0000-0000-0000-000000000001' },
  op: 'upsert',
  dn,
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: Object.entries(attributes).map(([name, values]) => ({ name, op: 'replace' as const, values })),
  correlation: [['uid']],
  changeTime: null,
  detectedAt: 0,
});
const entry = (dn: string, attributes: Record<string, string[]>) => currentEntry({ dn, objectClass: ['top', 'inetOrgPerson'], ...attributes });

describe('compareRequest', () => {
  it('finds an equal entry by DN and plans nothing', () => {
    const index = new DestinationIndex([entry('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['x'] })], [['uid']]);
    const result = compareRequest(upsert('CN=Ann,OU=Corp,DC=example,DC=com', { cn: ['Ann'], uid: ['ann'], description: ['x'] }), index, options);
    expect(result).toMatchObject({ kind: 'equal', foundBy: 'dn', steps: [] });
  });

  it('lists a changed and a missing attribute with the values on both sides', () => {
    const index = new DestinationIndex([entry('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['damaged'] })], [['uid']]);
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['x'], mail: ['ann@example.com'] }), index, options);
    expect(result.kind).toBe('update');
    expect(result.differences).toEqual(
      expect.arrayContaining([
        { attribute: 'description', current: ['damaged'], add: ['x'], remove: [], replace: true },
        { attribute: 'mail', current: [], add: ['ann@example.com'], remove: [], replace: true },
      ]),
    );
  });

  it('finds an entry at another DN through a correlation list, ignoring case', () => {
    const index = new DestinationIndex([entry('cn=Ann Old,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ANN'] })], [['uid']]);
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options);
    expect(result).toMatchObject({ foundBy: 'correlation', dn: 'cn=Ann Old,ou=Corp,dc=example,dc=com' });
  });

  it('reports an ambiguous correlation as an error instead of guessing', () => {
    const index = new DestinationIndex([entry('cn=A1,dc=example,dc=com', { uid: ['ann'] }), entry('cn=A2,dc=example,dc=com', { uid: ['ann'] })], [['uid']]);
    const result = compareRequest(upsert('cn=Ann,dc=example,dc=com', { uid: ['ann'] }), index, options);
    expect(result.kind).toBe('error');
    expect(result.problem).toMatch(/correlation finds 2 destination entries/);
  });

  it('plans a create when nothing matches, and leaves unmatched destination entries as candidates, children first', () => {
    const index = new DestinationIndex(
      [entry('ou=Old,dc=example,dc=com', {}), entry('cn=Stray,ou=Old,dc=example,dc=com', { uid: ['stray'] }), entry('cn=Ann,dc=example,dc=com', { uid: ['ann'] })],
      [['uid']],
    );
    expect(compareRequest(upsert('cn=Bob,dc=example,dc=com', { cn: ['Bob'], uid: ['bob'] }), index, options).kind).toBe('create');
    compareRequest(upsert('cn=Ann,dc=example,dc=com', { uid: ['ann'] }), index, options);
    expect(index.unclaimed().map((u) => u.entry.dn)).toEqual(['cn=Stray,ou=Old,dc=example,dc=com', 'ou=Old,dc=example,dc=com']);
  });
});

describe('compareRequest with links', () => {
  const SOURCE = '00000000-0000-0000-0000-000000000001';
  const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const linked = (dn: string, n: number, attributes: Record<string, string[]>) => entry(dn, { entryUUID: [uuid(n)], ...attributes });
  const link = (pipe: string, source: EntryLink['source'], destination: EntryLink['destination']): EntryLink => ({ pipe, source, destination, origin: 'created', linkedAt: 1, linkedBy: 'ds-writer' });
  const adEnd = (value: string) => ({ directory: 'ad', kind: 'objectGUID' as const, value });
  const dsEnd = (n: number) => ({ directory: 'ds', kind: 'entryUUID' as const, value: uuid(n) });
  let store: LinkStore;
  let links: PipeLinks;
  beforeEach(() => {
    store = LinkStore.open();
    links = { lookup: store, source: 'ad', destination: 'ds' };
  });
  afterEach(() => store.close());

  it('finds a linked entry by its id wherever it is, and moves it to the mapped DN: the DN is a difference', () => {
    store.put(link('ad-to-ds', adEnd(SOURCE), dsEnd(11)));
    // Renamed at the destination, and its uid changed too: neither DN nor correlation would find it.
    const index = new DestinationIndex([linked('cn=Ann Renamed,ou=Corp,dc=example,dc=com', 11, { cn: ['Ann Renamed'], uid: ['other'] })], [['uid']], 'ldap');
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options, links);
    expect(result).toMatchObject({ kind: 'update', foundBy: 'link', link: 'linked', dn: 'cn=Ann Renamed,ou=Corp,dc=example,dc=com' });
    expect(result.move).toEqual({ from: 'cn=Ann Renamed,ou=Corp,dc=example,dc=com', to: 'cn=Ann,ou=Corp,dc=example,dc=com' });
    expect(result.steps[0]).toMatchObject({ kind: 'modify-dn', dn: 'cn=Ann Renamed,ou=Corp,dc=example,dc=com', newDn: 'cn=Ann,ou=Corp,dc=example,dc=com' });
    expect(result.differences).toEqual([
      { attribute: 'cn', current: ['Ann Renamed'], add: ['Ann'], remove: [], replace: true },
      { attribute: 'uid', current: ['other'], add: ['ann'], remove: [], replace: true },
    ]);
    expect(index.unclaimed()).toEqual([]);
  });

  it('prefers the linked entry to the one holding the DN, and finds it through a link of the reverse pipe too', () => {
    store.put(link('ds-to-ad', dsEnd(12), adEnd(SOURCE)));
    const index = new DestinationIndex(
      [linked('cn=Ann,ou=Corp,dc=example,dc=com', 13, { cn: ['Ann'], uid: ['ann'] }), linked('cn=Ann,ou=Old,dc=example,dc=com', 12, { cn: ['Ann'], uid: ['ann'] })],
      [['uid']],
      'ldap',
    );
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options, links);
    expect(result).toMatchObject({ foundBy: 'link', move: { from: 'cn=Ann,ou=Old,dc=example,dc=com', to: 'cn=Ann,ou=Corp,dc=example,dc=com' } });
    expect(result.differences).toEqual([]);
  });

  it('a linked entry already in line is equal and needs nothing', () => {
    store.put(link('ad-to-ds', adEnd(SOURCE), dsEnd(11)));
    const index = new DestinationIndex([linked('CN=Ann,OU=Corp,DC=example,DC=com', 11, { cn: ['Ann'], uid: ['ann'] })], [['uid']], 'ldap');
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options, links);
    expect(result).toMatchObject({ kind: 'equal', foundBy: 'link', link: 'linked', move: null });
    expect(needsPublishing(result)).toBe(false);
  });

  it('an equal entry found by DN or correlation but not linked is published: the writer links what it finds', () => {
    const index = new DestinationIndex(
      [linked('cn=Ann,ou=Corp,dc=example,dc=com', 11, { cn: ['Ann'], uid: ['ann'] }), linked('cn=Bob Old,ou=Corp,dc=example,dc=com', 14, { cn: ['Bob'], uid: ['bob'] })],
      [['uid']],
      'ldap',
    );
    const byDn = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options, links);
    expect(byDn).toMatchObject({ kind: 'equal', foundBy: 'dn', link: 'unlinked' });
    expect(needsPublishing(byDn)).toBe(true);
    const byCorrelation = compareRequest({ ...upsert('cn=Bob,ou=Corp,dc=example,dc=com', { uid: ['bob'] }), sourceEntryId: { kind: 'objectGUID', value: uuid(2) } }, index, options, links);
    expect(byCorrelation).toMatchObject({ kind: 'equal', foundBy: 'correlation', link: 'unlinked', move: null });
    expect(needsPublishing(byCorrelation)).toBe(true);
  });

  it('refuses an entry found by DN that is linked to another source entry, and leaves it unclaimed', () => {
    store.put(link('ad-to-ds', adEnd(uuid(99)), dsEnd(11)));
    const index = new DestinationIndex([linked('cn=Ann,ou=Corp,dc=example,dc=com', 11, { cn: ['Ann'], uid: ['ann'] })], [['uid']], 'ldap');
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options, links);
    expect(result).toMatchObject({ kind: 'error', foundBy: 'dn' });
    expect(result.problem).toBe(`link conflict: cn=Ann,ou=Corp,dc=example,dc=com is linked to source entry ${uuid(99)}, not to ${SOURCE}; the writer leaves it alone`);
    expect(needsPublishing(result)).toBe(false);
    expect(index.unclaimed().map((u) => u.id)).toEqual([uuid(11)]);
  });

  it('a link to an entry the read did not return falls back to DN and correlation, and is published to be linked anew', () => {
    store.put(link('ad-to-ds', adEnd(SOURCE), dsEnd(50)));
    const index = new DestinationIndex([linked('cn=Ann,ou=Corp,dc=example,dc=com', 11, { cn: ['Ann'], uid: ['ann'] })], [['uid']], 'ldap');
    const found = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options, links);
    expect(found).toMatchObject({ kind: 'equal', foundBy: 'dn', link: 'dangling' });
    expect(needsPublishing(found)).toBe(true);
    const missing = compareRequest(upsert('cn=Cy,ou=Corp,dc=example,dc=com', { cn: ['Cy'], uid: ['cy'] }), index, options, links);
    expect(missing).toMatchObject({ kind: 'create', foundBy: 'none', link: 'dangling' });
  });

  it('an entry with no link and nothing by DN or correlation is a create with no link yet', () => {
    const index = new DestinationIndex([], [['uid']], 'ldap');
    expect(compareRequest(upsert('cn=Cy,ou=Corp,dc=example,dc=com', { cn: ['Cy'], uid: ['cy'] }), index, options, links)).toMatchObject({ kind: 'create', foundBy: 'none', link: 'none', move: null });
  });
});

describe('mapSnapshot', () => {
  const pipe = compilePipe(
    pipeSchema.parse({
      name: 'ad-to-ds',
      source: 'ad',
      destination: 'ds',
      dnMaps: [{ from: '**,OU=Corp,DC=example,DC=test', to: '{1},ou=Corp,dc=example,dc=com' }],
      correlation: [['uid']],
      syncClasses: [
        {
          name: 'users',
          evaluationOrder: 30,
          includeBaseDns: ['DC=example,DC=test'],
          objectClasses: ['user'],
          destinationObjectClasses: ['top', 'inetOrgPerson'],
          attributeMappings: [{ from: 'sAMAccountName', to: 'uid' }],
        },
      ],
    }),
  );
  const event = (dn: string) =>
    snapshotEvent(
      {
        dn,
        entryId: { kind: 'objectGUID', value: 'abc' },
        objectClasses: ['user'],
        attributes: new Map([
          ['objectclass', { name: 'objectClass', values: ['user'] }],
          ['samaccountname', { name: 'sAMAccountName', values: ['ann'] }],
        ]),
        after: null,
      },
      0,
      { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1', runId: 'run1', detectedAt: 5 },
    );

  it('maps an entry, and gives the reason for one the pipe cannot map instead of throwing', () => {
    expect(mapSnapshot(event('CN=Ann,OU=Corp,DC=example,DC=test'), pipe)).toMatchObject({ kind: 'mapped', syncClass: 'users' });
    const result = mapSnapshot(event('CN=Ann,OU=Elsewhere,DC=example,DC=test'), pipe);
    expect(result.kind).toBe('unmappable');
    expect(result).toMatchObject({ problem: expect.stringMatching(/DN map/i) });
  });
});

describe('describeDifference', () => {
  it('shows replaced values, value-level changes, and never a password', () => {
    expect(describeDifference({ attribute: 'description', current: ['a'], add: ['b'], remove: [], replace: true }, () => false)).toBe('description: "a" -> "b"');
    expect(describeDifference({ attribute: 'member', current: [], add: ['cn=x'], remove: ['cn=y'], replace: false }, () => false)).toBe('member: +"cn=x" -"cn=y"');
    expect(describeDifference({ attribute: 'userPassword', current: [], add: ['secret'], remove: [], replace: true }, (n) => n === 'userPassword')).toBe('userPassword: (none) -> ***');
  });
});
