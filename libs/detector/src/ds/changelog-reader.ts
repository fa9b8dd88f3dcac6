import { AndFilter, GreaterThanEqualsFilter, LessThanEqualsFilter, NoSuchObjectError, type Client, type Entry } from 'ldapts';
import { type DirectoryConfig } from '@idsync/config';
import { type ReadImage } from '../after-image';
import { readAfterImages, searchByIds, searchesInFlight } from '../after-image-reader';
import { type AfterImageAttributes } from '@idsync/mapping';
import { type LdapObserver, openLdapSession, readRootDse } from '@idsync/platform';
import { ChangeNumber } from './change-number';
import { normalizeEntryUuid, type RawChangelogEntry } from './changelog-entry';
import { type ReadEntry, SNAPSHOT_BINARY_ATTRIBUTES } from './entered-scope';
import { type ChangelogWindow } from './position';

/** The changelog attributes the parser reads; `changes` comes back as bytes so binary values survive. */
const CHANGELOG_ATTRIBUTES = ['changeNumber', 'targetDn', 'changeType', 'changes', 'newRdn', 'deleteOldRdn', 'newSuperior', 'changeTime', 'targetUniqueId', 'changeInitiatorsName'];
/**
 * entryUUIDs per search by id: with at most 10 candidates 389-ds reads no subtree index (ancestorid) for the search,
 * only the entryUUID keys, and on 2.3's Berkeley DB a subtree index read in bulk can deadlock against concurrent adds
 * (README, the local stack's pitfalls). More such searches are made instead, one after another (SEARCHES_IN_FLIGHT).
 */
const ID_SEARCH_SIZE = 10;
/**
 * Change numbers per changelog search, for the same reason: a one-level search of cn=changelog reads its parentid key
 * in bulk, a key holding every change that every new change appends to (a CI run hung on it, 2026-12-01: the bulk read
 * and the retro changelog's insert waiting on each other's pages). A subtree search with at most 10 candidates reads
 * only the changeNumber keys of its range.
 */
const CHANGELOG_WINDOW = 10;
/**
 * Searches in flight at once, changelog windows and entries alike: one. 389-ds applies writes one at a time, and
 * several searches at once over the entries and changelog pages just written slow that path for every writer: the
 * ds-writer's modifies drained at 174-237/s with eight in flight, 309-351/s with one (README, Benchmarks).
 */
const SEARCHES_IN_FLIGHT = 1;

export class ChangelogMissingError extends Error {
  readonly retriable = false;
  constructor(directory: string, url: string) {
    super(
      `directory '${directory}' at ${url} has no changelog in its root DSE: enable the retro changelog (389-ds) or the changelog (PingDirectory), and let the detector's account read cn=changelog`,
    );
    this.name = 'ChangelogMissingError';
  }
}

/** What the detector had to read from an entry because the changelog did not say it. */
export interface EntryFacts {
  readonly entryUuid: string;
  readonly objectClasses: readonly string[];
}

/** The LDAP edge of the detector: one bound session (failover across the configured URLs), read-only. */
export class ChangelogReader {
  private constructor(
    private readonly directory: string,
    private readonly config: DirectoryConfig,
    private readonly client: Client,
    /** The URL that answered (reported as the events' source server). */
    readonly url: string,
  ) {}

  static async open(directory: string, config: DirectoryConfig, observe?: LdapObserver): Promise<ChangelogReader> {
    const session = await openLdapSession(directory, config, config, { observe });
    return new ChangelogReader(directory, config, session.client, session.url);
  }

  /** The connection, for tests that cut it mid-batch. */
  get connection(): Client {
    return this.client;
  }

  async window(): Promise<ChangelogWindow> {
    const dse = await readRootDse(this.client, ['changelog', 'firstChangeNumber', 'lastChangeNumber']);
    if (!dse['changelog']?.[0]) throw new ChangelogMissingError(this.directory, this.url);
    return {
      first: ChangeNumber.parse(dse['firstchangenumber']?.[0] ?? '0'),
      last: ChangeNumber.parse(dse['lastchangenumber']?.[0] ?? '0'),
    };
  }

