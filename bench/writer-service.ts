// needs-stack
// The ds-writer service alone on a backlog, against a bare ldapts loop doing the same work, in the same run:
// - service: N users synced from AD once (ad-detector, mapper, ds-writer), then per round N AD modifies made and
//   mapped while the ds-writer is stopped, then the ds-writer started alone: the rate at which it applies them (its own
//   /metrics, first to last) and its CPU per modify (/proc, from its first applied request to its last);
// - bare: the same N modifies by ldapts as the writer's account on as many connections as the writer has (a base read
//   of the entry with the attributes the writer reads, then the modify), and the bench process's CPU per modify.
// With nothing else running, the CPU per modify is a steadier figure than the whole pipeline's rate on 2 cores.
// Samba evaluates the ad-detector's first DirSync over its whole database: on a large one (tens of thousands of
// objects, after many benchmark runs) it may give up (timeLimitExceeded); `bash scripts/stack.sh reset` first.
// Usage: npm run bench -- writer-service [N] [rounds]
import { readFileSync } from 'node:fs';
import platform from '@idsync/platform';
import { demoConfig, IsolatedServices } from './lib/isolated-services.ts';
import { deleteTree, describe, readAndModifyAll, waitFor } from './lib/directory-steps.ts';

const { openLdapSession, writerCredentials } = platform;
const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);
const config = demoConfig();
const s = Date.now().toString(36);
const ad = config.directories['ad'];
const ds = config.directories['ds'];
if (!ad || !ds) throw new Error('config/demo.yaml has no directories ad and ds');
const connections = config.services['ds-writer'].connections;

const ou = `ws${s}`;
const adOu = `OU=${ou},OU=Corp,${ad.baseDn}`;
const dsOu = `ou=${ou},ou=Corp,${ds.baseDn}`;
const cnOf = (i: number) => `ws${i} U${s}`;

/** User plus system CPU of a process so far, milliseconds (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}

/** The bench's own waits: longer than the pipeline's (setup syncs N users), polled often (the drain is short). */
const until = (what: string, check: () => Promise<boolean>) => waitFor(what, check, { timeoutMs: 180_000, intervalMs: 100 });

const services = await IsolatedServices.create(s);
const { client: adAdmin } = await openLdapSession('ad', ad);
const { client: dsAdmin } = await openLdapSession('ds', ds);
const applied = () => services.counter('ds-writer', 'idsync_writer_requests_total');
const produced = () => services.counter('mapper', 'idsync_mapper_requests_total');
const serviceRates: number[] = [];
const serviceCpu: number[] = [];
try {
  await services.start(['ad-detector', 'mapper', 'ds-writer']);
  await adAdmin.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou });
  for (let i = 0; i < N; i++) {
    await adAdmin.add(`CN=${cnOf(i)},${adOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: cnOf(i), sAMAccountName: `ws${i}x${s}`, givenName: `ws${i}`, sn: `U${s}` });
  }
  const users = async () => (await dsAdmin.search(dsOu, { scope: 'one', filter: '(objectClass=person)', attributes: ['1.1'], sizeLimit: 0 }).catch(() => ({ searchEntries: [] }))).searchEntries.length;
  await until(`${N} users in 389-ds`, async () => (await users()) === N);
  console.log(`setup: ${N} users synced from AD to 389-ds; ds-writer: ${connections} LDAP connections`);

  for (let round = 0; round < ROUNDS; round++) {
    await services.stop();
    await services.start(['ad-detector', 'mapper']);
    for (let i = 0; i < N; i++) await adAdmin.modify(`CN=${cnOf(i)},${adOu}`, describe(`r${round}-${i}`));
    await until(`${N} requests mapped`, async () => (await produced()) >= N);
    await services.stop();
    await services.start(['ds-writer']);
    const pid = services.pid('ds-writer');
    // From the first request it applies: its start (modules, links view, consumer group) is not the figure.
    let first = 0;
    await until('a first request applied', async () => (first = await applied()) > 0);
    const cpuBefore = cpuMsOf(pid);
    const started = performance.now();
    await until(`${N} requests applied`, async () => (await applied()) >= N);
    const seconds = (performance.now() - started) / 1000;
    const counted = N - first;
    const cpuUs = ((cpuMsOf(pid) - cpuBefore) * 1000) / counted;
    serviceRates.push(counted / seconds);
    serviceCpu.push(cpuUs);
    console.log(
      `round ${round}: the ds-writer applied ${counted} modifies in ${seconds.toFixed(2)} s = ${(counted / seconds).toFixed(0)}/s, ${cpuUs.toFixed(0)} µs of CPU per modify, RSS ${services.rssMb('ds-writer')} MB`,
    );
  }
  await services.stop();

  // Bare: the same work by ldapts, same account, same number of connections, entries shared out as the lanes go.
  const sessions = await Promise.all(Array.from({ length: connections }, () => openLdapSession('ds', ds, writerCredentials(config, 'ds-writer'))));
  const attributes = ['objectClass', 'entryUUID', 'description', 'uid', 'mail'];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await readAndModifyAll(
    sessions.map(({ client }) => client),
    N,
    (i) => `cn=${cnOf(i)},${dsOu}`,
    attributes,
    (i) => `bare-${i}`,
  );
  const bareRate = N / ((performance.now() - started) / 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const bareCpuUs = (cpu.user + cpu.system) / N;
  await Promise.all(sessions.map(({ client }) => client.unbind()));
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  console.log(`bare ldapts loop (${connections} connections, a base read and the modify each): ${bareRate.toFixed(0)} modifies/s, ${bareCpuUs.toFixed(0)} µs of CPU per modify`);
  console.log(
    `ds-writer service, mean of ${ROUNDS} rounds: ${mean(serviceRates).toFixed(0)} modifies/s = ${((100 * mean(serviceRates)) / bareRate).toFixed(0)}% of bare; ` +
      `${mean(serviceCpu).toFixed(0)} µs of CPU per modify = ${(mean(serviceCpu) / bareCpuUs).toFixed(1)}x bare`,
  );
} finally {
  await services.dispose();
  await deleteTree(dsAdmin, dsOu);
  await deleteTree(adAdmin, adOu);
  await adAdmin.unbind().catch(() => undefined);
  await dsAdmin.unbind().catch(() => undefined);
}
