import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { linkKey, type EntryLink } from '@idsync/contracts';
import { LinkStore, type LinkRecord, type LinkStoreOptions } from './store';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** Lower-case UUID n, readable in failures: 00000000-0000-4000-8000-00000000000n. */
const id = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** AD entry `from` linked to DS entry `to` on pipe ad-to-ds (or DS to AD on ds-to-ad). */
function link(from: number, to: number, overrides: Partial<EntryLink> = {}): EntryLink {
  const adToDs = (overrides.pipe ?? 'ad-to-ds') === 'ad-to-ds';
  return {
    pipe: 'ad-to-ds',
    source: adToDs ? { directory: 'ad', kind: 'objectGUID', value: id(from) } : { directory: 'ds', kind: 'entryUUID', value: id(from) },
    destination: adToDs ? { directory: 'ds', kind: 'entryUUID', value: id(to) } : { directory: 'ad', kind: 'objectGUID', value: id(to) },
    origin: 'created',
    linkedAt: 1_000,
    linkedBy: 'ds-writer',
    ...overrides,
  };
}

const record = (l: EntryLink, offset: number, partition = 0): LinkRecord => ({ key: linkKey(l), link: l, partition, offset: String(offset) });
const tombstone = (l: EntryLink, offset: number, partition = 0): LinkRecord => ({ key: linkKey(l), link: null, partition, offset: String(offset) });

let dir: string;
let path: string;
let now: number;
const open = (options: LinkStoreOptions = {}): LinkStore => LinkStore.open({ path, clock: () => now, ...options });
const stores: LinkStore[] = [];
function track(store: LinkStore): LinkStore {
  stores.push(store);
  return store;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'link-store-spec-'));
  path = join(dir, 'links.sqlite');
  now = 1_700_000_000_000;
});

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('LinkStore lookups', () => {
  it('counterpart finds a link from either end', () => {
    const store = track(open());
    const l = link(1, 2);
    store.put(l);
    expect(store.counterpart('ad', id(1), 'ds')).toEqual({ ...l, key: linkKey(l) });
    expect(store.counterpart('ds', id(2), 'ad')).toEqual({ ...l, key: linkKey(l) });
  });

  it('counterpart only joins the two directories asked for', () => {
    const store = track(open());
    store.put(link(1, 2));
    expect(store.counterpart('ad', id(1), 'other')).toBeNull();
    expect(store.counterpart('ds', id(1), 'ad')).toBeNull();
    expect(store.counterpart('ad', id(2), 'ds')).toBeNull();
    expect(store.counterpart('ad', id(3), 'ds')).toBeNull();
  });

  it('counterpart picks the newest link when an entry has several', () => {
    const store = track(open());
    store.put(link(1, 2, { linkedAt: 5_000 }));
    store.put(link(3, 1, { pipe: 'ds-to-ad', linkedAt: 9_000 }));
    store.put(link(1, 4, { linkedAt: 7_000 }));
    expect(store.counterpart('ad', id(1), 'ds')?.key).toBe(`ds-to-ad/${id(3)}/${id(1)}`);
  });

  it('linksOf lists every live link with the id at either end', () => {
    const store = track(open());
    store.put(link(1, 2, { linkedAt: 1 }));
    store.put(link(3, 1, { pipe: 'ds-to-ad', linkedAt: 2 }));
    store.put(link(5, 6));
    expect(store.linksOf(id(1)).map((l) => l.key)).toEqual([`ds-to-ad/${id(3)}/${id(1)}`, `ad-to-ds/${id(1)}/${id(2)}`]);
    expect(store.linksOf(id(6))).toEqual([{ ...link(5, 6), key: linkKey(link(5, 6)) }]);
    expect(store.linksOf(id(7))).toEqual([]);
  });

  it('all streams every live link, and can be left early', () => {
    const store = track(open());
    store.apply([record(link(3, 4), 0), record(link(1, 2), 1), record(link(5, 6), 2), tombstone(link(5, 6), 3)]);
    expect([...store.all()].map((l) => l.key).sort()).toEqual([linkKey(link(1, 2)), linkKey(link(3, 4))]);
    expect([...store.all()].find((l) => l.source.value === id(3))).toEqual({ ...link(3, 4), key: linkKey(link(3, 4)) });
    let seen = 0;
    for (const _ of store.all()) {
      seen++;
      break;
    }
    expect(seen).toBe(1);
    expect([...store.all()]).toHaveLength(2);
  });
});

