import { type Client, type Entry, type SearchOptions } from 'ldapts';

const SIZE_LIMIT_EXCEEDED = 4;

/**
 * One plain search for at most `upTo` entries, or null when there are more (or the server caps plain searches: AD's
 * MaxPageSize, 389-ds's nsslapd-sizelimit for non-root accounts answer sizeLimitExceeded at once). Samba answers a
 * plain search several times faster than the paged-results control (it re-reads every entry of each page); the
 * size limit keeps the whole result, held in memory at once, bounded.
 */
export async function searchAtOnce(client: Client, base: string, options: Omit<SearchOptions, 'paged' | 'sizeLimit'>, upTo: number): Promise<Entry[] | null> {
  if (upTo <= 0) return null;
  try {
    return (await client.search(base, { ...options, sizeLimit: upTo })).searchEntries;
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
  for await (const page of client.searchPaginated(base, { ...options, paged: { pageSize: read.pageSize } })) yield page.searchEntries;
}
