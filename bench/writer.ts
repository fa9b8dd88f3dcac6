// needs-stack
// DirectoryWriter vs a bare ldapts add loop, into 389-ds: N upserts of new users (find by DN + correlation search,
// read, plan, add) against N plain adds of the same entries, on the same number of parallel connections.
// Usage: npm run bench -- writer [N] [connections]
import platform from '@idsync/platform';
import writerPkg from '@idsync/writer';
import { demoConfig } from './lib/isolated-services.ts';

const { openLdapSession, writerCredentials } = platform;
const { DirectoryWriter } = writerPkg;

const N = Number(process.argv[2] ?? 1000);
const CONNECTIONS = Number(process.argv[3] ?? 4);
const config = demoConfig();
const ds = config.directories['ds'];
if (!ds) throw new Error('no directory ds');
const suffix = Date.now().toString(36);
const container = `ou=bench-writer-${suffix},${ds.baseDn}`;
const bareOu = `ou=bare,${container}`;
const writerOu = `ou=writer,${container}`;
const CLASSES = ['top', 'person', 'organizationalPerson', 'inetOrgPerson'];

const { client: admin } = await openLdapSession('ds', ds);
await admin.add(container, { objectClass: ['top', 'organizationalUnit'], ou: `bench-writer-${suffix}` });
await admin.add(bareOu, { objectClass: ['top', 'organizationalUnit'], ou: 'bare' });
await admin.add(writerOu, { objectClass: ['top', 'organizationalUnit'], ou: 'writer' });

// Distinct uids per side: the writer's correlation on uid would otherwise find the bare entries.
const user = (i: number, side = 'b') => ({
  uid: `${side}w${suffix}-${i}`,
  cn: `Bench User ${i}`,
  sn: `User${i}`,
  givenName: 'Bench',
  mail: `${side}w${suffix}-${i}@example.com`,
  telephoneNumber: `+1 555 ${String(i).padStart(4, '0')}`,
  description: 'benchmark entry',
});

async function runParallel(count: number, worker: (lane: number, index: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, lane) => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const t = performance.now();
        await worker(lane, i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}
const pct = (sorted: number[], p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0).toFixed(1);

try {
  // Bare: ldapts adds with the writer's account, one connection per lane.
  const credentials = writerCredentials(config, 'ds-writer');
  const bare = await Promise.all(Array.from({ length: CONNECTIONS }, () => openLdapSession('ds', ds, credentials)));
  let t = performance.now();
  const bareLatencies = await runParallel(N, async (lane, i) => {
    const u = user(i);
    await (bare[lane] as (typeof bare)[number]).client.add(`uid=${u.uid},${bareOu}`, { objectClass: CLASSES, ...u });
  });
  const bareSeconds = (performance.now() - t) / 1000;
  for (const s of bare) await s.client.unbind();

  // DirectoryWriter: upserts of the same entries (other DNs), one writer (connection) per lane.
  const writers = Array.from({ length: CONNECTIONS }, () => DirectoryWriter.forService(config, 'ds-writer'));
  const requestOf = (i: number) => {
    const u = user(i, 'd');
    return {
      requestId: `bench-${suffix}-${i}/bench/0`,
      pipe: 'bench',
      sourceEventId: `bench-${suffix}-${i}`,
      sourceEntryId: { kind: 'objectGUID' as const, value: '00000000-0000-4000-8000-000000000000' },
      op: 'upsert' as const,
      dn: `uid=${u.uid},${writerOu}`,
      previousDn: null,
      objectClasses: CLASSES,
      attributes: Object.entries(u).map(([name, value]) => ({ name, op: 'replace' as const, values: [value] })),
      correlation: [['uid']],
      changeTime: null,
      detectedAt: Date.now(),
    };
  };
  t = performance.now();
  const writerLatencies = await runParallel(N, async (lane, i) => {
    const result = await (writers[lane] as (typeof writers)[number]).apply(requestOf(i));
    if (result.outcome !== 'applied') throw new Error(`unexpected ${result.outcome}`);
  });
  const writerSeconds = (performance.now() - t) / 1000;

  // Replays: the same upserts again, all no-ops (read + compare only).
  t = performance.now();
  await runParallel(N, async (lane, i) => {
    const result = await (writers[lane] as (typeof writers)[number]).apply(requestOf(i));
    if (result.outcome !== 'no-op') throw new Error(`replay was ${result.outcome}`);
  });
  const replaySeconds = (performance.now() - t) / 1000;
  for (const w of writers) await w.close();

  const bareRate = N / bareSeconds;
  const writerRate = N / writerSeconds;
  console.log(`389-ds, ${N} new users, ${CONNECTIONS} connections`);
  console.log(`bare ldapts add:        ${bareRate.toFixed(0)} entries/s  (p50 ${pct(bareLatencies, 50)} ms, p99 ${pct(bareLatencies, 99)} ms)`);
  console.log(`DirectoryWriter upsert: ${writerRate.toFixed(0)} entries/s  (p50 ${pct(writerLatencies, 50)} ms, p99 ${pct(writerLatencies, 99)} ms)`);
  console.log(`ratio writer/bare:      ${(writerRate / bareRate).toFixed(2)}`);
  console.log(`replayed upserts (no-op): ${(N / replaySeconds).toFixed(0)} entries/s`);
  console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
} finally {
  // Clean up: children first.
  for (const ou of [bareOu, writerOu]) {
    const { searchEntries } = await admin.search(ou, { scope: 'one', attributes: ['1.1'], paged: true });
    for (const e of searchEntries) await admin.del(e.dn);
    await admin.del(ou);
  }
  await admin.del(container);
  await admin.unbind();
}