describe('LinkStore live updates', () => {
  it('a link record adds the link and moves the position past it', () => {
    const store = track(open());
    store.apply([record(link(1, 2), 41, 0), record(link(3, 4), 7, 2)]);
    expect(store.counts()).toEqual({ links: 2, retired: 0 });
    expect(store.positions()).toEqual(
      new Map([
        [0, 42n],
        [2, 8n],
      ]),
    );
  });

  it('a tombstone retires the pair and the id is found among the retired', () => {
    const store = track(open());
    const l = link(1, 2);
    store.apply([record(l, 0)]);
    now += 5_000;
    store.apply([tombstone(l, 1)]);
    expect(store.counterpart('ad', id(1), 'ds')).toBeNull();
    expect(store.linksOf(id(2))).toEqual([]);
    const retired = { key: linkKey(l), pipe: 'ad-to-ds', source: id(1), destination: id(2), retiredAt: now };
    expect(store.retired(id(1))).toEqual([retired]);
    expect(store.retired(id(2))).toEqual([retired]);
    expect(store.counts()).toEqual({ links: 0, retired: 1 });
  });

  it('a tombstone for a link never seen still retires the pair', () => {
    const store = track(open());
    store.apply([tombstone(link(1, 2), 9)]);
    expect(store.retired(id(2)).map((r) => r.key)).toEqual([linkKey(link(1, 2))]);
  });

  it('a link again after its tombstone takes the pair off the retired list', () => {
    const store = track(open());
    const l = link(1, 2);
    store.apply([record(l, 0), tombstone(l, 1)]);
    store.apply([record(l, 2)]);
    expect(store.retired(id(1))).toEqual([]);
    expect(store.counterpart('ds', id(2), 'ad')?.key).toBe(linkKey(l));
  });

  it('the later record of a key in one batch wins', () => {
    const store = track(open());
    const first = link(1, 2, { origin: 'correlation' });
    const second = link(1, 2, { origin: 'resync', linkedAt: 2_000 });
    store.apply([record(first, 0), record(second, 1)]);
    expect(store.linksOf(id(1))).toEqual([{ ...second, key: linkKey(second) }]);
    store.apply([record(first, 2), tombstone(first, 3)]);
    expect(store.linksOf(id(1))).toEqual([]);
  });

  it('a tombstone whose key does not parse changes nothing but the position', () => {
    const store = track(open());
    store.apply([record(link(1, 2), 0)]);
    store.apply([{ key: 'not a link key', link: null, partition: 0, offset: '1' }]);
    expect(store.counts()).toEqual({ links: 1, retired: 0 });
    expect(store.positions().get(0)).toBe(2n);
  });

  it('a link is stored under its own pair, whatever the key of its record', () => {
    const store = track(open());
    store.apply([{ key: 'some other key', link: link(1, 2), partition: 0, offset: '0' }]);
    expect(store.linksOf(id(1)).map((l) => l.key)).toEqual([linkKey(link(1, 2))]);
    store.apply([tombstone(link(1, 2), 1)]);
    expect(store.counts()).toEqual({ links: 0, retired: 1 });
  });

  it('positions never move back', () => {
    const store = track(open());
    store.apply([record(link(1, 2), 100)]);
    store.apply([record(link(3, 4), 50)]);
    expect(store.positions().get(0)).toBe(101n);
  });

  it('keeps offsets beyond 2^53 exact', () => {
    const store = track(open());
    store.apply([record(link(1, 2), 0), { ...record(link(1, 2), 0), offset: '9007199254740993' }]);
    expect(store.positions().get(0)).toBe(9007199254740994n);
  });

  it('a record with a bad offset fails the whole batch and changes nothing', () => {
    const store = track(open());
    expect(() => store.apply([record(link(1, 2), 0), { ...record(link(3, 4), 0), offset: '-1' }])).toThrow(RangeError);
    expect(store.counts()).toEqual({ links: 0, retired: 0 });
    expect(store.positions().size).toBe(0);
  });

  it('put and remove write through without moving positions', () => {
    const store = track(open());
    const key = store.put(link(1, 2));
    expect(key).toBe(`ad-to-ds/${id(1)}/${id(2)}`);
    expect(store.counterpart('ds', id(2), 'ad')?.key).toBe(key);
    store.remove(key);
    expect(store.counterpart('ds', id(2), 'ad')).toBeNull();
    expect(store.retired(id(1)).map((r) => r.key)).toEqual([key]);
    expect(store.positions().size).toBe(0);
  });
});

