import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { linkKey, parseLinkKey, type EntryIdKind, type EntryLink, type LinkOrigin } from '@idsync/contracts';

/**
 * A writer's local view of the links topic: every live link, the pairs recently unlinked, and where to resume
 * reading. Kept in an embedded SQLite file so memory stays bounded whatever the number of links. The topic is the
 * truth and the file only a cache of it: nothing is synced to disk, and a file from another schema version (or left
 * by a bulk load cut short while applying) is wiped, to be rebuilt from the topic.
 *
 * A link is stored under its pair (pipe, source id, destination id), which is what its key says (`linkKey`): the key
 * is not stored but made again on reading. A link record is stored under its own pair whatever its key; a tombstone
 * acts on the pair its key names, and one whose key does not parse changes nothing (its position still counts).
 */

/** One record of the links topic, as consumed. */
export interface LinkRecord {
  readonly key: string;
  /** null: a tombstone (the link was removed). */
  readonly link: EntryLink | null;
  readonly partition: number;
  /** Kafka's decimal offset text. */
  readonly offset: string;
}

/** A live link and its key on the links topic. */
export type StoredLink = EntryLink & { readonly key: string };

/** A pair whose link was removed (tombstone), kept for a while: ids of both ends. */
export interface RetiredLink {
  readonly key: string;
  readonly pipe: string;
  readonly source: string;
  readonly destination: string;
  /** When this store saw the tombstone, epoch milliseconds. */
  readonly retiredAt: number;
}

export interface LinkStoreOptions {
  /** SQLite file; default: a new file in a fresh temporary directory, removed on close(). */
  readonly path?: string;
  /** SQLite page cache, MiB; default 16. A bulk load uses as much again for its staging file. */
  readonly cacheMb?: number;
  /** How long unlinked pairs are kept; default 24 h. */
  readonly retiredRetentionMs?: number;
  /** Epoch milliseconds now; default Date.now. */
  readonly clock?: () => number;
}

/** Rebuilds the store from a read of the topic: records in any order, the latest offset of each key wins. */
export interface BulkLoader {
  /** Stages records (one transaction per call); nothing is visible before finish(). */
  add(records: readonly LinkRecord[]): void;
  /** Applies the latest staged record of each key on top of the store, records positions, builds indexes. */
  finish(): void;
}

/** The file cannot be opened or read as a links store. */
export class LinkStoreError extends Error {
  readonly retriable = false;

  constructor(
    readonly path: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`links store ${path}: ${detail}`, options);
    this.name = 'LinkStoreError';
  }
}

/** Bump when the tables change: a file with another version is wiped and rebuilt from the topic. */
const SCHEMA_VERSION = 2;
/** user_version while a bulk load applies unjournaled: a file left so is wiped by the next open. */
const APPLYING_VERSION = 0;
/** The WAL file is reused, not shrunk, after a checkpoint: what a large transaction left is cut back to this. */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** A bulk load of at least this fraction of the live links rebuilds the indexes instead of updating them. */
const INDEX_REBUILD_FRACTION = 0.25;
const DEFAULTS = { cacheMb: 16, retiredRetentionMs: 24 * 60 * 60 * 1000, clock: Date.now };

const LINK_COLUMNS = ['pipe', 'source_directory', 'source_kind', 'source_value', 'destination_directory', 'destination_kind', 'destination_value', 'origin', 'linked_at', 'linked_by'].join(', ');
const LINK_VALUES = '?, ?, ?, ?, ?, ?, ?, ?, ?, ?';

const CREATE_TABLES = `
  CREATE TABLE links (
    pipe TEXT NOT NULL,
    source_directory TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_value TEXT NOT NULL,
    destination_directory TEXT NOT NULL,
    destination_kind TEXT NOT NULL,
    destination_value TEXT NOT NULL,
    origin TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    linked_by TEXT NOT NULL
  );
  CREATE TABLE retired (
    source TEXT NOT NULL,
    pipe TEXT NOT NULL,
    destination TEXT NOT NULL,
    retired_at INTEGER NOT NULL,
    PRIMARY KEY (source, pipe, destination)
  ) WITHOUT ROWID;
  CREATE INDEX retired_destination ON retired (destination);
  CREATE INDEX retired_at ON retired (retired_at);
  CREATE TABLE positions (
    partition_id INTEGER NOT NULL PRIMARY KEY,
    next_offset INTEGER NOT NULL
  );
`;
const TABLES = ['links', 'retired', 'positions'];

