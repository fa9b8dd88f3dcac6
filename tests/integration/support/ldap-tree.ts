import { type Client } from 'ldapts';

/** Deletes an entry and everything below it, children first; a missing entry is fine. */
export async function deleteTree(client: Client, dn: string): Promise<void> {
  let children: string[];
  try {
    const { searchEntries } = await client.search(dn, { scope: 'one', attributes: ['1.1'] });
    children = searchEntries.map((e) => e.dn);
  } catch (error) {
    if ((error as { code?: unknown }).code === 32) return;
    throw error;
  }
  for (const child of children) await deleteTree(client, child);
  await client.del(dn);
}