describe('LinkStore retention', () => {
  it('retired pairs past the retention are no longer reported', () => {
    const store = track(open({ retiredRetentionMs: DAY }));
    store.apply([tombstone(link(1, 2), 0)]);
    now += DAY - 1;
    expect(store.retired(id(1))).toHaveLength(1);
    now += 2;
    expect(store.retired(id(1))).toEqual([]);
  });

  it('retired pairs older than retention are pruned', () => {
    const store = track(open({ retiredRetentionMs: DAY }));
    store.apply([tombstone(link(1, 2), 0)]);
    now += 12 * HOUR;
    store.apply([tombstone(link(3, 4), 1)]);
    expect(store.counts().retired).toBe(2);
    now += 13 * HOUR;
    store.apply([record(link(5, 6), 2)]);
    expect(store.counts().retired).toBe(1);
    expect(store.retired(id(3))).toHaveLength(1);
  });

  it('an apply within the hour does not prune again', () => {
    const store = track(open({ retiredRetentionMs: HOUR / 2 }));
    store.apply([tombstone(link(1, 2), 0)]);
    now += HOUR - 1;
    store.apply([record(link(5, 6), 1)]);
    expect(store.counts().retired).toBe(1);
    expect(store.retired(id(1))).toEqual([]);
  });
});

describe('LinkStore bulk load', () => {
  it('the latest record of a key wins in a bulk load', () => {
    const store = track(open());
    const a = link(1, 2, { origin: 'correlation' });
    const aLater = link(1, 2, { origin: 'resync', linkedAt: 3_000 });
    const b = link(3, 4);
    const c = link(5, 6);
    const loader = store.bulkLoad();
    // Out of order across and within calls: offsets decide, not arrival.
    loader.add([record(aLater, 10), tombstone(b, 12), record(c, 4)]);
    loader.add([record(a, 3), record(b, 11), tombstone(c, 2)]);
    loader.finish();
    expect(store.linksOf(id(1))).toEqual([{ ...aLater, key: linkKey(aLater) }]);
    expect(store.linksOf(id(3))).toEqual([]);
    expect(store.linksOf(id(5)).map((l) => l.key)).toEqual([linkKey(c)]);
    expect(store.retired(id(4)).map((r) => r.key)).toEqual([linkKey(b)]);
    expect(store.retired(id(6))).toEqual([]);
  });

  it('compares offsets as numbers, not as text', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    loader.add([record(link(1, 2), 10), tombstone(link(1, 2), 9)]);
    loader.finish();
    expect(store.counts()).toEqual({ links: 1, retired: 0 });
  });

  it('a bulk load records the next offset of each partition', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    loader.add([record(link(1, 2), 5, 0), record(link(3, 4), 17, 1)]);
    loader.add([record(link(5, 6), 2, 0), tombstone(link(7, 8), 30, 1)]);
    loader.finish();
    expect(store.positions()).toEqual(
      new Map([
        [0, 6n],
        [1, 31n],
      ]),
    );
    expect(store.counts()).toEqual({ links: 3, retired: 1 });
  });

  it('retires tombstoned keys at the time of the load', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    loader.add([tombstone(link(1, 2), 0), { key: 'garbage', link: null, partition: 0, offset: '1' }]);
    now += 1_234;
    loader.finish();
    expect(store.retired(id(2))).toEqual([{ key: linkKey(link(1, 2)), pipe: 'ad-to-ds', source: id(1), destination: id(2), retiredAt: now }]);
    expect(store.counts().retired).toBe(1);
  });

  it('a bulk load on top of live data', () => {
    const store = track(open());
    const kept = link(1, 2);
    const removed = link(3, 4);
    const relinked = link(5, 6);
    const replaced = link(7, 8, { origin: 'dn' });
    store.apply([record(kept, 0), record(removed, 1), record(relinked, 2), tombstone(relinked, 3), record(replaced, 4)]);
    const loader = store.bulkLoad();
    loader.add([tombstone(removed, 5), record(relinked, 6), record(link(7, 8, { origin: 'resync' }), 7), record(link(9, 10), 8, 3)]);
    loader.finish();
    expect([...store.all()].map((l) => [l.key, l.origin]).sort()).toEqual([
      [linkKey(kept), 'created'],
      [linkKey(relinked), 'created'],
      [linkKey(replaced), 'resync'],
      [linkKey(link(9, 10)), 'created'],
    ]);
    expect(store.retired(id(3)).map((r) => r.key)).toEqual([linkKey(removed)]);
    expect(store.retired(id(5))).toEqual([]);
    expect(store.positions()).toEqual(
      new Map([
        [0, 8n],
        [3, 9n],
      ]),
    );
  });

  it('a small bulk load on top of many links keeps lookups working', () => {
    const store = track(open());
    store.apply(Array.from({ length: 20 }, (_, i) => record(link(100 + i, 200 + i), i)));
    const loader = store.bulkLoad();
    loader.add([tombstone(link(100, 200), 20), record(link(1, 2), 21)]);
    loader.finish();
    expect(store.counterpart('ds', id(219), 'ad')?.source.value).toBe(id(119));
    expect(store.counterpart('ds', id(2), 'ad')?.source.value).toBe(id(1));
    expect(store.counterpart('ds', id(200), 'ad')).toBeNull();
    expect(store.counts()).toEqual({ links: 20, retired: 1 });
  });

  it('a bulk load leaves the id lookups indexed', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    loader.add([record(link(1, 2), 0)]);
    loader.finish();
    store.close();
    const db = new DatabaseSync(path);
    const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'links' AND sql IS NOT NULL").all();
    db.close();
    expect(indexes.map((r) => r['name']).sort()).toEqual(['links_destination', 'links_pair']);
  });

  it('nothing staged is visible before finish', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    loader.add([record(link(1, 2), 0)]);
    expect(store.counterpart('ad', id(1), 'ds')).toBeNull();
    expect(store.positions().size).toBe(0);
    loader.finish();
    expect(store.counterpart('ad', id(1), 'ds')).not.toBeNull();
  });

  it('refuses writes while a bulk load runs, and a loader once finished', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    expect(() => store.apply([record(link(1, 2), 0)])).toThrow('a bulk load is in progress');
    expect(() => store.put(link(1, 2))).toThrow('a bulk load is in progress');
    expect(() => store.bulkLoad()).toThrow('a bulk load is in progress');
    loader.finish();
    expect(() => loader.add([record(link(1, 2), 0)])).toThrow('this bulk load is over');
    store.apply([record(link(1, 2), 0)]);
    expect(store.counts().links).toBe(1);
  });
});