/** The pair index is the key (source id first, so it also finds links by source) and the destination index. */
const CREATE_LINK_INDEXES = `
  CREATE UNIQUE INDEX IF NOT EXISTS links_pair ON links (source_value, pipe, destination_value);
  CREATE INDEX IF NOT EXISTS links_destination ON links (destination_value);
`;
const DROP_LINK_INDEXES = 'DROP INDEX IF EXISTS links_pair; DROP INDEX IF EXISTS links_destination;';

/**
 * A bulk load stages records, unindexed and unjournaled, in a file of its own beside the store (attached as `load`),
 * so the store's file is only written by finish() and does not keep the staging's pages.
 */
const CREATE_STAGING = `
  CREATE TABLE load.staging (
    ${LINK_COLUMNS},
    kafka_offset INTEGER NOT NULL,
    tombstone INTEGER NOT NULL
  );
`;

/**
 * Applies the latest staged record of each pair (SQLite takes a group's bare columns from the row holding its
 * max()). Every staged pair leaves the live links first; links are then inserted again, tombstones retired.
 */
const RESOLVE_STAGING = `
  CREATE TABLE load.latest (
    ${LINK_COLUMNS},
    kafka_offset INTEGER NOT NULL,
    tombstone INTEGER NOT NULL,
    PRIMARY KEY (source_value, pipe, destination_value)
  ) WITHOUT ROWID;
  INSERT INTO load.latest (${LINK_COLUMNS}, kafka_offset, tombstone)
    SELECT ${LINK_COLUMNS}, max(kafka_offset), tombstone FROM load.staging
    GROUP BY source_value, pipe, destination_value;
  DROP TABLE load.staging;
  DELETE FROM main.links WHERE rowid IN (
    SELECT l.rowid FROM load.latest s JOIN main.links l
      ON l.source_value = s.source_value AND l.pipe = s.pipe AND l.destination_value = s.destination_value
  );
`;
const APPLY_STAGING = `
  INSERT INTO main.links (${LINK_COLUMNS}) SELECT ${LINK_COLUMNS} FROM load.latest WHERE tombstone = 0;
  DELETE FROM main.retired WHERE EXISTS (
    SELECT 1 FROM load.latest s
    WHERE s.source_value = retired.source AND s.pipe = retired.pipe AND s.destination_value = retired.destination
      AND s.tombstone = 0
  );
`;

const SQL = {
  upsertLink: `INSERT OR REPLACE INTO links (${LINK_COLUMNS}) VALUES (${LINK_VALUES})`,
  deleteLink: 'DELETE FROM links WHERE source_value = ? AND pipe = ? AND destination_value = ?',
  upsertRetired: 'INSERT OR REPLACE INTO retired (source, pipe, destination, retired_at) VALUES (?, ?, ?, ?)',
  deleteRetired: 'DELETE FROM retired WHERE source = ? AND pipe = ? AND destination = ?',
  pruneRetired: 'DELETE FROM retired WHERE retired_at < ?',
  advancePosition: `INSERT INTO positions (partition_id, next_offset) VALUES (?, ?)
    ON CONFLICT (partition_id) DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)`,
  positions: 'SELECT partition_id, next_offset FROM positions ORDER BY partition_id',
  countLinks: 'SELECT count(*) AS n FROM links',
  countRetired: 'SELECT count(*) AS n FROM retired',
  entriesIn: `SELECT count(*) AS n FROM (
    SELECT destination_value FROM links WHERE destination_directory = ?1
    UNION SELECT source_value FROM links WHERE source_directory = ?1)`,
  // Two index lookups, the newest picked in code (newerLink): one UNION ALL with ORDER BY sorts in a temporary b-tree.
  counterpartAsSource: `SELECT ${LINK_COLUMNS} FROM links WHERE source_value = ? AND source_directory = ? AND destination_directory = ?`,
  counterpartAsDestination: `SELECT ${LINK_COLUMNS} FROM links WHERE destination_value = ? AND destination_directory = ? AND source_directory = ?`,
  linksOf: `
    SELECT ${LINK_COLUMNS} FROM links WHERE source_value = ?1
    UNION
    SELECT ${LINK_COLUMNS} FROM links WHERE destination_value = ?1
    ORDER BY linked_at DESC, pipe, source_value, destination_value`,
  retiredOf: `
    SELECT source, pipe, destination, retired_at FROM retired WHERE source = ?1 AND retired_at >= ?2
    UNION
    SELECT source, pipe, destination, retired_at FROM retired WHERE destination = ?1 AND retired_at >= ?2
    ORDER BY retired_at DESC, pipe, source, destination`,
  all: `SELECT ${LINK_COLUMNS} FROM links`,
  stage: `INSERT INTO load.staging (${LINK_COLUMNS}, kafka_offset, tombstone) VALUES (${LINK_VALUES}, ?, ?)`,
  retireStaged: `INSERT OR REPLACE INTO main.retired (source, pipe, destination, retired_at)
    SELECT source_value, pipe, destination_value, ? FROM load.latest WHERE tombstone = 1`,
} as const;

