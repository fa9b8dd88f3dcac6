// needs-stack
// Resync of a 10,000-entry directory (AD -> 389-ds, pipe ad-to-ds of the demo configuration), with the destination's
// bare write rate measured in the same run:
// Each round (--rounds, default 2): 1. bare: the same N entries added straight into 389-ds by parallel ldapts connections (CONNECTIONS of them), bound
//    as the ds-writer's account like the pipeline (389-ds evaluates its ACIs on every add; Directory Manager skips
//    them and adds ~1.5 times faster);
// 2. resync into an empty destination: `idsync resync` publishes N snapshot events, the mapper and the ds-writer
//    (child processes, isolated topics and groups) create the entries; rate = N / (first publish .. last entry applied);
// 3. resync where nothing differs: the same command again; it reads both sides, compares every entry and publishes
//    nothing; three runs; rate = entries compared per second of the command's run (connections included).
// The demo pipes are pointed at OU=ResyncBench of the domain and ou=ResyncBench of the directory (outside OU=Corp,
// so a demo or test pipeline running at the same time never sees the bench's entries). The N source users stay in
// AD between runs (filling Samba takes ~1 min); pass --cleanup to remove them. The 389-ds side is removed each run.
// Usage: npm run bench -- resync [N] [--rounds=2] [--cleanup]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Client } from './lib/ldapts.ts';
import platform from '@idsync/platform';
import { demoConfig, IsolatedServices, root, sleep } from './lib/isolated-services.ts';

