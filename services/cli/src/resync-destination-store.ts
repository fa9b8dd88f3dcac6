import { hash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type DirectoryKind } from '@idsync/config';
import { type AttributeValue, type WriteRequest } from '@idsync/contracts';
import { type CurrentEntry, type EntryAttribute, type PlanOptions } from '@idsync/writer';
import { inTransaction } from '@idsync/links';
import { type Comparison, compareRequest, DestinationIndex, type DestinationLookup, destinationKeys, dnDepth, type KeyedEntry, type RequestKeys, requestKeys } from './core/resync-compare';
import { linkedDestination, linksOnce, type PipeLinks, type UnclaimedEntry } from './core/resync-links';

/**
 * A resync's destination on disk: every destination entry read, in a temporary SQLite file, so that the memory a
 * resync takes does not grow with the size of the directories. Entries are looked up a batch of source entries at a
 * time (`batchIndex`): the rows any of the batch's requests can find by link, DN or correlation are loaded into an
 * in-memory DestinationIndex, which makes the exact decisions; the file's keys only select candidates (DN and
 * correlation keys are stored as digests, so a collision only loads one entry too many). Entries a source entry
 * found are marked, and the source ids read are kept, so that `--delete-missing` is a query over the unmarked rows.
 *
 * The file is a scratch copy: no journal, no fsync; a crash leaves a directory that the next resync removes.
 */

export interface DestinationStoreOptions {
  /** Where the temporary directory goes (the resync state directory); created when missing. */
  readonly parentDir: string;
  readonly correlation: readonly (readonly string[])[];
  /** The destination's kind, to index entries by their id (objectGUID, entryUUID). */
  readonly kind: DirectoryKind;
  /** Whether an entry may be a delete candidate (of the pipe's classes, under its destination subtree). */
  readonly deletable: (entry: CurrentEntry) => boolean;
  /** SQLite's page cache, MiB (default 16): with the batch in memory, what the store takes whatever its size. */
  readonly cacheMb?: number;
}

/** The destination entries one batch of requests can find, and how to mark those the batch claimed. */
export interface BatchIndex {
  readonly index: DestinationIndex;
  /** Rows by normalized DN, to mark what the index's claims name. */
  readonly rowsByDn: ReadonlyMap<string, readonly number[]>;
}

/** Named after the host and process, so that only directories of this host's dead processes are removed. */
const DIR_PREFIX = `resync-index-${hostname().replace(/[^A-Za-z0-9.]/g, '_')}-`;

const CREATE = `
  CREATE TABLE entries (
    dn_digest TEXT NOT NULL,
    id TEXT,
    dn TEXT NOT NULL,
    depth INTEGER NOT NULL,
    deletable INTEGER NOT NULL,
    matched INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
  );
  CREATE TABLE correlation (digest TEXT NOT NULL, entry INTEGER NOT NULL);
  CREATE TABLE source_ids (id TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
  CREATE TABLE published_before (id TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
`;
/** Built once the read is over: faster than keeping them up to date row by row. */
const CREATE_INDEXES = `
  CREATE INDEX entries_dn ON entries (dn_digest);
  CREATE INDEX entries_id ON entries (id);
  CREATE INDEX correlation_digest ON correlation (digest);
`;

const SQL = {
  insertEntry: 'INSERT INTO entries (dn_digest, id, dn, depth, deletable, body) VALUES (?, ?, ?, ?, ?, ?)',
  insertCorrelation: 'INSERT INTO correlation (digest, entry) VALUES (?, ?)',
  // Every row one of the keys finds, in read order (the in-memory index then answers as the whole index would).
  candidates: `
    SELECT rowid, dn, id, body FROM entries WHERE rowid IN (
      SELECT rowid FROM entries WHERE id IN (SELECT value FROM json_each(?1))
      UNION SELECT rowid FROM entries WHERE dn_digest IN (SELECT value FROM json_each(?2))
      UNION SELECT entry FROM correlation WHERE digest IN (SELECT value FROM json_each(?3))
    ) ORDER BY rowid`,
  markMatched: 'UPDATE entries SET matched = 1 WHERE rowid = ?',
  insertSourceId: 'INSERT OR IGNORE INTO source_ids (id) VALUES (?)',
  sourceIdRead: 'SELECT 1 AS found FROM source_ids WHERE id = ?',
  count: 'SELECT count(*) AS n FROM entries',
  insertPublishedBefore: 'INSERT OR IGNORE INTO published_before (id) VALUES (?)',
  publishedBefore: 'SELECT 1 AS found FROM published_before WHERE id = ?',
  countPublishedBefore: 'SELECT count(*) AS n FROM published_before',
  // Children before their parents; siblings by DN.
  unclaimed: 'SELECT id, body FROM entries WHERE matched = 0 AND deletable = 1 ORDER BY depth DESC, dn',
} as const;