type Statements = { readonly [K in Exclude<keyof typeof SQL, 'all' | 'stage' | 'retireStaged'>]: StatementSync };

interface Loading {
  readonly file: string;
  readonly stage: StatementSync;
  /** Highest staged offset per partition. */
  readonly highest: Map<number, bigint>;
  staged: number;
}

export class LinkStore {
  private readonly statements: Statements;
  private loading: Loading | null = null;
  /** Why the store takes no more writes (closed, or a bulk load failed while applying). */
  private unusable: string | null = null;
  private lastPrune: number;

  private constructor(
    private readonly db: DatabaseSync,
    /** The SQLite file. */
    readonly path: string,
    /** The temporary directory open() made, removed on close(); null for a given path. */
    private readonly temporaryDir: string | null,
    private readonly cacheMb: number,
    private readonly retentionMs: number,
    private readonly clock: () => number,
  ) {
    const prepare = (sql: string): StatementSync => db.prepare(sql);
    this.statements = {
      upsertLink: prepare(SQL.upsertLink),
      deleteLink: prepare(SQL.deleteLink),
      upsertRetired: prepare(SQL.upsertRetired),
      deleteRetired: prepare(SQL.deleteRetired),
      pruneRetired: prepare(SQL.pruneRetired),
      advancePosition: prepare(SQL.advancePosition),
      positions: prepare(SQL.positions),
      countLinks: prepare(SQL.countLinks),
      entriesIn: prepare(SQL.entriesIn),
      countRetired: prepare(SQL.countRetired),
      counterpartAsSource: prepare(SQL.counterpartAsSource),
      counterpartAsDestination: prepare(SQL.counterpartAsDestination),
      linksOf: prepare(SQL.linksOf),
      retiredOf: prepare(SQL.retiredOf),
    };
    this.statements.positions.setReadBigInts(true);
    this.lastPrune = clock();
    this.statements.pruneRetired.run(this.lastPrune - retentionMs);
  }

