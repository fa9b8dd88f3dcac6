import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { canonicalGuid, type EntryLink, type WriteRequest } from '@idsync/contracts';
import { LinkStore } from '@idsync/links';
import { AttributeKnowledge, type CurrentEntry, currentEntry } from '@idsync/writer';
import { compareRequest, DestinationIndex } from './core/resync-compare';
import { type PipeLinks, selectDeletions } from './core/resync-links';
import { decodeEntry, DestinationStore, encodeEntry } from './resync-destination-store';

const options = { kind: 'ldap' as const, attributes: new AttributeKnowledge() };
const CORRELATION = [['uid']];
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const guid = (n: number): string => `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const upsert = (source: number, dn: string, attributes: Record<string, string[]>): WriteRequest => ({
  requestId: `r/${source}`,
  pipe: 'ad-to-ds',
  sourceEventId: `e/${source}`,
  sourceEntryId: { kind: 'objectGUID', value: guid(source) },
  op: 'upsert',
  dn,
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: Object.entries(attributes).map(([name, values]) => ({ name, op: 'replace' as const, values })),
  correlation: [['uid']],
  changeTime: null,
  detectedAt: 0,
});
/** A destination entry with entryUUID `n` (none for n = 0). */
const entry = (dn: string, n: number, attributes: Record<string, string[]> = {}): CurrentEntry =>
  currentEntry({ dn, objectClass: ['top', 'inetOrgPerson'], ...(n === 0 ? {} : { entryUUID: [uuid(n)] }), ...attributes });
const link = (source: number, destination: number): EntryLink => ({
  pipe: 'ad-to-ds',
  source: { directory: 'ad', kind: 'objectGUID', value: guid(source) },
  destination: { directory: 'ds', kind: 'entryUUID', value: uuid(destination) },
  origin: 'created',
  linkedAt: 1,
  linkedBy: 'ds-writer',
});

let parentDir: string;
let links: LinkStore;
let pipeLinks: PipeLinks;
const stores: DestinationStore[] = [];

function storeOf(entries: readonly CurrentEntry[], deletable: (entry: CurrentEntry) => boolean = () => true, pageSize = 2): DestinationStore {
  const store = DestinationStore.create({ parentDir, correlation: CORRELATION, kind: 'ldap', deletable });
  stores.push(store);
  for (let i = 0; i < entries.length; i += pageSize) store.addPage(entries.slice(i, i + pageSize));
  store.finishLoading();
  return store;
}

beforeEach(() => {
  parentDir = mkdtempSync(join(tmpdir(), 'resync-store-spec-'));
  links = LinkStore.open();
  pipeLinks = { lookup: links, source: 'ad', destination: 'ds' };
});

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  links.close();
  rmSync(parentDir, { recursive: true, force: true });
});

describe('DestinationStore.compareBatch', () => {
  it('decides create, update, equal, moved, unlinked and ambiguous as the writer would, a batch at a time', () => {
    links.put(link(1, 11));
    const store = storeOf([
      // Linked to source 1, renamed at the destination and its uid changed: only the link finds it.
      entry('cn=Ann Renamed,ou=Corp,dc=example,dc=com', 11, { cn: ['Ann Renamed'], uid: ['other'] }),
      entry('cn=Bob,ou=Corp,dc=example,dc=com', 12, { cn: ['Bob'], uid: ['bob'] }),
      entry('cn=Cat Old,ou=Corp,dc=example,dc=com', 13, { cn: ['Cat'], uid: ['CAT'] }),
      entry('cn=Dan 1,ou=Corp,dc=example,dc=com', 14, { uid: ['dan'] }),
      entry('cn=Dan 2,ou=Corp,dc=example,dc=com', 15, { uid: ['dan'] }),
    ]);
    const [ann, bob] = store.compareBatch(
      [upsert(1, 'cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), upsert(2, 'CN=Bob,OU=Corp,DC=example,DC=com', { cn: ['Bob'], uid: ['bob'] })],
      options,
      pipeLinks,
      [guid(1), guid(2)],
    );
    const [cat, dan, eve] = store.compareBatch(
      [
        upsert(3, 'cn=Cat,ou=Corp,dc=example,dc=com', { cn: ['Cat'], uid: ['cat'] }),
        upsert(4, 'cn=Dan,ou=Corp,dc=example,dc=com', { uid: ['dan'] }),
        upsert(5, 'cn=Eve,ou=Corp,dc=example,dc=com', { cn: ['Eve'], uid: ['eve'] }),
      ],
      options,
      pipeLinks,
      [guid(3), guid(4), guid(5)],
    );

    expect(ann).toMatchObject({ kind: 'update', foundBy: 'link', link: 'linked', dn: 'cn=Ann Renamed,ou=Corp,dc=example,dc=com' });
    expect(ann?.move).toEqual({ from: 'cn=Ann Renamed,ou=Corp,dc=example,dc=com', to: 'cn=Ann,ou=Corp,dc=example,dc=com' });
    expect(ann?.differences).toEqual([
      { attribute: 'cn', current: ['Ann Renamed'], add: ['Ann'], remove: [], replace: true },
      { attribute: 'uid', current: ['other'], add: ['ann'], remove: [], replace: true },
    ]);
    expect(bob).toMatchObject({ kind: 'equal', foundBy: 'dn', link: 'unlinked', move: null });
    expect(cat).toMatchObject({ foundBy: 'correlation', link: 'unlinked', dn: 'cn=Cat Old,ou=Corp,dc=example,dc=com' });
    expect(dan).toMatchObject({ kind: 'error', problem: 'correlation finds 2 destination entries (cn=Dan 1,ou=Corp,dc=example,dc=com; cn=Dan 2,ou=Corp,dc=example,dc=com)' });
    expect(eve).toMatchObject({ kind: 'create', foundBy: 'none', link: 'none' });
    // Found entries are claimed; the two Dans, which no request could take, are left.
    expect([...store.unclaimed(10)].flat().map((u) => u.entry.dn)).toEqual(['cn=Dan 1,ou=Corp,dc=example,dc=com', 'cn=Dan 2,ou=Corp,dc=example,dc=com']);
  });

  it('compares a destination entry that two source entries find, in two batches, for both, and claims it once', () => {
    const store = storeOf([entry('cn=Ann,ou=Corp,dc=example,dc=com', 11, { cn: ['Ann'], uid: ['ann'] }), entry('cn=Stray,ou=Corp,dc=example,dc=com', 12, { uid: ['stray'] })]);
    const [byDn] = store.compareBatch([upsert(1, 'cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] })], options, pipeLinks, [guid(1)]);
    const [byCorrelation] = store.compareBatch([upsert(2, 'cn=Ann Two,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['the other Ann'] })], options, pipeLinks, [guid(2)]);
    expect(byDn).toMatchObject({ kind: 'equal', foundBy: 'dn', dn: 'cn=Ann,ou=Corp,dc=example,dc=com' });
    expect(byCorrelation).toMatchObject({ kind: 'update', foundBy: 'correlation', dn: 'cn=Ann,ou=Corp,dc=example,dc=com' });
    expect([...store.unclaimed(10)].flat().map((u) => u.entry.dn)).toEqual(['cn=Stray,ou=Corp,dc=example,dc=com']);
  });

  it('looks an entry up by its link wherever the read put it, across pages of the read', () => {
    links.put(link(1, 40));
    const entries = Array.from({ length: 50 }, (_, i) => entry(`cn=User ${i},ou=Corp,dc=example,dc=com`, i + 1, { uid: [`u${i}`] }));
    const store = storeOf(entries, () => true, 7);
    expect(store.size).toBe(50);
    const [found] = store.compareBatch([upsert(1, 'cn=Somebody,ou=Corp,dc=example,dc=com', { uid: ['u39'] })], options, pipeLinks, [guid(1)]);
    expect(found).toMatchObject({
      kind: 'update',
      foundBy: 'link',
      dn: 'cn=User 39,ou=Corp,dc=example,dc=com',
      move: { from: 'cn=User 39,ou=Corp,dc=example,dc=com', to: 'cn=Somebody,ou=Corp,dc=example,dc=com' },
    });
  });
});

describe('DestinationStore with Active Directory as the destination', () => {
  it('keeps binary values as bytes, and finds an entry by its objectGUID link', () => {
    const objectGuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const photo = Buffer.from([0xff, 0xd8, 0x00, 0x01]);
    const store = DestinationStore.create({ parentDir, correlation: [['sAMAccountName']], kind: 'active-directory', deletable: () => true });
    stores.push(store);
    store.addPage([currentEntry({ dn: 'CN=Ann,OU=Corp,DC=example,DC=test', objectClass: ['top', 'user'], objectGUID: objectGuid, thumbnailPhoto: photo, sAMAccountName: 'ann' })]);
    store.finishLoading();
    const adId = canonicalGuid(objectGuid);
    links.put({ ...link(1, 0), pipe: 'ds-to-ad', source: { directory: 'ds', kind: 'entryUUID', value: uuid(1) }, destination: { directory: 'ad', kind: 'objectGUID', value: adId } });
    const request: WriteRequest = {
      ...upsert(1, 'CN=Ann,OU=Moved,DC=example,DC=test', { sAMAccountName: ['ann'] }),
      pipe: 'ds-to-ad',
      sourceEntryId: { kind: 'entryUUID', value: uuid(1) },
      correlation: [['sAMAccountName']],
    };
    const [found] = store.compareBatch([request], { kind: 'active-directory', attributes: new AttributeKnowledge() }, { lookup: links, source: 'ds', destination: 'ad' }, [uuid(1)]);
    expect(found).toMatchObject({ foundBy: 'link', link: 'linked', move: { from: 'CN=Ann,OU=Corp,DC=example,DC=test', to: 'CN=Ann,OU=Moved,DC=example,DC=test' } });
    const [unclaimed] = [...store.unclaimed(10)];
    expect(unclaimed).toBeUndefined();
    const round = decodeEntry(encodeEntry(currentEntry({ dn: 'CN=Ann,DC=example,DC=test', objectGUID: objectGuid, thumbnailPhoto: photo, description: ['{"b":"not bytes"}'] })));
    expect(round.attributes.get('thumbnailphoto')?.values).toEqual([photo]);
    expect(Buffer.isBuffer(round.attributes.get('objectguid')?.values[0])).toBe(true);
    expect(round.attributes.get('description')?.values).toEqual(['{"b":"not bytes"}']);
  });
});

describe('DestinationStore deletion pass (--delete-missing)', () => {
  it('lists the deletable entries no source entry claimed, children first, and sorts them by their links', () => {
    // Gone (source 5 not read) and Kept (source 6 read, mapped elsewhere) are linked; Stray is linked to nothing.
    links.put(link(5, 21));
    links.put(link(6, 22));
    const entries = [
      entry('ou=Old,ou=Corp,dc=example,dc=com', 20),
      entry('cn=Gone,ou=Old,ou=Corp,dc=example,dc=com', 21, { uid: ['gone'] }),
      entry('cn=Kept,ou=Corp,dc=example,dc=com', 22, { uid: ['kept'] }),
      entry('cn=Stray,ou=Corp,dc=example,dc=com', 23, { uid: ['stray'] }),
      entry('cn=Ann,ou=Corp,dc=example,dc=com', 24, { cn: ['Ann'], uid: ['ann'] }),
      entry('cn=Elsewhere,dc=example,dc=com', 25, { uid: ['elsewhere'] }),
    ];
    const store = storeOf(entries, (e) => e.dn.endsWith('ou=Corp,dc=example,dc=com'));
    store.compareBatch([upsert(1, 'cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] })], options, pipeLinks, [guid(1), guid(6)]);

    const batches = [...store.unclaimed(2)];
    expect(batches.map((b) => b.map((u) => u.entry.dn))).toEqual([
      ['cn=Gone,ou=Old,ou=Corp,dc=example,dc=com', 'cn=Kept,ou=Corp,dc=example,dc=com'],
      ['cn=Stray,ou=Corp,dc=example,dc=com', 'ou=Old,ou=Corp,dc=example,dc=com'],
    ]);
    expect(batches[0]?.[0]?.id).toBe(uuid(21));
    const selection = selectDeletions(batches.flat(), pipeLinks, store.sourceIdsRead);
    expect(selection.candidates.map((c) => [c.entry.dn, c.sources.map((s) => s.value)])).toEqual([['cn=Gone,ou=Old,ou=Corp,dc=example,dc=com', [guid(5)]]]);
    expect(selection.sourceRead.map((u) => u.entry.dn)).toEqual(['cn=Kept,ou=Corp,dc=example,dc=com']);
    expect(selection.unlinked.map((u) => u.entry.dn)).toEqual(['cn=Stray,ou=Corp,dc=example,dc=com', 'ou=Old,ou=Corp,dc=example,dc=com']);
  });

  it('knows what an interrupted run published (exact ids), and how many distinct ones', () => {
    const store = storeOf([]);
    store.recordPublishedBefore([guid(1), guid(2)]);
    store.recordPublishedBefore([guid(2)]);
    expect([store.publishedBefore.has(guid(1)), store.publishedBefore.has(guid(3)), store.publishedBefore.count()]).toEqual([true, false, 2]);
  });

  it('knows the source ids read in any case', () => {
    const store = storeOf([]);
    store.compareBatch([], options, pipeLinks, [guid(7).toUpperCase()]);
    expect([store.sourceIdsRead.has(guid(7)), store.sourceIdsRead.has(guid(7).toUpperCase()), store.sourceIdsRead.has(guid(8))]).toEqual([true, true, false]);
  });
});

describe('DestinationStore file', () => {
  it('lives in a directory of its own under the parent, removed on close', () => {
    const store = storeOf([entry('cn=Ann,dc=example,dc=com', 1)]);
    expect(readdirSync(parentDir)).toEqual([basename(store.dir)]);
    expect(existsSync(join(store.dir, 'destination.sqlite'))).toBe(true);
    store.close();
    expect(readdirSync(parentDir)).toEqual([]);
  });

  it("removes the directories of this host's resyncs that died, and keeps a live one's", () => {
    const own = storeOf([]);
    // The prefix is the host's; the process id follows it.
    const prefix = basename(own.dir).slice(0, basename(own.dir).indexOf(`${process.pid}-`));
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    const dead = join(parentDir, `${prefix}${deadPid}-abc123`);
    const live = join(parentDir, `${prefix}${process.ppid}-def456`);
    const otherHost = join(parentDir, `resync-index-another_host-${deadPid}-ghi789`);
    for (const dir of [dead, live, otherHost]) mkdirSync(dir);
    const next = storeOf([]);
    expect(readdirSync(parentDir).sort()).toEqual([basename(own.dir), basename(next.dir), basename(live), basename(otherHost)].sort());
  });

  it('refuses lookups before the read is finished, and pages after it', () => {
    const store = DestinationStore.create({ parentDir, correlation: CORRELATION, kind: 'ldap', deletable: () => true });
    stores.push(store);
    expect(() => store.compareBatch([], options, pipeLinks, [])).toThrow(/before finishLoading/);
    store.finishLoading();
    expect(() => store.addPage([entry('cn=Late,dc=example,dc=com', 1)])).toThrow(/after the read was finished/);
  });
});

describe('DestinationStore against the whole in-memory index', () => {
  const names = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay'];
  const dnOf = (name: string, ou: string): string => `cn=${name},ou=${ou},dc=example,dc=com`;
  /** Destination entries (unique DNs and ids), requests over the same names, links from sources to some entries. */
  const world = fc
    .record({
      entries: fc.uniqueArray(fc.record({ name: fc.constantFrom(...names), ou: fc.constantFrom('A', 'B'), uid: fc.option(fc.constantFrom(...names), { nil: undefined }) }), {
        selector: (e) => `${e.name}/${e.ou}`,
        maxLength: 12,
      }),
      requests: fc.array(fc.record({ name: fc.constantFrom(...names), ou: fc.constantFrom('A', 'B'), uid: fc.constantFrom(...names), linkedTo: fc.option(fc.nat(14), { nil: undefined }) }), {
        maxLength: 10,
      }),
      batch: fc.integer({ min: 1, max: 4 }),
      page: fc.integer({ min: 1, max: 5 }),
    })
    .map((w) => ({ ...w, entries: w.entries.map((e, i) => ({ ...e, n: i + 1 })) }));

  it('makes the same decisions and leaves the same entries unclaimed, whatever the batch and page sizes', () => {
    fc.assert(
      fc.property(world, (w) => {
        links.close();
        links = LinkStore.open();
        pipeLinks = { lookup: links, source: 'ad', destination: 'ds' };
        const entries = w.entries.map((e) => entry(dnOf(e.name, e.ou), e.n, e.uid === undefined ? {} : { uid: [e.uid] }));
        const requests = w.requests.map((r, i) => {
          if (r.linkedTo !== undefined) links.put(link(i + 1, r.linkedTo));
          return upsert(i + 1, dnOf(r.name, r.ou), { cn: [r.name], uid: [r.uid] });
        });
        const whole = new DestinationIndex(entries, CORRELATION, 'ldap');
        const expected = requests.map((r) => compareRequest(r, whole, options, pipeLinks));
        const store = storeOf(entries, () => true, w.page);
        const actual = [];
        for (let i = 0; i < requests.length; i += w.batch) actual.push(...store.compareBatch(requests.slice(i, i + w.batch), options, pipeLinks, []));
        expect(actual).toEqual(expected);
        expect(new Set([...store.unclaimed(3)].flat().map((u) => `${u.entry.dn} ${u.id}`))).toEqual(new Set(whole.unclaimed().map((u) => `${u.entry.dn} ${u.id}`)));
        store.close();
      }),
      { numRuns: 60 },
    );
  });
});
