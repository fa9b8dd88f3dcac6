// needs-stack
// What links cost a writer, into 389-ds (ds-writer) or Samba AD (ad-writer): the same DirectoryWriter work with and
// without links, on the same number of connections, alternating rounds (ABBA order). Per round and variant, N users:
// upserts that create them (with links: the new entry's id comes with the add on 389-ds, is read back on AD, and the
// link is recorded), modifies of one attribute (without links: found by DN; with links: by the link) and replays of
// the modifies (read and compare only). Links live in a LinkStore (SQLite) as in the writers; publishing them to
// Kafka (once per batch) is in the pipeline bench.
// Usage: npm run bench -- writer-links [N] [connections] [rounds] [ds|ad]
import { randomUUID } from 'node:crypto';
import links from '@idsync/links';
import platform from '@idsync/platform';
import writerPkg from '@idsync/writer';
import { demoConfig } from './lib/isolated-services.ts';

const { openLdapSession } = platform;
const { DirectoryWriter } = writerPkg;
const { LinkRegistry, LinkStore } = links;

const N = Number(process.argv[2] ?? 1000);
const CONNECTIONS = Number(process.argv[3] ?? 8);
const ROUNDS = Number(process.argv[4] ?? 2);
const SIDE = process.argv[5] === 'ad' ? 'ad' : 'ds';
const AD = SIDE === 'ad';
const config = demoConfig();
const destination = config.directories[SIDE];
if (!destination) throw new Error(`no directory ${SIDE}`);
const suffix = Date.now().toString(36);
const container = `${AD ? 'OU' : 'ou'}=bench-links-${suffix},${destination.baseDn}`;
const CLASSES = AD ? ['top', 'person', 'organizationalPerson', 'user'] : ['top', 'person', 'organizationalPerson', 'inetOrgPerson'];
const LOGIN = AD ? 'sAMAccountName' : 'uid';
const PIPE = 'bench';

const { client: admin } = await openLdapSession(SIDE, destination);
await admin.add(container, { objectClass: ['top', 'organizationalUnit'], ou: `bench-links-${suffix}` });

async function runParallel(count: number, worker: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        await worker(i);
      }
    }),
  );
  return count / ((performance.now() - t) / 1000);
}

interface Figures {
  create: number;
  modify: number;
  replay: number;
}

async function variant(name: string, withLinks: boolean): Promise<Figures> {
  const ou = `${AD ? 'OU' : 'ou'}=${name},${container}`;
  await admin.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: name });
  const store = LinkStore.open();
  const registry = new LinkRegistry({ store, topic: 'unused', service: 'ds-writer' });
  const writer = DirectoryWriter.forService(config, AD ? 'ad-writer' : 'ds-writer', {
    connections: CONNECTIONS,
    ...(withLinks ? { links: registry, pipeSources: new Map([[PIPE, AD ? 'ds' : 'ad']]) } : {}),
  });
  const sources = Array.from({ length: N }, () => randomUUID());
  const request = (i: number, op: 'upsert' | 'modify', description: string) => {
    const uid = `${name}-${i}`;
    const attributes =
      op === 'upsert'
        ? Object.entries({ [LOGIN]: uid, ...(AD ? {} : { cn: `Bench ${i}` }), sn: `User${i}`, mail: `${uid}@example.com`, description }).map(([attr, value]) => ({
            name: attr,
            op: 'replace' as const,
            values: [value],
          }))
        : [{ name: 'description', op: 'replace' as const, values: [description] }];
    return {
      requestId: `${name}-${i}-${op}-${description}/${PIPE}/0`,
      pipe: PIPE,
      sourceEventId: `${name}-${i}`,
      sourceEntryId: { kind: AD ? ('entryUUID' as const) : ('objectGUID' as const), value: sources[i] as string },
      op,
      dn: AD ? `CN=${uid},${ou}` : `uid=${uid},${ou}`,
      previousDn: null,
      objectClasses: op === 'upsert' ? CLASSES : [],
      attributes,
      correlation: [[LOGIN]],
      changeTime: null,
      detectedAt: Date.now(),
    };
  };
  const expect = (outcome: string, wanted: string): void => {
    if (outcome !== wanted) throw new Error(`${name}: ${outcome}, expected ${wanted}`);
  };
  try {
    const create = await runParallel(N, async (i) => expect((await writer.apply(request(i, 'upsert', 'created'))).outcome, 'applied'));
    const modify = await runParallel(N, async (i) => expect((await writer.apply(request(i, 'modify', 'modified'))).outcome, 'applied'));
    const replay = await runParallel(N, async (i) => expect((await writer.apply(request(i, 'modify', 'modified'))).outcome, 'no-op'));
    if (withLinks && store.counts().links !== N) throw new Error(`${name}: ${store.counts().links} links, expected ${N}`);
    return { create, modify, replay };
  } finally {
    await writer.close();
    store.close();
    const { searchEntries } = await admin.search(ou, { scope: 'one', attributes: ['1.1'], paged: true });
    for (const e of searchEntries) await admin.del(e.dn);
    await admin.del(ou);
  }
}

try {
  console.log(`${AD ? 'Samba AD' : '389-ds'}, ${N} users per variant and round, ${CONNECTIONS} connections, ${ROUNDS} rounds (without and with links, ABBA order)`);
  console.log('| round | variant | creates/s | modifies/s | replayed modifies/s |');
  console.log('| --- | --- | --- | --- | --- |');
  const totals = { without: { create: 0, modify: 0, replay: 0 }, with: { create: 0, modify: 0, replay: 0 } };
  for (let round = 1; round <= ROUNDS; round++) {
    // ABBA: each variant goes first as often as second (the server slows as its database fills).
    for (const withLinks of round % 2 === 1 ? [false, true] : [true, false]) {
      const figures = await variant(`r${round}${withLinks ? 'l' : 'n'}`, withLinks);
      const key = withLinks ? 'with' : 'without';
      totals[key].create += figures.create;
      totals[key].modify += figures.modify;
      totals[key].replay += figures.replay;
      console.log(`| ${round} | ${withLinks ? 'with links' : 'without links'} | ${figures.create.toFixed(0)} | ${figures.modify.toFixed(0)} | ${figures.replay.toFixed(0)} |`);
    }
  }
  const ratio = (k: keyof Figures): string => `${((totals.with[k] / totals.without[k]) * 100).toFixed(0)}%`;
  console.log(`with links / without (sum of rounds): creates ${ratio('create')}, modifies ${ratio('modify')}, replays ${ratio('replay')}`);
  console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
} finally {
  await admin.del(container).catch(() => undefined);
  await admin.unbind();
}
