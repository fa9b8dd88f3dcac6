import { type Client, type Control, type Entry, type SearchOptions, type SearchResult } from 'ldapts';
import { baseAttributeName, foldNextSlices, foldValueRanges, valueRangeRequest } from './range-retrieval';

const NO_SUCH_OBJECT = 32;

/**
 * One search whose entries carry every value of every attribute: an attribute Active Directory returned in slices
 * (`member;range=0-1499`, see ./range-retrieval.ts) is completed with base reads of that entry and returned as the
 * plain attribute (`member`). Every read of entries that may come from AD goes through here (or
 * searchAllValuesPaginated), except the DirSync read, whose `;range=1-1`/`;range=0-0` are value deltas. Servers
 * that never answer in slices (389-ds, PingDirectory) cost nothing more than the search.
 *
 * `controls` go with the search only, not with the reads of further slices. An entry deleted between the search
 * and a further slice is left out, as if the search had come a moment later.
 */
export async function searchAllValues(client: Client, base: string, options: SearchOptions = {}, controls?: Control | Control[]): Promise<SearchResult> {
  const result = await client.search(base, withBufferNames(options), controls);
  return { ...result, searchEntries: await completeValueRanges(client, result.searchEntries, options.explicitBufferAttributes) };
}

/** The same, page by page with the paged-results control (`options.paged`). */
export async function* searchAllValuesPaginated(client: Client, base: string, options: SearchOptions = {}, controls?: Control | Control[]): AsyncGenerator<SearchResult> {
  for await (const page of client.searchPaginated(base, withBufferNames(options), controls)) {
    yield { ...page, searchEntries: await completeValueRanges(client, page.searchEntries, options.explicitBufferAttributes) };
  }
}

async function completeValueRanges(client: Client, entries: Entry[], bufferAttributes: readonly string[] | undefined): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const entry of entries) {
    let progress = foldValueRanges(entry);
    let gone = false;
    while (progress.pending.length > 0 && !gone) {
      const answer = await readEntry(
        client,
        progress.entry.dn,
        progress.pending.map((p) => valueRangeRequest(p.attribute, p.next)),
        bufferAttributes,
      );
      if (answer === null) gone = true;
      else progress = foldNextSlices(progress, answer);
    }
    if (!gone) out.push(progress.entry);
  }
  return out;
}

/** A base read of the entry (the DN as the server returned it); null when it is gone. */
async function readEntry(client: Client, dn: string, attributes: string[], bufferAttributes: readonly string[] | undefined): Promise<Entry | null> {
  try {
    const { searchEntries } = await client.search(
      dn,
      withBufferNames({ scope: 'base', filter: '(objectClass=*)', attributes, ...(bufferAttributes ? { explicitBufferAttributes: [...bufferAttributes] } : {}) }),
    );
    return searchEntries[0] ?? null;
  } catch (error) {
    if ((error as { code?: unknown }).code === NO_SUCH_OBJECT) return null;
    throw error;
  }
}

/**
 * ldapts returns an attribute's values as bytes only when its description is in explicitBufferAttributes, compared
 * exactly (`Array.prototype.includes`); a slice is named `objectGUID;range=0-1499`, and a server may spell a name
 * in another case. The list given to ldapts matches names whatever their case and options.
 */
function withBufferNames(options: SearchOptions): SearchOptions {
  const names = options.explicitBufferAttributes;
  if (names === undefined || names.length === 0) return options;
  // A frozen list (a writer passes the same one to every read) is made case-blind once.
  let list = CASE_BLIND_LISTS.get(names);
  if (list === undefined) {
    const wanted = new Set(names.map((name) => baseAttributeName(name).toLowerCase()));
    list = [...names];
    Object.defineProperty(list, 'includes', { value: (name: string) => wanted.has(baseAttributeName(name).toLowerCase()) });
    if (Object.isFrozen(names)) CASE_BLIND_LISTS.set(names, Object.freeze(list) as string[]);
  }
  return { ...options, explicitBufferAttributes: list };
}

const CASE_BLIND_LISTS = new WeakMap<readonly string[], string[]>();
