// Steps the directory benchmarks share: wait for a condition, change a description, remove what a run left.
import { Attribute, Change, type Client } from './ldapts.ts';
import { sleep } from './isolated-services.ts';

/** Polls `check` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, { timeoutMs = 120_000, intervalMs = 250 } = {}): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}

/** A modify that replaces the entry's description. */
export const describe = (value: string): Change => new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: [value] }) });

/** Deletes `base` and everything below it, deepest first; a tree already gone is fine. */
export async function deleteTree(client: Client, base: string): Promise<void> {
  try {
    const { searchEntries } = await client.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] });
    const dns = searchEntries.map((e) => e.dn).sort((a, b) => b.split(',').length - a.split(',').length);
    for (const dn of dns) await client.del(dn).catch(() => undefined);
  } catch {
    // gone already
  }
}

/**
 * A bare baseline's modifies done the writer's way: entries 0..count-1 shared out over the clients as they go, each a
 * base read of `attributes`, then its description replaced with `valueOf(i)`.
 */
export async function readAndModifyAll(clients: readonly Client[], count: number, dnOf: (i: number) => string, attributes: string[], valueOf: (i: number) => string): Promise<void> {
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; i < count; i = next++) {
        await client.search(dnOf(i), { scope: 'base', attributes });
        await client.modify(dnOf(i), describe(valueOf(i)));
      }
    }),
  );
}
