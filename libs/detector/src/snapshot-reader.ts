import { searchAllValues, searchAllValuesPaginated } from '@idsync/platform';
import { type Client, type Entry, type Filter, type SearchOptions } from 'ldapts';
import { AD_BINARY_ATTRIBUTES } from './ad/raw-entry';
import { SNAPSHOT_BINARY_ATTRIBUTES } from './ds/entered-scope';
import { type SnapshotReading } from './snapshot';

const SIZE_LIMIT_EXCEEDED = 4;
/**
 * Answers that say the server will not return this much in one plain search: paging it is. Samba 4.17 fails a
 * names-only search of 100,000 entries with operationsError ("ldb_wait ... LDB_WAIT_ALL", measured 2026-12-01).
 */
/** operationsError, timeLimitExceeded, sizeLimitExceeded, adminLimitExceeded. */
const TOO_MUCH_AT_ONCE = new Set([1, 3, SIZE_LIMIT_EXCEEDED, 11]);

/**
 * One plain search for at most `upTo` entries, or null when there are more (or the server caps plain searches: AD's
 * MaxPageSize, 389-ds's nsslapd-sizelimit for non-root accounts answer sizeLimitExceeded at once). ldapts hands over
 * the entries of a search that hit its size limit without an error, so the limit asked is upTo + 1. Samba answers a
 * plain search several times faster than the paged-results control (it re-reads every entry of each page), but it
 * ignores a client's size limit: the entries are counted first with a names-only search (cheap), and the full read
 * runs only when they are few enough to hold in memory at once.
 */
export async function searchAtOnce(client: Client, base: string, options: Omit<SearchOptions, 'paged' | 'sizeLimit'>, upTo: number): Promise<Entry[] | null> {
  return (await readAtOnce(client, base, options, upTo)).entries;
}

/** What one attempt at a plain search found: the entries, or too many (and how many, when the server said it all). */
type AtOnce = { readonly entries: Entry[] } | { readonly entries: null; readonly counted: number | null };

async function readAtOnce(client: Client, base: string, options: Omit<SearchOptions, 'paged' | 'sizeLimit'>, upTo: number): Promise<AtOnce> {
  if (upTo <= 0) return { entries: null, counted: null };
  try {
    // One more than wanted: a server that honours the limit (389-ds) stops there, and more than upTo says so.
    const names = (await client.search(base, { ...options, attributes: ['1.1'], sizeLimit: upTo + 1 })).searchEntries;
    // More than upTo + 1: the server ignored the limit (Samba) and the names are all there is, so they count it.
    if (names.length > upTo) return { entries: null, counted: names.length > upTo + 1 ? names.length : null };
    if (options.attributes?.length === 1 && options.attributes[0] === '1.1') return { entries: names };
    // Entries added since the count: more than upTo again means paging after all (never a cut-off answer).
    const all = (await searchAllValues(client, base, { ...options, sizeLimit: upTo + 1 })).searchEntries;
    return all.length > upTo ? { entries: null, counted: null } : { entries: all };
  } catch (error) {
    if (TOO_MUCH_AT_ONCE.has((error as { code?: unknown }).code as number)) return { entries: null, counted: null };
    throw error;
  }
}

/** The entries of a search page by page: at once when there are at most `upTo`, else with the paged-results control. */
export async function* searchPages(
  client: Client,
  base: string,
  options: Omit<SearchOptions, 'paged' | 'sizeLimit'>,
  read: { readonly pageSize: number; readonly upTo: number },
): AsyncGenerator<Entry[]> {
  const all = await searchAtOnce(client, base, options, read.upTo);
  if (all !== null) {
    yield all;
    return;
  }
  for await (const page of searchAllValuesPaginated(client, base, { ...options, paged: { pageSize: read.pageSize } })) yield page.searchEntries;
}

export interface SnapshotSourceOptions {
  /** The subtrees read, each whole. */
  readonly bases: readonly string[];
  readonly filter: string | Filter;
  readonly reading: SnapshotReading;
  readonly pageSize: number;
  /** A single base with at most this many entries is read in one search (Samba answers that several times faster). */
  readonly unpagedLimit: number;
  /** Attributes to read as bytes besides the directory kind's binary ones. */
  readonly bufferAttributes?: readonly string[];
}

/**
 * The snapshot source of a directory: its entries read whole, page by page (or in one search when there are few), as
 * the detector keys and images them. `start()` says how many there are; `pages()` hands them over.
 */
export class SnapshotSource {
  private atOnce: Entry[] | null = null;
  private readonly search: Omit<SearchOptions, 'paged' | 'sizeLimit'>;

  constructor(
    private readonly client: Client,
    private readonly options: SnapshotSourceOptions,
  ) {
    const { kind } = options.reading;
    const binary = kind === 'active-directory' ? AD_BINARY_ATTRIBUTES : SNAPSHOT_BINARY_ATTRIBUTES;
    this.search = {
      scope: 'sub',
      filter: options.filter,
      attributes: [...options.reading.attributes],
      explicitBufferAttributes: [...new Set([...(options.bufferAttributes ?? []), ...binary])],
    };
  }

  /**
   * How many entries the read will hand over, and how it reads them: a single base of at most `unpagedLimit` entries
   * is read here in one search (which counts them too); anything larger is counted by names only (by the first
   * attempt itself when the server ignored its size limit, else with paged searches).
   */
  async start(): Promise<{ readonly total: number; readonly read: 'at-once' | 'paged' }> {
    const [only] = this.options.bases;
    if (this.options.bases.length === 1 && only !== undefined) {
      const first = await readAtOnce(this.client, only, this.search, this.options.unpagedLimit);
      this.atOnce = first.entries;
      if (first.entries !== null) return { total: first.entries.length, read: 'at-once' };
      // A server that ignored the size limit has already named every entry: no second names-only search of them all.
      if (first.counted !== null) return { total: first.counted, read: 'paged' };
    }
    // Counted by names, page by page: a plain search of them all is what a large directory refuses (above).
    let total = 0;
    for (const base of this.options.bases) {
      for await (const page of searchAllValuesPaginated(this.client, base, { ...this.search, attributes: ['1.1'], paged: { pageSize: this.options.pageSize } })) total += page.searchEntries.length;
    }
    return { total, read: 'paged' };
  }

  /** The entries as the server returns them, page by page; each page is the caller's to empty (it is not kept here). */
  async *pages(): AsyncGenerator<Entry[]> {
    if (this.atOnce !== null) {
      const all = this.atOnce;
      this.atOnce = null;
      yield all;
      return;
    }
    for (const base of this.options.bases) yield* searchPages(this.client, base, this.search, { pageSize: this.options.pageSize, upTo: 0 });
  }
}