export class DestinationStore {
  private readonly statements: { readonly [K in Exclude<keyof typeof SQL, 'unclaimed'>]: StatementSync };
  private loaded = false;
  private closed = false;
  private entries = 0;

  private constructor(
    private readonly db: DatabaseSync,
    /** The temporary directory holding the file, removed by close(). */
    readonly dir: string,
    private readonly options: DestinationStoreOptions,
  ) {
    this.statements = {
      insertEntry: db.prepare(SQL.insertEntry),
      insertCorrelation: db.prepare(SQL.insertCorrelation),
      candidates: db.prepare(SQL.candidates),
      markMatched: db.prepare(SQL.markMatched),
      insertSourceId: db.prepare(SQL.insertSourceId),
      sourceIdRead: db.prepare(SQL.sourceIdRead),
      count: db.prepare(SQL.count),
      insertPublishedBefore: db.prepare(SQL.insertPublishedBefore),
      publishedBefore: db.prepare(SQL.publishedBefore),
      countPublishedBefore: db.prepare(SQL.countPublishedBefore),
    };
  }

  /**
   * A new store in a temporary directory under `options.parentDir`. Directories left by resyncs of this host that
   * died (their process is gone) are removed first.
   */
  static create(options: DestinationStoreOptions): DestinationStore {
    mkdirSync(options.parentDir, { recursive: true });
    removeAbandoned(options.parentDir);
    const dir = mkdtempSync(join(options.parentDir, `${DIR_PREFIX}${process.pid}-`));
    try {
      const db = new DatabaseSync(join(dir, 'destination.sqlite'));
      // Defensive mode (node:sqlite's default) refuses journal_mode=OFF; a scratch file needs no journal.
      db.enableDefensive(false);
      db.exec(`PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = FILE;
        PRAGMA cache_size = ${-1024 * (options.cacheMb ?? 16)};`);
      db.exec(CREATE);
      return new DestinationStore(db, dir, options);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Adds a page of the destination read, in one transaction. */
  addPage(entries: readonly CurrentEntry[]): void {
    this.assertOpen();
    if (this.loaded) throw new Error('DestinationStore: entries added after the read was finished');
    inTransaction(this.db, () => {
      for (const entry of entries) {
        const keys = destinationKeys(entry, this.options.correlation, this.options.kind);
        const { lastInsertRowid } = this.statements.insertEntry.run(digest(keys.dn), keys.id, keys.dn, dnDepth(entry.dn), this.options.deletable(entry) ? 1 : 0, encodeEntry(entry));
        for (const key of keys.correlation) this.statements.insertCorrelation.run(digest(key), lastInsertRowid);
      }
    });
    this.entries += entries.length;
  }

  /** The read is over: indexes the keys. */
  finishLoading(): void {
    this.assertOpen();
    if (this.loaded) return;
    this.db.exec(CREATE_INDEXES);
    this.loaded = true;
  }

  get size(): number {
    return this.entries;
  }

  /**
   * Plans a batch of requests as compareRequest would against the whole destination (the decisions are the same:
   * create, update, equal, moved, unlinked, errors), with one read of the entries they can find; marks the entries
   * found and records the batch's source ids (`sourceIds`) for the deletion pass.
   */
  compareBatch(requests: readonly WriteRequest[], options: PlanOptions, links: PipeLinks | undefined, sourceIds: Iterable<string>): Comparison[] {
    const batchLinks = links === undefined ? undefined : linksOnce(links);
    const keys = requests.map((request) => requestKeys(request, batchLinks === undefined ? null : linkedDestination(batchLinks, request.sourceEntryId.value), this.options.correlation));
    const batch = this.batchIndex(keys);
    // The keys computed for the query serve the comparisons too (the same request, linked to the same id).
    const known = new Map(requests.map((request, i) => [request, keys[i] as RequestKeys]));
    const lookup: DestinationLookup = {
      find: (request, linkedId = null) => {
        const computed = known.get(request);
        return computed !== undefined && computed.linkedId === (linkedId === null ? null : linkedId.toLowerCase()) ? batch.index.findByKeys(computed) : batch.index.find(request, linkedId);
      },
      idOf: (entry) => batch.index.idOf(entry),
      claim: (dn) => batch.index.claim(dn),
    };
    const comparisons = requests.map((request) => compareRequest(request, lookup, options, batchLinks));
    this.recordBatch(batch, sourceIds);
    return comparisons;
  }

  /** Every destination entry the requests of a batch can find (by their keys), indexed in memory. */
  batchIndex(requests: readonly RequestKeys[]): BatchIndex {
    this.assertLoaded();
    const ids = new Set<string>();
    const dns = new Set<string>();
    const correlation = new Set<string>();
    for (const keys of requests) {
      if (keys.linkedId !== null) ids.add(keys.linkedId);
      dns.add(digest(keys.dn));
      for (const key of keys.correlation) correlation.add(digest(key));
    }
    const entries: KeyedEntry[] = [];
    const rowsByDn = new Map<string, number[]>();
    if (requests.length > 0) {
      for (const row of this.statements.candidates.iterate(JSON.stringify([...ids]), JSON.stringify([...dns]), JSON.stringify([...correlation]))) {
        // The keys as stored: the DN normalized once, when the entry was read.
        const dn = row['dn'] as string;
        entries.push({ entry: decodeEntry(row['body'] as string), dn, id: (row['id'] as string | null) ?? null });
        const rows = rowsByDn.get(dn);
        if (rows) rows.push(Number(row['rowid']));
        else rowsByDn.set(dn, [Number(row['rowid'])]);
      }
    }
    return { index: DestinationIndex.ofKeyed(entries, this.options.correlation), rowsByDn };
  }

  /**
   * After a batch: marks the entries its requests claimed (they are no delete candidates) and keeps the source ids
   * it read (lower-case; entries linked to them are no delete candidates either), in one transaction.
   */
  recordBatch(batch: BatchIndex, sourceIds: Iterable<string>): void {
    this.assertLoaded();
    inTransaction(this.db, () => {
      for (const dn of batch.index.claimedDns()) for (const row of batch.rowsByDn.get(dn) ?? []) this.statements.markMatched.run(row);
      for (const id of sourceIds) this.statements.insertSourceId.run(id.toLowerCase());
    });
  }

  /** Entry ids an interrupted run already published (exact ids, as its state file lists them), in one transaction. */
  recordPublishedBefore(ids: readonly string[]): void {
    this.assertOpen();
    inTransaction(this.db, () => {
      for (const id of ids) this.statements.insertPublishedBefore.run(id);
    });
  }

  /** The ids an interrupted run published: whether one is among them, and how many (distinct) there are. */
  readonly publishedBefore = {
    has: (id: string): boolean => this.statements.publishedBefore.get(id) !== undefined,
    count: (): number => Number(this.statements.countPublishedBefore.get()?.['n'] ?? 0),
  };

  /** Whether the source read returned this id (any case): a set-like view for selectDeletions. */
  readonly sourceIdsRead = {
    has: (id: string): boolean => this.statements.sourceIdRead.get(id.toLowerCase()) !== undefined,
  };

  /**
   * Deletable entries no source entry claimed, deepest first (children before their parents), siblings by DN, in
   * batches of `size`. Read from the file as they are consumed.
   */
  *unclaimed(size: number): Iterable<UnclaimedEntry[]> {
    this.assertLoaded();
    let batch: UnclaimedEntry[] = [];
    // Its own statement: the caller may look things up (sourceIdsRead) between batches.
    for (const row of this.db.prepare(SQL.unclaimed).iterate()) {
      batch.push({ entry: decodeEntry(row['body'] as string), id: (row['id'] as string | null) ?? null });
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** Closes the file and removes its directory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`DestinationStore ${this.dir}: used after close()`);
  }

  private assertLoaded(): void {
    this.assertOpen();
    if (!this.loaded) throw new Error('DestinationStore: looked up before finishLoading()');
  }
}

/** A binary value in an entry's JSON text. */
interface EncodedBytes {
  readonly b: string;
}
type EncodedEntry = [dn: string, attributes: [key: string, name: string, values: (string | EncodedBytes)[]][]];

/**
 * An entry as JSON text, bytes as base64. JSON rather than v8.serialize: each of its calls holds native memory until
 * a garbage collection the JS heap does not ask for, and a resync's RSS grew with the entry count because of it.
 */
export function encodeEntry(entry: CurrentEntry): string {
  const attributes: EncodedEntry[1] = [];
  for (const [key, attribute] of entry.attributes) attributes.push([key, attribute.name, attribute.values.map((v) => (Buffer.isBuffer(v) ? { b: v.toString('base64') } : v))]);
  return JSON.stringify([entry.dn, attributes] satisfies EncodedEntry);
}

export function decodeEntry(text: string): CurrentEntry {
  const [dn, encoded] = JSON.parse(text) as EncodedEntry;
  const attributes = new Map<string, EntryAttribute>();
  for (const [key, name, values] of encoded) attributes.set(key, { name, values: values.map((v): AttributeValue => (typeof v === 'string' ? v : Buffer.from(v.b, 'base64'))) });
  return { dn, attributes };
}

/** A fixed-size key for a DN or a correlation key (values can be long, and hold characters JSON and SQL handle badly). */
function digest(key: string): string {
  return hash('sha1', key, 'base64');
}

/** Removes temporary directories of this host's resyncs whose process is gone (a crash, a kill -9). */
function removeAbandoned(parentDir: string): void {
  for (const name of readdirSync(parentDir)) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(DIR_PREFIX.length))?.[1] ?? Number.NaN);
    if (Number.isNaN(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(parentDir, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: a process of another user holds the pid: alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