  /**
   * Opens (or creates) the store. A file with the expected schema is kept, so positions() says where to resume; a
   * file from another schema version, or left by a bulk load cut short while applying, is wiped. A file SQLite cannot
   * read is a LinkStoreError naming it.
   */
  static open(options: LinkStoreOptions = {}): LinkStore {
    const cacheMb = options.cacheMb ?? DEFAULTS.cacheMb;
    const retentionMs = options.retiredRetentionMs ?? DEFAULTS.retiredRetentionMs;
    const clock = options.clock ?? DEFAULTS.clock;
    const temporaryDir = options.path === undefined ? mkdtempSync(join(tmpdir(), 'idsync-links-')) : null;
    const path = options.path ?? join(temporaryDir as string, 'links.sqlite');
    try {
      removeFiles(stagingFile(path));
      return new LinkStore(openDatabase(path, cacheMb), path, temporaryDir, cacheMb, retentionMs, clock);
    } catch (error) {
      if (temporaryDir !== null) rmSync(temporaryDir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Starts a rebuild: records are staged in a file beside the store, then resolved, applied and indexed by finish().
   * Until then the store is unchanged: lookups see it as it was, writes (apply, put, remove) are refused, and a load
   * abandoned (close, crash) leaves it as it was.
   */
  bulkLoad(): BulkLoader {
    this.assertWritable();
    const file = stagingFile(this.path);
    removeFiles(file);
    this.db.prepare('ATTACH DATABASE ? AS load').run(file);
    // SQLite's defensive mode (node:sqlite's default) refuses journal_mode=OFF; the load turns it off until done.
    this.db.enableDefensive(false);
    setJournalMode(this.db, 'load', 'off', this.path);
    this.db.exec(`PRAGMA load.synchronous = OFF; PRAGMA load.cache_size = ${cacheKib(this.cacheMb)};`);
    this.db.exec(CREATE_STAGING);
    const loading: Loading = { file, stage: this.db.prepare(SQL.stage), highest: new Map(), staged: 0 };
    this.loading = loading;
    const current = (): Loading => {
      if (this.loading !== loading) throw new Error(`links store ${this.path}: this bulk load is over`);
      return loading;
    };
    return {
      add: (records) => this.stage(current(), records),
      finish: () => this.finishLoad(current()),
    };
  }

  /**
   * Applies consumed records in order, in one transaction: a link replaces the link of its pair and takes the pair
   * off the retired list; a tombstone removes the pair's link and retires the pair. Positions move to the record after
   * the highest offset seen per partition.
   */
  apply(records: readonly LinkRecord[]): void {
    this.assertWritable();
    const offsets = records.map(offsetOf);
    const now = this.clock();
    const highest = new Map<number, bigint>();
    inTransaction(this.db, () => {
      records.forEach((record, i) => {
        if (record.link === null) this.retire(record.key, now);
        else this.upsert(record.link);
        raise(highest, record.partition, offsets[i] as bigint);
      });
      for (const [partition, offset] of highest) this.statements.advancePosition.run(partition, offset + 1n);
    });
    if (now - this.lastPrune >= PRUNE_INTERVAL_MS) this.prune();
  }

  /** Records a link this writer just made (before it comes back from the topic); returns its key. */
  put(link: EntryLink): string {
    this.assertWritable();
    inTransaction(this.db, () => this.upsert(link));
    return linkKey(link);
  }

  /** Removes a link this writer just tombstoned, retiring the pair, as a consumed tombstone would. */
  remove(key: string): void {
    this.assertWritable();
    const now = this.clock();
    inTransaction(this.db, () => this.retire(key, now));
  }

  /**
   * The live link joining entry `id` of `directory` to an entry of `otherDirectory`, whichever end `id` is; the
   * newest (linkedAt) when there are several.
   */
  counterpart(directory: string, id: string, otherDirectory: string): StoredLink | null {
    let newest: Record<string, SQLOutputValue> | undefined;
    for (const row of this.statements.counterpartAsSource.all(id, directory, otherDirectory)) if (newest === undefined || newerLink(row, newest)) newest = row;
    for (const row of this.statements.counterpartAsDestination.all(id, directory, otherDirectory)) if (newest === undefined || newerLink(row, newest)) newest = row;
    return newest === undefined ? null : toStoredLink(newest);
  }

  /** Every live link with `id` at either end, newest first. */
  linksOf(id: string): StoredLink[] {
    return this.statements.linksOf.all(id).map(toStoredLink);
  }

  /** Pairs with `id` at either end unlinked within the retention, newest first. */
  retired(id: string): RetiredLink[] {
    return this.statements.retiredOf.all(id, this.clock() - this.retentionMs).map(toRetiredLink);
  }

  /** Next offset to read, per partition. */
  positions(): ReadonlyMap<number, bigint> {
    const positions = new Map<number, bigint>();
    for (const row of this.statements.positions.all()) positions.set(Number(row['partition_id']), row['next_offset'] as bigint);
    return positions;
  }

  /** Entries of a directory that some link holds (either end): what its writer's pipes synchronize there. */
  entriesIn(directory: string): number {
    return Number(this.statements.entriesIn.get(directory)?.['n'] ?? 0);
  }

  counts(): { links: number; retired: number } {
    return {
      links: Number(this.statements.countLinks.get()?.['n'] ?? 0),
      retired: Number(this.statements.countRetired.get()?.['n'] ?? 0),
    };
  }

  /**
   * Every live link, in no particular order, streamed from the file. A write to the store while iterating may or may
   * not show. Its own statement per call, so two iterations do not reset each other.
   */
  *all(): Iterable<StoredLink> {
    for (const row of this.db.prepare(SQL.all).iterate()) yield toStoredLink(row);
  }

  /** Drops retired pairs older than the retention (apply() does it at most hourly); returns how many. */
  prune(): number {
    this.lastPrune = this.clock();
    return Number(this.statements.pruneRetired.run(this.lastPrune - this.retentionMs).changes);
  }

  /** Closes the file (and removes it when open() made it). A bulk load not finished is abandoned. */
  close(): void {
    if (this.unusable === 'closed') return;
    this.unusable = 'closed';
    const loading = this.loading;
    this.loading = null;
    this.db.close();
    if (loading !== null) removeFiles(loading.file);
    if (this.temporaryDir !== null) rmSync(this.temporaryDir, { recursive: true, force: true });
  }

  private stage(loading: Loading, records: readonly LinkRecord[]): void {
    const rows: SQLInputValue[][] = [];
    const offsets = records.map(offsetOf);
    records.forEach((record, i) => {
      const row = stagingRow(record, offsets[i] as bigint);
      if (row !== null) rows.push(row);
    });
    try {
      inTransaction(this.db, () => {
        for (const row of rows) loading.stage.run(...row);
      });
    } catch (error) {
      // Unjournaled, a failed transaction leaves the staging undefined: the load is over.
      this.endLoad(loading);
      throw error;
    }
    records.forEach((record, i) => raise(loading.highest, record.partition, offsets[i] as bigint));
    loading.staged += rows.length;
  }

  private finishLoad(loading: Loading): void {
    const now = this.clock();
    const rebuildIndexes = loading.staged >= this.counts().links * INDEX_REBUILD_FRACTION;
    try {
      // The store itself is written unjournaled too; until it is done, the file says it must be wiped.
      this.db.exec(`PRAGMA main.user_version = ${APPLYING_VERSION}`);
      setJournalMode(this.db, 'main', 'off', this.path);
      inTransaction(this.db, () => {
        this.db.exec(RESOLVE_STAGING);
        if (rebuildIndexes) this.db.exec(DROP_LINK_INDEXES);
        this.db.exec(APPLY_STAGING);
        this.db.prepare(SQL.retireStaged).run(now);
        for (const [partition, offset] of loading.highest) this.statements.advancePosition.run(partition, offset + 1n);
        this.db.exec(CREATE_LINK_INDEXES);
      });
      setJournalMode(this.db, 'main', 'wal', this.path);
      this.db.exec(`PRAGMA main.user_version = ${SCHEMA_VERSION}`);
    } catch (error) {
      this.unusable = `a bulk load failed (${(error as Error).message}); open the store again to rebuild it`;
      throw error;
    } finally {
      this.endLoad(loading);
    }
    this.prune();
  }

  private endLoad(loading: Loading): void {
    this.loading = null;
    if (this.db.isOpen) {
      this.db.exec('DETACH DATABASE load');
      this.db.enableDefensive(true);
    }
    removeFiles(loading.file);
  }

  private upsert(link: EntryLink): void {
    this.statements.upsertLink.run(...linkColumns(link));
    this.statements.deleteRetired.run(link.source.value, link.pipe, link.destination.value);
  }

  private retire(key: string, now: number): void {
    const pair = parseLinkKey(key);
    if (pair === null) return;
    this.statements.deleteLink.run(pair.source, pair.pipe, pair.destination);
    this.statements.upsertRetired.run(pair.source, pair.pipe, pair.destination, now);
  }

  private assertWritable(): void {
    if (this.unusable !== null) throw new Error(`links store ${this.path}: ${this.unusable}`);
    if (this.loading !== null) throw new Error(`links store ${this.path}: a bulk load is in progress`);
  }
}

/** Opens the file with the current schema, wiping it first when it holds anything else. */
function openDatabase(path: string, cacheMb: number): DatabaseSync {
  let db = connect(path, cacheMb);
  if (!hasCurrentSchema(db, path)) {
    if (!isEmpty(db, path)) {
      db.close();
      removeFiles(path);
      db = connect(path, cacheMb);
    }
    db.exec(CREATE_TABLES);
    db.exec(CREATE_LINK_INDEXES);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  }
  return db;
}

function connect(path: string, cacheMb: number): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    // One connection per file (each process opens its own): the WAL index stays in memory, so a read takes no file
    // locks (a lookup per write request). Set before the first read, which enters WAL mode.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    // The first statement reads the header: a file that is not a database fails here.
    setJournalMode(db, 'main', 'wal', path);
    db.exec(`PRAGMA synchronous = OFF; PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}; PRAGMA cache_size = ${cacheKib(cacheMb)};`);
    return db;
  } catch (cause) {
    db?.close();
    if (cause instanceof LinkStoreError) throw cause;
    throw new LinkStoreError(path, `cannot open: ${(cause as Error).message}`, { cause });
  }
}

/** SQLite answers a journal mode it cannot set with the mode it keeps: that is an error here. */
function setJournalMode(db: DatabaseSync, schema: 'main' | 'load', mode: 'wal' | 'off', path: string): void {
  const set = db.prepare(`PRAGMA ${schema}.journal_mode = ${mode}`).get()?.['journal_mode'];
  if (set !== mode) throw new LinkStoreError(path, `journal mode of ${schema} stays ${String(set)}, not ${mode}`);
}

function hasCurrentSchema(db: DatabaseSync, path: string): boolean {
  if (readOrFail(db, path, 'PRAGMA user_version')[0]?.['user_version'] !== SCHEMA_VERSION) return false;
  const tables = new Set(readOrFail(db, path, "SELECT name FROM sqlite_schema WHERE type = 'table'").map((r) => r['name']));
  return TABLES.every((table) => tables.has(table));
}

function isEmpty(db: DatabaseSync, path: string): boolean {
  return readOrFail(db, path, 'SELECT count(*) AS n FROM sqlite_schema')[0]?.['n'] === 0;
}

function readOrFail(db: DatabaseSync, path: string, sql: string): Record<string, SQLOutputValue>[] {
  try {
    return db.prepare(sql).all();
  } catch (cause) {
    db.close();
    throw new LinkStoreError(path, `cannot read: ${(cause as Error).message}`, { cause });
  }
}

const cacheKib = (cacheMb: number): number => -Math.max(1, Math.round(cacheMb * 1024));
const stagingFile = (path: string): string => `${path}-load`;

function removeFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(file, { force: true });
}