  /**
   * Entries with from <= changeNumber <= to, sorted by change number (the server does not promise an order). Read in
   * windows of CHANGELOG_WINDOW numbers (why: at its definition), subtree-scoped, SEARCHES_IN_FLIGHT at once.
   */
  async read(from: ChangeNumber, to: ChangeNumber): Promise<RawChangelogEntry[]> {
    const windows: { from: ChangeNumber; to: ChangeNumber }[] = [];
    for (let start = from; !start.isAfter(to); start = start.plus(CHANGELOG_WINDOW)) windows.push({ from: start, to: ChangeNumber.min(start.plus(CHANGELOG_WINDOW - 1), to) });
    const found = await searchesInFlight(
      windows,
      async (window) => {
        const filter = new AndFilter({
          filters: [new GreaterThanEqualsFilter({ attribute: 'changeNumber', value: window.from.format() }), new LessThanEqualsFilter({ attribute: 'changeNumber', value: window.to.format() })],
        });
        const { searchEntries } = await this.client.search('cn=changelog', { scope: 'sub', filter, attributes: CHANGELOG_ATTRIBUTES, explicitBufferAttributes: ['changes'] });
        return searchEntries;
      },
      SEARCHES_IN_FLIGHT,
    );
    const keyed = found.map((entry) => ({ entry, number: changeNumberOf(entry) }));
    keyed.sort((a, b) => (a.number && b.number ? a.number.compare(b.number) : 0));
    return keyed.map((k) => k.entry);
  }

  /** Current object classes of entries by entryUUID, batched; entries deleted since are simply absent. */
  async lookupByUuid(uuids: readonly string[]): Promise<Map<string, EntryFacts>> {
    const found = new Map<string, EntryFacts>();
    for (const entry of await this.searchByUuids(uuids, { attributes: ['entryUUID', 'objectClass'] })) {
      const facts = factsOf(entry);
      if (facts) found.set(facts.entryUuid, facts);
    }
    return found;
  }

  /** Every user attribute of the entries with these entryUUIDs (entries moved into scope are published whole). */
  async readEntries(uuids: readonly string[]): Promise<ReadEntry[]> {
    return await this.searchByUuids(uuids, { attributes: ['*', 'entryUUID'], explicitBufferAttributes: [...SNAPSHOT_BINARY_ATTRIBUTES] });
  }

  /** The entries with these entryUUIDs, ID_SEARCH_SIZE per search. */
  private searchByUuids(uuids: readonly string[], options: { readonly attributes: string[]; readonly explicitBufferAttributes?: string[] }): Promise<Entry[]> {
    return searchByIds(this.client, [...new Set(uuids)], {
      baseDn: this.config.baseDn,
      idAttribute: 'entryUUID',
      batchSize: ID_SEARCH_SIZE,
      inFlight: SEARCHES_IN_FLIGHT,
      attributes: options.attributes,
      ...(options.explicitBufferAttributes ? { bufferAttributes: options.explicitBufferAttributes } : {}),
    });
  }

  /** The after-images of the entries with these entryUUIDs, by entryUUID; entries deleted since are absent. */
  readAfterImages(uuids: readonly string[], set: AfterImageAttributes): Promise<Map<string, ReadImage>> {
    return readAfterImages(this.client, uuids, {
      baseDn: this.config.baseDn,
      idAttribute: 'entryUUID',
      binaryAttributes: SNAPSHOT_BINARY_ATTRIBUTES,
      set,
      batchSize: ID_SEARCH_SIZE,
      inFlight: SEARCHES_IN_FLIGHT,
    });
  }

  /** entryUUID and object classes of the entry at `dn` (older servers without targetUniqueId); null when it is gone. */
  async lookupByDn(dn: string): Promise<EntryFacts | null> {
    try {
      const { searchEntries } = await this.client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['entryUUID', 'objectClass'] });
      return searchEntries[0] ? factsOf(searchEntries[0]) : null;
    } catch (error) {
      if (error instanceof NoSuchObjectError) return null;
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.client.unbind().catch(() => undefined);
  }
}

function changeNumberOf(entry: RawChangelogEntry): ChangeNumber | null {
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== 'changenumber') continue;
    try {
      return ChangeNumber.parse(String(Array.isArray(value) ? value[0] : value));
    } catch {
      return null;
    }
  }
  return null;
}

function factsOf(entry: Record<string, unknown>): EntryFacts | null {
  let uuid: string | null = null;
  let classes: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    const values = (Array.isArray(value) ? value : [value]).map(String);
    if (key.toLowerCase() === 'entryuuid' && values[0]) uuid = normalizeEntryUuid(values[0]);
    if (key.toLowerCase() === 'objectclass') classes = values;
  }
  return uuid ? { entryUuid: uuid, objectClasses: classes } : null;
}

export { changeNumberOf };