describe('LinkStore file', () => {
  it('a reopened store keeps links, retired pairs and positions', () => {
    const first = open();
    first.apply([record(link(1, 2), 0, 0), record(link(3, 4), 9, 1), tombstone(link(5, 6), 10, 1)]);
    first.close();
    const store = track(open());
    expect(store.counterpart('ds', id(4), 'ad')?.key).toBe(linkKey(link(3, 4)));
    expect(store.retired(id(5)).map((r) => r.key)).toEqual([linkKey(link(5, 6))]);
    expect(store.positions()).toEqual(
      new Map([
        [0, 1n],
        [1, 11n],
      ]),
    );
  });

  it('a file from another schema version is wiped', () => {
    const first = open();
    first.apply([record(link(1, 2), 0)]);
    first.close();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 999');
    db.close();
    const store = track(open());
    expect(store.counts()).toEqual({ links: 0, retired: 0 });
    expect(store.positions().size).toBe(0);
    store.apply([record(link(1, 2), 0)]);
    expect(store.counts().links).toBe(1);
  });

  it('a bulk load never finished leaves the store as it was, and no staging file', () => {
    const first = open();
    first.apply([record(link(1, 2), 0)]);
    first.bulkLoad().add([record(link(3, 4), 1), tombstone(link(1, 2), 2)]);
    expect(existsSync(`${path}-load`)).toBe(true);
    first.close();
    expect(existsSync(`${path}-load`)).toBe(false);
    const store = track(open());
    expect(store.counts()).toEqual({ links: 1, retired: 0 });
    expect(store.positions()).toEqual(new Map([[0, 1n]]));
  });

  it('a file left by a bulk load cut short while applying is wiped', () => {
    const first = open();
    first.apply([record(link(1, 2), 0)]);
    first.close();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 0');
    db.close();
    writeFileSync(`${path}-load`, 'left by a crash');
    const store = track(open());
    expect(store.counts()).toEqual({ links: 0, retired: 0 });
    expect(existsSync(`${path}-load`)).toBe(false);
  });

  it('a finished bulk load leaves no staging file', () => {
    const store = track(open());
    const loader = store.bulkLoad();
    loader.add([record(link(1, 2), 0)]);
    loader.finish();
    expect(existsSync(`${path}-load`)).toBe(false);
  });

  it('a file that is not a database is an error naming it', () => {
    writeFileSync(path, Buffer.alloc(8192, 'not sqlite'));
    expect(() => open()).toThrow(path);
  });

  it('a file in a directory that does not exist is an error naming it', () => {
    const missing = join(dir, 'missing', 'links.sqlite');
    expect(() => LinkStore.open({ path: missing })).toThrow(missing);
  });

  it('without a path, uses a temporary file removed on close', () => {
    const store = LinkStore.open();
    store.put(link(1, 2));
    expect(existsSync(store.path)).toBe(true);
    store.close();
    expect(existsSync(dirname(store.path))).toBe(false);
  });
});