function offsetOf(record: LinkRecord): bigint {
  if (!Number.isSafeInteger(record.partition) || record.partition < 0) {
    throw new RangeError(`links record ${record.key}: bad partition ${record.partition}`);
  }
  if (!/^\d{1,19}$/.test(record.offset)) throw new RangeError(`links record ${record.key}: bad offset ${JSON.stringify(record.offset)}`);
  return BigInt(record.offset);
}

function raise(highest: Map<number, bigint>, partition: number, offset: bigint): void {
  const current = highest.get(partition);
  if (current === undefined || offset > current) highest.set(partition, offset);
}

function linkColumns(link: EntryLink): SQLInputValue[] {
  const { source, destination } = link;
  return [link.pipe, source.directory, source.kind, source.value, destination.directory, destination.kind, destination.value, link.origin, link.linkedAt, link.linkedBy];
}

/** The staging row of a record; null for a tombstone whose key does not parse. */
function stagingRow(record: LinkRecord, offset: bigint): SQLInputValue[] | null {
  if (record.link !== null) return [...linkColumns(record.link), offset, 0];
  const pair = parseLinkKey(record.key);
  if (pair === null) return null;
  return [pair.pipe, null, null, pair.source, null, null, pair.destination, null, null, null, offset, 1];
}

/** Whether row `a` comes before `b` in the order linked_at DESC, pipe, source_value, destination_value. */
function newerLink(a: Record<string, SQLOutputValue>, b: Record<string, SQLOutputValue>): boolean {
  const at = Number(a['linked_at']) - Number(b['linked_at']);
  if (at !== 0) return at > 0;
  for (const column of ['pipe', 'source_value', 'destination_value']) {
    const x = a[column] as string;
    const y = b[column] as string;
    // SQLite's BINARY collation: UTF-8 bytes.
    if (x !== y) return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')) < 0;
  }
  return false;
}

function toStoredLink(row: Record<string, SQLOutputValue>): StoredLink {
  const link: EntryLink = {
    pipe: row['pipe'] as string,
    source: {
      directory: row['source_directory'] as string,
      kind: row['source_kind'] as EntryIdKind,
      value: row['source_value'] as string,
    },
    destination: {
      directory: row['destination_directory'] as string,
      kind: row['destination_kind'] as EntryIdKind,
      value: row['destination_value'] as string,
    },
    origin: row['origin'] as LinkOrigin,
    linkedAt: Number(row['linked_at']),
    linkedBy: row['linked_by'] as string,
  };
  return { ...link, key: linkKey(link) };
}

function toRetiredLink(row: Record<string, SQLOutputValue>): RetiredLink {
  const pair = { pipe: row['pipe'] as string, source: row['source'] as string, destination: row['destination'] as string };
  return { key: `${pair.pipe}/${pair.source}/${pair.destination}`, ...pair, retiredAt: Number(row['retired_at']) };
}

/** `work` in one SQLite transaction: committed when it returns, rolled back when it throws. */
export function inTransaction(db: DatabaseSync, work: () => void): void {
  db.exec('BEGIN');
  try {
    work();
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
