import { searchAllValues, searchAllValuesPaginated } from '@idsync/platform';
import { type Client, type Entry, type SearchOptions } from 'ldapts';

const SIZE_LIMIT_EXCEEDED = 4;

/**
 * One plain search for at most `upTo` entries, or null when there are more (or the server caps plain searches: AD's
 * MaxPageSize, 389-ds's nsslapd-sizelimit for non-root accounts answer sizeLimitExceeded at once). ldapts hands over
 * the entries of a search that hit its size limit without an error, so the limit asked is upTo + 1. Samba answers a
 * plain search several times faster than the paged-results control (it re-reads every entry of each page), but it
 * ignores a client's size limit: the entries are counted first with a names-only search (cheap), and the full read
 * runs only when they are few enough to hold in memory at once.
 */
export async function searchAtOnce(client: Client, base: string, options: Omit<SearchOptions, 'paged' | 'sizeLimit'>, upTo: number): Promise<Entry[] | null> {
  if (upTo <= 0) return null;
  try {
    // One more than wanted: a server that honours the limit (389-ds) stops there, and more than upTo says so.
    const names = await client.search(base, { ...options, attributes: ['1.1'], sizeLimit: upTo + 1 });
    if (names.searchEntries.length > upTo) return null;
    if (options.attributes?.length === 1 && options.attributes[0] === '1.1') return names.searchEntries;
    // Entries added since the count: more than upTo again means paging after all (never a cut-off answer).
    const all = (await searchAllValues(client, base, { ...options, sizeLimit: upTo + 1 })).searchEntries;
    return all.length > upTo ? null : all;
  } catch (error) {
    if ((error as { code?: unknown }).code === SIZE_LIMIT_EXCEEDED) return null;
    throw error;
  }
}

/** The entries of a search page by page: at once when there are at most `upTo`, else with the paged-results control. */
export async function* searchPages(client: Client, base: string, options: Omit<SearchOptions, 'paged' | 'sizeLimit'>, read: { readonly pageSize: number; readonly upTo: number }): AsyncGenerator<Entry[]> {
  const all = await searchAtOnce(client, base, options, read.upTo);
  if (all !== null) {
    yield all;
    return;
  }
  for await (const page of searchAllValuesPaginated(client, base, { ...options, paged: { pageSize: read.pageSize } })) yield page.searchEntries;
}
