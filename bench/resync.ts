// needs-stack
// Resync of a 10,000-entry directory (AD -> 389-ds, pipe ad-to-ds of the demo configuration), with the destination's
// bare write rate measured in the same run:
// 1. bare: the same N entries added straight into 389-ds by parallel ldapts connections (CONNECTIONS of them);
// 2. resync into an empty destination: `idsync resync` publishes N snapshot events, the mapper and the ds-writer
//    (child processes, isolated topics and groups) create the entries; rate = N / (first publish .. last entry applied);
// 3. resync where nothing differs: the same command again; it reads both sides, compares every entry and publishes
//    nothing; rate = entries compared per second of the command's run (connections included).
// The demo pipes are pointed at OU=ResyncBench of the domain and ou=ResyncBench of the directory (outside OU=Corp,
// so a demo or test pipeline running at the same time never sees the bench's entries). The N source users stay in
// AD between runs (filling Samba takes ~1 min); pass --cleanup to remove them. The 389-ds side is removed each run.
// Usage: npm run bench -- resync [N] [--cleanup]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Client } from 'ldapts';
import configPkg from '@idsync/config';
import platform from '@idsync/platform';
import { IsolatedServices, root, sleep, stackEnv } from './lib/isolated-services.ts';

const { parseConfig } = configPkg;
const { openLdapSession } = platform;
const { readFileSync } = await import('node:fs');

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 10_000);
const CLEANUP = process.argv.includes('--cleanup');
const CONNECTIONS = 8;
const env = stackEnv();
const config = parseConfig(readFileSync(join(root, 'config', 'demo.yaml'), 'utf8'), 'config/demo.yaml', env);
const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const AD_OU = `OU=ResyncBench,${adBase}`;
const DS_OU = `ou=ResyncBench,${dsBase}`;
const DS_BARE_OU = `ou=ResyncBenchBare,${dsBase}`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function connect(name: 'ad' | 'ds'): Promise<Client> {
  const directory = config.directories[name];
  if (!directory) throw new Error(`no directory ${name}`);
  return (await openLdapSession(name, directory)).client;
}

async function pool(name: 'ad' | 'ds', n: number): Promise<Client[]> {
  return Promise.all(Array.from({ length: n }, () => connect(name)));
}