const { openLdapSession, writerCredentials } = platform;

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 10_000);
const CLEANUP = process.argv.includes('--cleanup');
const ROUNDS = Number(/^--rounds=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--rounds=')) ?? '')?.[1] ?? 2);
const CONNECTIONS = 8;
const config = demoConfig();
const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const AD_OU = `OU=ResyncBench,${adBase}`;
const DS_OU = `ou=ResyncBench,${dsBase}`;
const DS_BARE_OU = `ou=ResyncBenchBare,${dsBase}`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function connect(name: 'ad' | 'ds', asWriter = false): Promise<Client> {
  const directory = config.directories[name];
  if (!directory) throw new Error(`no directory ${name}`);
  return (await openLdapSession(name, directory, asWriter ? writerCredentials(config, name === 'ad' ? 'ad-writer' : 'ds-writer') : directory)).client;
}

async function pool(name: 'ad' | 'ds', n: number, asWriter = false): Promise<Client[]> {
  return Promise.all(Array.from({ length: n }, () => connect(name, asWriter)));
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
  await Promise.all(
    clients.map(async (client) => {
      while (next < n) await work(client, next++);
    }),
  );
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

const person = (i: number) => ({
  cn: `RB User ${i}`,
  login: `rbu${i}`,
  givenName: 'RB',
  sn: `User ${i}`,
  mail: `rbu${i}@bench.example`,
  description: `resync bench ${i}`,
  telephoneNumber: `+1 555 ${String(i).padStart(6, '0')}`,
});

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
      .add(`CN=${p.cn},${AD_OU}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        sAMAccountName: p.login,
        givenName: p.givenName,
        sn: p.sn,
        mail: p.mail,
        description: p.description,
        telephoneNumber: p.telephoneNumber,
      })
      .catch((error: unknown) => {
        // 68: already exists (an earlier run's entry).
        if ((error as { code?: number }).code !== 68) throw error;
      });
  });
  process.stderr.write(`  filled in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
}
const sourceEntries = await count(ad[0] as Client, AD_OU);

// ------------------------------------------------------------------ rounds: bare adds, then the resync, alternating
// The machine's other work (Samba, Kafka, 389-ds's own housekeeping) moves both rates by tens of percent between
// minutes: each round measures the bare rate right before the resync, and the figures are reported per round.
await deleteTree(ds, DS_BARE_OU);
await deleteTree(ds, DS_OU);

async function bareAdds(): Promise<number> {
  await (ds[0] as Client).add(DS_BARE_OU, { objectClass: ['top', 'organizationalUnit'], ou: 'ResyncBenchBare' });
  const asWriter = await pool('ds', CONNECTIONS, true);
  const started = Date.now();
  await parallel(asWriter, N, async (client, i) => {
    const p = person(i);
    await client.add(`cn=${p.cn},${DS_BARE_OU}`, {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      uid: p.login,
      cn: p.cn,
      givenName: p.givenName,
      sn: p.sn,
      mail: p.mail,
      description: p.description,
      telephoneNumber: p.telephoneNumber,
    });
  });
  const ms = Date.now() - started;
  await Promise.all(asWriter.map((c) => c.unbind().catch(() => undefined)));
  await deleteTree(ds, DS_BARE_OU);
  return (N * 1000) / ms;
}

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

interface Round {
  bareRate: number;
  fillRate: number;
  fill: { summary: CliSummary; wallMs: number };
  arrived: number;
  equalRuns: { summary: CliSummary; wallMs: number }[];
  writerRss: number;
  mapperRss: number;
}
const rounds: Round[] = [];
const services = await IsolatedServices.create(Date.now().toString(36), (yaml) => yaml.replaceAll('OU=Corp,', 'OU=ResyncBench,').replaceAll('ou=Corp,', 'ou=ResyncBench,'));
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const bareRate = await bareAdds();
    process.stderr.write(`round ${round}: bare ${fmt(bareRate)} adds/s\n`);
    await (ds[0] as Client).add(DS_OU, { objectClass: ['top', 'organizationalUnit'], ou: 'ResyncBench' });
    await services.start(['mapper', 'ds-writer']);
    const applied = () => services.counter('ds-writer', 'idsync_writer_requests_total', { result: 'applied' });
    const fillStart = Date.now();
    const fill = await runResync();
    if (fill.summary.create < N) throw new Error(`the resync planned ${fill.summary.create} creates, expected ${N}: ${JSON.stringify(fill.summary)}`);
    for (let seen = 0; (seen = await applied()) < fill.summary.create;) {
      if (Date.now() - fillStart > 15 * 60_000) throw new Error(`only ${seen} of ${fill.summary.create} applied after 15 min (logs in ${services.dir})`);
      await sleep(100);
    }
    const fillRate = (fill.summary.create * 1000) / (Date.now() - fillStart);
    const arrived = await count(ds[0] as Client, DS_OU);
    const writerRss = services.rssMb('ds-writer');
    const mapperRss = services.rssMb('mapper');
    await sleep(2_000); // let the writes settle (389-ds's changelog, Kafka commits) before timing reads
    const equalRuns = [await runResync(), await runResync(), await runResync()];
    rounds.push({ bareRate, fillRate, fill, arrived, equalRuns, writerRss, mapperRss });
    await services.stop();
    await deleteTree(ds, DS_OU);
  }
} finally {
  await services.dispose();
  await deleteTree(ds, DS_OU);
  await deleteTree(ds, DS_BARE_OU);
  if (CLEANUP) await deleteTree(ad, AD_OU);
  await Promise.all([...ad, ...ds].map((c) => c.unbind().catch(() => undefined)));
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};
console.log(`resync benchmark: ${fmt(sourceEntries)} source entries in ${AD_OU} (AD -> 389-ds, pipe ad-to-ds), ${ROUNDS} rounds`);
for (const [i, r] of rounds.entries()) {
  const compared = r.equalRuns.map((run) => run.summary.comparedPerSecond);
  console.log(
    `  round ${i + 1}: bare adds (${CONNECTIONS} connections, the ds-writer's account) ${fmt(r.bareRate)}/s; resync into an empty destination ${fmt(r.fillRate)}/s = ${((r.fillRate / r.bareRate) * 100).toFixed(0)}% of bare (${fmt(r.fill.summary.published)} events published by the command in ${(r.fill.wallMs / 1000).toFixed(1)} s, ${fmt(r.arrived)} entries arrived); nothing differs: ${compared.map(fmt).join(', ')} entries compared/s (${r.equalRuns.map((run) => (run.summary.elapsedMs / 1000).toFixed(2)).join(', ')} s; ${fmt(r.equalRuns[0]?.summary.equal ?? 0)} equal, ${fmt(r.equalRuns[0]?.summary.published ?? 0)} published)`,
  );
}
const ratios = rounds.map((r) => r.fillRate / r.bareRate);
console.log(
  `  median: resync into an empty destination ${(median(ratios) * 100).toFixed(0)}% of bare (goal >= 80%); nothing differs ${fmt(median(rounds.flatMap((r) => r.equalRuns.map((run) => run.summary.comparedPerSecond))))} entries compared/s (goal >= 5,000)`,
);
console.log(`  memory: idsync resync peak RSS ${rounds[0]?.equalRuns[0]?.summary.peakRssMb ?? '?'} MB; ds-writer RSS ${rounds[0]?.writerRss} MB; mapper RSS ${rounds[0]?.mapperRss} MB`);
process.exit(0);
