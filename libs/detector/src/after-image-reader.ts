/**
 * Reads after-images: the entries of a batch of events by id, a few per search (an OR of equality filters, the id
 * values passed as filter objects, never as text), several searches in flight; every value of large attributes
 * (range retrieval).
 */
import { type Client, type Control, type Entry, EqualityFilter, OrFilter } from 'ldapts';
import { canonicalGuid, canonicalUuid, guidToBytes } from '@idsync/contracts';
import { type AfterImageAttributes } from '@idsync/mapping';
import { searchAllValues } from '@idsync/platform';
import { entryImage, type ReadImage, type SearchEntry } from './after-image';

/** The attribute that holds an entry's id: AD's objectGUID (bytes), RFC 4530's entryUUID (text). */
export type IdAttribute = 'objectGUID' | 'entryUUID';

export interface AfterImageReadOptions {
  /** Where the entries are searched (subtree). */
  readonly baseDn: string;
  readonly idAttribute: IdAttribute;
  /** Attributes whose values are binary (returned as bytes). */
  readonly binaryAttributes: readonly string[];
  readonly set: AfterImageAttributes;
  /** Entries per search (default 50). */
  readonly batchSize?: number;
  /** Request controls, e.g. AD's Show Deleted to read tombstones. */
  readonly controls?: readonly Control[];
  /** Searches in flight at once on the one connection (default READS_IN_FLIGHT). */
  readonly inFlight?: number;
}

/** Searches in flight at once on the one connection by default (LDAP multiplexes them). */
const READS_IN_FLIGHT = 8;

const DEFAULT_BATCH = 50;

/** Whether the set asks for anything: with no pipe and no subscriber attribute, nothing is read. */
export function readsAnything(set: AfterImageAttributes): boolean {
  return set.allUserAttributes || set.names.length > 0;
}

/** The images of the entries with these ids that exist now, by id; ids not found are absent. */
export async function readAfterImages(client: Client, ids: readonly string[], options: AfterImageReadOptions): Promise<Map<string, ReadImage>> {
  const found = new Map<string, ReadImage>();
  if (ids.length === 0 || !readsAnything(options.set)) return found;
  const { idAttribute, set } = options;
  // `*` returns user attributes only: operational ones the set names (nsAccountLock...) are asked for by name. The
  // object classes come too, so a source that needs them (class rules) reads each entry once.
  const attributes = set.allUserAttributes ? ['*', ...set.names, idAttribute] : [...set.names, 'objectClass', idAttribute];
  const bufferAttributes = idAttribute === 'objectGUID' ? [...options.binaryAttributes, idAttribute] : [...options.binaryAttributes];
  const skip = new Set([idAttribute.toLowerCase()]);
  const keep = (entry: SearchEntry): void => {
    const id = entryIdOf(entry, idAttribute);
    if (id !== null) found.set(id, { dn: entry.dn, objectClasses: objectClassesOf(entry), image: entryImage(entry, set, skip) });
  };
  const entries = await searchByIds(client, ids, {
    baseDn: options.baseDn,
    idAttribute,
    batchSize: options.batchSize ?? DEFAULT_BATCH,
    attributes,
    bufferAttributes,
    ...(options.controls === undefined ? {} : { controls: options.controls }),
    ...(options.inFlight === undefined ? {} : { inFlight: options.inFlight }),
  });
  for (const entry of entries) keep(entry);
  return found;
}

export interface IdSearchOptions {
  /** Where the entries are searched (subtree). */
  readonly baseDn: string;
  readonly idAttribute: IdAttribute;
  /** Ids per search (an OR of equality filters). */
  readonly batchSize: number;
  readonly attributes: readonly string[];
  readonly bufferAttributes?: readonly string[];
  readonly controls?: readonly Control[];
  /** Searches in flight at once (default READS_IN_FLIGHT). */
  readonly inFlight?: number;
}

/**
 * The entries with these ids (canonical text; objectGUIDs sent as bytes), `batchSize` per search, `inFlight`
 * searches at once on the one connection; every value of large attributes. Ids not found are simply absent.
 */
export async function searchByIds(client: Client, ids: readonly string[], options: IdSearchOptions): Promise<Entry[]> {
  const binary = options.idAttribute === 'objectGUID';
  const controls = options.controls === undefined ? undefined : [...options.controls];
  const batches: string[][] = [];
  for (let start = 0; start < ids.length; start += options.batchSize) batches.push(ids.slice(start, start + options.batchSize));
  return searchesInFlight(
    batches,
    async (batch) => {
      const filter = new OrFilter({ filters: batch.map((id) => new EqualityFilter({ attribute: options.idAttribute, value: binary ? guidToBytes(id) : id })) });
      const search = {
        scope: 'sub' as const,
        filter,
        attributes: [...options.attributes],
        sizeLimit: 0,
        ...(options.bufferAttributes ? { explicitBufferAttributes: [...options.bufferAttributes] } : {}),
      };
      return (await searchAllValues(client, options.baseDn, search, controls)).searchEntries;
    },
    options.inFlight,
  );
}

/** Runs `search` for every item, `inFlight` at a time on the one connection; the entries of all, in any order. */
export async function searchesInFlight<T, E>(items: readonly T[], search: (item: T) => Promise<readonly E[]>, inFlight = READS_IN_FLIGHT): Promise<E[]> {
  const found: E[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let item = items[next++]; item !== undefined; item = items[next++]) found.push(...(await search(item)));
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, items.length)) }, worker));
  return found;
}

/** An attribute of a read entry by name, whatever case the server spelled it in. */
function attributeOf(entry: SearchEntry, name: string): SearchEntry[string] | undefined {
  const key = Object.keys(entry).find((returned) => returned.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : entry[key];
}

function objectClassesOf(entry: SearchEntry): string[] {
  const raw = attributeOf(entry, 'objectClass');
  return raw === undefined ? [] : (Array.isArray(raw) ? raw : [raw]).map(String);
}

/** The canonical id text of a read entry (what events carry in entryId.value); null when it has none. */
function entryIdOf(entry: SearchEntry, idAttribute: IdAttribute): string | null {
  const raw = attributeOf(entry, idAttribute);
  // (Array.isArray makes a readonly array any[]: the single value is what can be told apart.)
  const value = raw === undefined || typeof raw === 'string' || Buffer.isBuffer(raw) ? raw : raw[0];
  if (idAttribute === 'objectGUID') return Buffer.isBuffer(value) && value.length === 16 ? canonicalGuid(value) : null;
  if (typeof value !== 'string') return null;
  try {
    return canonicalUuid(value);
  } catch {
    return null;
  }
}