async function count(client: Client, base: string): Promise<number> {
  try {
    let total = 0;
    for await (const page of client.searchPaginated(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'], paged: { pageSize: 1000 } })) total += page.searchEntries.length;
    return total;
  } catch (error) {
    if ((error as { code?: number }).code === 32) return 0;
    throw error;
  }
}

/** Runs `work(i)` for i in 0..n-1 over the clients, each client one request at a time. */
async function parallel(clients: Client[], n: number, work: (client: Client, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(clients.map(async (client) => {
    while (next < n) await work(client, next++);
  }));
}

async function deleteTree(clients: Client[], base: string): Promise<void> {
  const [first] = clients;
  if (!first) return;
  let dns: string[];
  try {
    const { searchEntries } = await first.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'], paged: { pageSize: 1000 } });
    dns = searchEntries.map((e) => e.dn).filter((dn) => dn.toLowerCase() !== base.toLowerCase());
  } catch {
    return;
  }
  await parallel(clients, dns.length, (client, i) => client.del(dns[i] as string).catch(() => undefined));
  await first.del(base).catch(() => undefined);
}

const person = (i: number) => ({ cn: `RB User ${i}`, login: `rbu${i}`, givenName: 'RB', sn: `User ${i}`, mail: `rbu${i}@bench.example`, description: `resync bench ${i}`, telephoneNumber: `+1 555 ${String(i).padStart(6, '0')}` });

// ------------------------------------------------------------------ source: N users in AD
const ad = await pool('ad', CONNECTIONS);
const ds = await pool('ds', CONNECTIONS);
const present = await count(ad[0] as Client, AD_OU);
if (present < N + 1) {
  process.stderr.write(`filling ${AD_OU} with ${fmt(N)} users (${fmt(present)} present; kept for later runs)...\n`);
  await (ad[0] as Client).add(AD_OU, { objectClass: ['top', 'organizationalUnit'], ou: 'ResyncBench' }).catch(() => undefined);
  const t = Date.now();
  await parallel(ad, N, async (client, i) => {
    const p = person(i);
    await client
      .add(`CN=${p.cn},${AD_OU}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: p.login, givenName: p.givenName, sn: p.sn, mail: p.mail, description: p.description, telephoneNumber: p.telephoneNumber })
      .catch((error: { code?: number }) => {
        if (error.code !== 68) throw error;
      });
  });
  process.stderr.write(`  filled in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
}
const sourceEntries = await count(ad[0] as Client, AD_OU);

// ------------------------------------------------------------------ 1. bare parallel adds into 389-ds
await deleteTree(ds, DS_BARE_OU);
await deleteTree(ds, DS_OU);
await (ds[0] as Client).add(DS_BARE_OU, { objectClass: ['top', 'organizationalUnit'], ou: 'ResyncBenchBare' });
const bareStart = Date.now();
await parallel(ds, N, async (client, i) => {
  const p = person(i);
  await client.add(`cn=${p.cn},${DS_BARE_OU}`, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: p.login, cn: p.cn, givenName: p.givenName, sn: p.sn, mail: p.mail, description: p.description, telephoneNumber: p.telephoneNumber });
});
const bareMs = Date.now() - bareStart;
const bareRate = (N * 1000) / bareMs;
process.stderr.write(`bare: ${fmt(N)} adds in ${(bareMs / 1000).toFixed(1)} s\n`);
await deleteTree(ds, DS_BARE_OU);

// ------------------------------------------------------------------ 2. and 3. resync through the pipeline
await (ds[0] as Client).add(DS_OU, { objectClass: ['top', 'organizationalUnit'], ou: 'ResyncBench' });
const services = await IsolatedServices.create(Date.now().toString(36), (yaml) => yaml.replaceAll('OU=Corp,', 'OU=ResyncBench,').replaceAll('ou=Corp,', 'ou=ResyncBench,'));
await services.start(['mapper', 'ds-writer']);

interface CliSummary {
  sourceEntries: number;
  compared: number;
  equal: number;
  create: number;
  update: number;
  published: number;
  elapsedMs: number;
  comparedPerSecond: number;
  peakRssMb: number;
}

async function runResync(): Promise<{ summary: CliSummary; wallMs: number }> {
  const started = Date.now();
  // The installed command (bin/idsync), as an operator runs it.
  const child = spawn(join(root, 'services', 'cli', 'bin', 'idsync'), ['resync', '--pipe', 'ad-to-ds', '--base-dn', AD_OU, '--json', '--restart', '--state-dir', join(services.dir, 'state')], {
    env: services.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`idsync resync exited ${code}\n${err}\n${out}`);
  return { summary: JSON.parse(out) as CliSummary, wallMs: Date.now() - started };
}

let results;
try {
  const applied = () => services.counter('ds-writer', 'idsync_writer_requests_total', { result: 'applied' });
  const before = await applied();
  const fillStart = Date.now();
  const fill = await runResync();
  const expected = fill.summary.create + fill.summary.update;
  if (fill.summary.create < N) throw new Error(`the resync planned ${fill.summary.create} creates, expected ${N}: ${JSON.stringify(fill.summary)}`);
  let last = before;
  while ((last = await applied()) - before < expected) {
    if (Date.now() - fillStart > 15 * 60_000) throw new Error(`only ${last - before} of ${expected} applied after 15 min (logs in ${services.dir})`);
    await sleep(100);
  }
  const fillMs = Date.now() - fillStart;
  const arrived = await count(ds[0] as Client, DS_OU);
  const writerRss = services.rssMb('ds-writer');
  const mapperRss = services.rssMb('mapper');

  const equalRuns = [await runResync(), await runResync()];
  results = { fill, fillMs, expected, arrived, writerRss, mapperRss, equalRuns };
} finally {
  await services.stop();
  await deleteTree(ds, DS_OU);
  if (CLEANUP) await deleteTree(ad, AD_OU);
  await Promise.all([...ad, ...ds].map((c) => c.unbind().catch(() => undefined)));
}

const { fill, fillMs, expected, arrived, writerRss, mapperRss, equalRuns } = results;
const fillRate = (fill.summary.create * 1000) / fillMs;
console.log(`resync benchmark: ${fmt(sourceEntries)} source entries in ${AD_OU} (AD -> 389-ds, pipe ad-to-ds)`);
console.log(`  bare 389-ds adds, ${CONNECTIONS} parallel ldapts connections: ${fmt(bareRate)} entries/s (${fmt(N)} in ${(bareMs / 1000).toFixed(1)} s)`);
console.log(`  resync into an empty destination: ${fmt(fill.summary.create)} created (+${fill.summary.update} updated) in ${(fillMs / 1000).toFixed(1)} s = ${fmt(fillRate)} entries/s = ${((fillRate / bareRate) * 100).toFixed(0)}% of bare (goal >= 80%)`);
console.log(`    the command itself: ${fmt(fill.summary.published)} events published in ${(fill.wallMs / 1000).toFixed(1)} s; ${fmt(arrived)} entries now in ${DS_OU}; ${fmt(expected)} writes applied`);
for (const [i, run] of equalRuns.entries()) {
  console.log(`  resync where nothing differs (run ${i + 1}): ${fmt(run.summary.compared)} compared, ${fmt(run.summary.equal)} equal, ${fmt(run.summary.published)} published, ${fmt(run.summary.comparedPerSecond)} entries compared/s (command ${(run.summary.elapsedMs / 1000).toFixed(2)} s, process ${(run.wallMs / 1000).toFixed(2)} s incl. Node start) (goal >= 5,000/s)`);
}
console.log(`  memory: idsync resync peak RSS ${equalRuns[0]?.summary.peakRssMb ?? '?'} MB; ds-writer RSS ${writerRss} MB; mapper RSS ${mapperRss} MB`);
process.exit(0);
