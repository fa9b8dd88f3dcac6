// needs-stack
/**
 * Resync at scale: does `idsync resync`'s memory stay flat as the directories grow? For each N (default 10,000 and
 * 100,000), N users are loaded into both directories with their own bulk tools, linked, 1% of them damaged at the
 * destination, and `idsync resync --pipe ad-to-ds` (the installed command, bin/idsync) runs three times:
 *   1. --dry-run                       (defaults: each side read in one search when it has at most 50,000 entries)
 *   2. a real run                      (publishes the 1% that differ on the run's own change topic; nothing applies them)
 *   3. --dry-run --unpaged-limit 0     (every read paged: the least memory)
 * and prints per run: entries read, entries compared, elapsed, compare rate (entries/s), where the time went, the
 * command's own peak RSS (summary.peakRssMb, at the end of the comparison) and the peak RSS of its process sampled
 * from /proc/<pid>/status (VmHWM, every 100 ms: the whole run, deletion pass and output included).
 *
 * How the directories are loaded (the servers are stopped for it, each for a few seconds to minutes):
 *   - 389-ds: the userRoot backend is exported (`dsctl idsync db2ldif userRoot`), the N users appended to the export
 *     (with their entryUUIDs, so the links can be written without reading them back), and the whole imported offline
 *     (`dsctl idsync ldif2db userRoot`): the import replaces the backend's content, so the stack's seed (suffix, ACIs,
 *     the writer account, ou=Corp) comes back with it;
 *   - Samba: `ldbadd -H <stack>/samba/private/sam.ldb` with the DC stopped, USERS_PER_OU entries per call (falls
 *     back to LDAP adds, 8 connections, when ldbadd fails); the objectGUIDs are read back over LDAP for the links.
 * The users are spread over sub-OUs of USERS_PER_OU each (OU=G<k>,OU=ResyncScale, mirrored in 389-ds): Samba's cost
 * of an add grows with the entries already in the same container (its one-level index), about 11 ms per add with
 * 5,000 in the OU and twice that with 10,000, which would put 100,000 in one OU out of reach.
 * The pipes of config/demo.yaml are pointed at OU=ResyncScale / ou=ResyncScale (outside OU=Corp); the command runs
 * on topics of its own (idsync.bench.<run>.*, created and deleted here) and connects to Kafka as the stack's
 * administrator (no ACLs to set up). Links for every entry are produced on the run's links topic.
 *
 * Samba's loaded private directory is kept in CACHE_DIR, per domain (its SID) and N, and used instead of loading
 * again (100,000 users take about 86 minutes to add on a 2-core machine); --no-cache loads anyway.
 * Afterwards the stack is put back as it was: the export re-imported into 389-ds and Samba's private directory
 * (copied while the DC was stopped) restored, both servers started again. --reset instead runs
 * `scripts/stack.sh reset` and `up` (every server's data, Kafka's topics included, provisioned afresh).
 *
 * Run it as root (the stack's servers are root's), with nothing else using the stack: the directories are stopped and
 * their content replaced while it runs (no tests, no demo, no CI run).
 * --baseline <tree>: the same dry runs with another checkout's CLI (built; e.g. a worktree of the commit before the
 * on-disk index), on the same data in the same run, for the comparison.
 *   npm run bench -- resync-scale [N...] [--reset] [--baseline <tree>] [--no-cache]
 *   npm run bench -- resync-scale 10000 100000 --baseline /work/wt-before
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'ldapts';
import YAML from 'yaml';
import { canonicalGuid, encodeLink, type EntryLink, linkKey } from '@idsync/contracts';
import { type ConfigDocument } from './lib/config-document.ts';

const root = join(import.meta.dirname, '..');
const baselineAt = process.argv.indexOf('--baseline');
const BASELINE = baselineAt > 0 ? process.argv[baselineAt + 1] : undefined;
if (baselineAt > 0 && (BASELINE === undefined || !existsSync(join(BASELINE, 'services', 'cli', 'bin', 'idsync'))))
  throw new Error(`--baseline: no services/cli/bin/idsync in ${BASELINE ?? '(missing path)'}`);
const SIZES = process.argv
  .slice(2)
  .filter((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--baseline')
  .map(Number);
const ENTRY_COUNTS = SIZES.length > 0 ? SIZES : [10_000, 100_000];
const RESET = process.argv.includes('--reset');
const NO_CACHE = process.argv.includes('--no-cache');
/** Samba private directories with N bench users loaded, per domain SID and N (see the top of this file). */
const CACHE_DIR = '/var/cache/idsync/resync-scale';
/** Part of the cache key: a cache from another way of loading is never reused. */
const LOADER_VERSION = 'sub-ous-1000-v1';

const STACK_DIR = process.env['IDSYNC_STACK_DIR'] ?? '/var/lib/idsync-stack';
const DS_INSTANCE = 'idsync';
const DS_LDIF_DIR = `/var/lib/dirsrv/slapd-${DS_INSTANCE}/ldif`;
const SAMBA_PRIVATE = join(STACK_DIR, 'samba', 'private');
const OU = 'ResyncScale';
/** One user in this many is damaged at the destination (its description differs). */
const DAMAGE_EVERY = 100;
const LDAP_CONNECTIONS = 8;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** KEY='value' lines of the stack's generated connection file. */
function readStackEnv(): Record<string, string> {
  const file = join(STACK_DIR, 'stack.env');
  if (!existsSync(file)) throw new Error(`${file} is missing: start the local stack (npm run stack -- up)`);
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
  }
  return env;
}

function need(env: Record<string, string>, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`the stack's settings have no ${name}: run npm run stack -- up`);
  return value;
}

/** Runs a command to its end; throws with its output when it fails. */
function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}\n${result.stdout}`.slice(0, 4_000));
  return result.stdout;
}

const stack = (...args: string[]): string => run('bash', [join(root, 'scripts', 'stack.sh'), ...args]);

/** Time a step, print it. */
async function timed<T>(what: string, work: () => T | Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  process.stderr.write(`  ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return result;
}

/** Writes text to a file in large pieces (an LDIF of 100,000 entries is never held whole). */
class FileWriter {
  private readonly fd: number;
  private pending = '';
  constructor(path: string, mode: 'w' | 'a' = 'w') {
    this.fd = openSync(path, mode, 0o644);
  }
  write(text: string): void {
    this.pending += text;
    if (this.pending.length > 1 << 20) this.flush();
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
  private flush(): void {
    const bytes = Buffer.from(this.pending, 'utf8');
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at);
    this.pending = '';
  }
}

/** User i, as both directories hold it (the pipe maps sAMAccountName to uid and copies the rest). */
const person = (i: number) => ({
  cn: `RS User ${i}`,
  login: `rsu${i}`,
  givenName: 'RS',
  sn: `User ${i}`,
  mail: `rsu${i}@scale.example`,
  description: `resync scale ${i}`,
  telephoneNumber: `+1 555 ${String(i).padStart(6, '0')}`,
});
/** entryUUIDs of the loaded 389-ds entries: 0 is the OU, i + 1 user i. */
const entryUuid = (n: number): string => `5ca1e000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
/** Users per sub-OU (see the loading notes above). */
const USERS_PER_OU = 1_000;
const subOuOf = (i: number): number => Math.floor(i / USERS_PER_OU);
const subOuName = (k: number): string => `G${k}`;
/** entryUUIDs of the sub-OUs in 389-ds. */
const subOuUuid = (k: number): string => `5ca1e000-0000-4000-9000-${k.toString(16).padStart(12, '0')}`;
const subOuCount = (n: number): number => Math.ceil(n / USERS_PER_OU);

// ------------------------------------------------------------------ the stack's settings, the run's configuration
if (process.getuid?.() !== 0) throw new Error('run the resync-scale bench as root: it stops and loads the stack’s directories');
const stackEnv = readStackEnv();
const adBase = need(stackEnv, 'AD_BASE_DN');
const dsBase = need(stackEnv, 'DS_BASE_DN');
const AD_OU = `OU=${OU},${adBase}`;
const DS_OU = `ou=${OU},${dsBase}`;
const adUserDn = (i: number, cn: string): string => `CN=${cn},OU=${subOuName(subOuOf(i))},${AD_OU}`;
const dsUserDn = (i: number, cn: string): string => `cn=${cn},ou=${subOuName(subOuOf(i))},${DS_OU}`;
const runId = Date.now().toString(36);
const workDir = mkdtempSync(join(tmpdir(), `idsync-resync-scale-${runId}-`));

/** config/demo.yaml pointed at the bench's OUs, on topics of this run, the CLI connecting as Kafka's administrator. */
function benchConfig(): { file: string; topics: { changes: string; links: string } } {
  const doc = YAML.parse(
    readFileSync(join(root, 'config', 'demo.yaml'), 'utf8')
      .replaceAll('OU=Corp,', `OU=${OU},`)
      .replaceAll('ou=Corp,', `ou=${OU},`),
  ) as ConfigDocument;
  doc.logLevel = 'warn';
  doc.kafka.clientId = `idsync-bench-${runId}`;
  for (const topic of Object.values(doc.kafka.topics)) topic.name = topic.name.replace(/^idsync\./, `idsync.bench.${runId}.`);
  doc.kafka.sasl.principals.cli = { username: '${IDSYNC_KAFKA_ADMIN_USERNAME}', password: '${IDSYNC_KAFKA_ADMIN_PASSWORD}' };
  const file = join(workDir, 'config.yaml');
  writeFileSync(file, YAML.stringify(doc));
  return { file, topics: { changes: doc.kafka.topics.adChanges.name, links: doc.kafka.topics.links.name } };
}
const config = benchConfig();

const kafka = new Kafka({
  clientId: `idsync-bench-${runId}`,
  brokers: need(stackEnv, 'KAFKA_BROKERS').split(','),
  ssl: { ca: [readFileSync(need(stackEnv, 'KAFKA_CA_FILE'), 'utf8')] },
  sasl: { mechanism: 'scram-sha-512', username: need(stackEnv, 'IDSYNC_KAFKA_ADMIN_USERNAME'), password: need(stackEnv, 'IDSYNC_KAFKA_ADMIN_PASSWORD') },
  logLevel: logLevel.NOTHING,
});

async function connectAd(): Promise<Client> {
  const client = new Client({
    url: need(stackEnv, 'AD_URL'),
    tlsOptions: { ca: [readFileSync(need(stackEnv, 'AD_CA_FILE'))], servername: stackEnv['AD_TLS_SERVER_NAME'] || undefined },
    timeout: 120_000,
  });
  await client.bind(need(stackEnv, 'AD_BIND_DN'), need(stackEnv, 'AD_BIND_PASSWORD'));
  return client;
}

// ------------------------------------------------------------------ loading the directories
/** The 389-ds backend as it was before the bench, exported once (the import replaces the backend). */
const dsExport = join(DS_LDIF_DIR, `resync-scale-${runId}-before.ldif`);
/** Samba's private directory (sam.ldb and its partitions) as it was, copied with the DC stopped. */
const sambaCopy = join(workDir, 'samba-private');

function saveStack(): void {
  stack('stop', 'ds');
  run('dsctl', [DS_INSTANCE, 'db2ldif', 'userRoot', dsExport]);
  stack('stop', 'samba');
  // cp -a: the directory may hold sockets (ldapi) and hard links, which fs.cpSync refuses or splits.
  run('cp', ['-a', SAMBA_PRIVATE, sambaCopy]);
}

/** The export with the OU and N users appended (1 in DAMAGE_EVERY with another description), imported offline. */
function loadDirectoryServer(n: number): void {
  const file = join(DS_LDIF_DIR, `resync-scale-${runId}-${n}.ldif`);
  cpSync(dsExport, file);
  const out = new FileWriter(file, 'a');
  out.write(`\ndn: ${DS_OU}\nobjectClass: top\nobjectClass: organizationalUnit\nou: ${OU}\nentryUUID: ${entryUuid(0)}\n\n`);
  for (let i = 0; i < n; i++) {
    const p = person(i);
    const description = i % DAMAGE_EVERY === 0 ? `damaged ${i}` : p.description;
    if (i % USERS_PER_OU === 0) {
      const k = subOuOf(i);
      out.write(`dn: ou=${subOuName(k)},${DS_OU}\nobjectClass: top\nobjectClass: organizationalUnit\nou: ${subOuName(k)}\nentryUUID: ${subOuUuid(k)}\n\n`);
    }
    out.write(
      `dn: ${dsUserDn(i, p.cn)}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\n` +
        `uid: ${p.login}\ncn: ${p.cn}\ngivenName: ${p.givenName}\nsn: ${p.sn}\nmail: ${p.mail}\ndescription: ${description}\n` +
        `telephoneNumber: ${p.telephoneNumber}\nentryUUID: ${entryUuid(i + 1)}\n\n`,
    );
  }
  out.close();
  run('chown', ['dirsrv:dirsrv', file]);
  stack('stop', 'ds');
  try {
    run('dsctl', [DS_INSTANCE, 'ldif2db', 'userRoot', file]);
  } finally {
    rmSync(file, { force: true });
  }
  stack('start', 'ds');
}

/**
 * The OU and N users added to sam.ldb with the DC stopped (Samba's modules run as for any add), one ldbadd per
 * sub-OU (a line of progress each 10); false when ldbadd failed.
 */
function loadSambaOffline(n: number): boolean {
  stack('stop', 'samba');
  const started = Date.now();
  for (let k = -1; k < subOuCount(n); k++) {
    const file = join(workDir, `ad-${n}-${k}.ldif`);
    const out = new FileWriter(file);
    if (k < 0) out.write(`dn: ${AD_OU}\nobjectClass: top\nobjectClass: organizationalUnit\nou: ${OU}\n\n`);
    else {
      out.write(`dn: OU=${subOuName(k)},${AD_OU}\nobjectClass: top\nobjectClass: organizationalUnit\nou: ${subOuName(k)}\n\n`);
      for (let i = k * USERS_PER_OU; i < Math.min(n, (k + 1) * USERS_PER_OU); i++) {
        const p = person(i);
        out.write(
          `dn: ${adUserDn(i, p.cn)}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n` +
            `sAMAccountName: ${p.login}\ngivenName: ${p.givenName}\nsn: ${p.sn}\nmail: ${p.mail}\ndescription: ${p.description}\n` +
            `telephoneNumber: ${p.telephoneNumber}\n\n`,
        );
      }
    }
    out.close();
    const result = spawnSync('ldbadd', ['--nosync', '-H', join(SAMBA_PRIVATE, 'sam.ldb'), file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    rmSync(file, { force: true });
    if (result.status !== 0 || result.error !== undefined) {
      process.stderr.write(`  ldbadd failed (${result.error?.message ?? `exit ${result.status}`}: ${(result.stderr ?? '').slice(0, 500)}); adding over LDAP instead\n`);
      // What it may have added is dropped with the copy: back to the state before the bench.
      restoreSambaFiles();
      return false;
    }
    if (k % 10 === 9) process.stderr.write(`    ${fmt(Math.min(n, (k + 1) * USERS_PER_OU))} users, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
  return true;
}

function restoreSambaFiles(): void {
  stack('stop', 'samba');
  rmSync(SAMBA_PRIVATE, { recursive: true, force: true });
  run('cp', ['-a', sambaCopy, SAMBA_PRIVATE]);
}

/** The same adds over LDAP, LDAP_CONNECTIONS at a time (the DC running). */
async function loadSambaOverLdap(n: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: LDAP_CONNECTIONS }, connectAd));
  try {
    await (clients[0] as Client).add(AD_OU, { objectClass: ['top', 'organizationalUnit'], ou: OU });
    for (let k = 0; k < subOuCount(n); k++) await (clients[0] as Client).add(`OU=${subOuName(k)},${AD_OU}`, { objectClass: ['top', 'organizationalUnit'], ou: subOuName(k) });
    let next = 0;
    await Promise.all(
      clients.map(async (client) => {
        for (let i = next++; i < n; i = next++) {
          const p = person(i);
          await client.add(adUserDn(i, p.cn), {
            objectClass: ['top', 'person', 'organizationalPerson', 'user'],
            sAMAccountName: p.login,
            givenName: p.givenName,
            sn: p.sn,
            mail: p.mail,
            description: p.description,
            telephoneNumber: p.telephoneNumber,
          });
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
  }
}

/** The domain's objectSid as hex: which domain a cached private directory belongs to. */
async function readDomainSid(): Promise<string> {
  const client = await connectAd();
  try {
    const { searchEntries } = await client.search(adBase, { scope: 'base', filter: '(objectClass=*)', attributes: ['objectSid'], explicitBufferAttributes: ['objectSid'] });
    const sid = searchEntries[0]?.['objectSid'];
    if (!Buffer.isBuffer(sid)) throw new Error(`${adBase} has no objectSid`);
    return sid.toString('hex');
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** objectGUIDs of the OUs and users, by the entryUUID of their counterpart in 389-ds; read back over LDAP. */
async function adGuids(): Promise<Map<string, string>> {
  const client = await connectAd();
  const guids = new Map<string, string>();
  try {
    const pages = client.searchPaginated(AD_OU, {
      scope: 'sub',
      filter: '(|(objectClass=user)(objectClass=organizationalUnit))',
      attributes: ['sAMAccountName', 'ou', 'objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize: 1_000 },
    });
    for await (const page of pages) {
      for (const entry of page.searchEntries) {
        const guid = entry['objectGUID'];
        if (!Buffer.isBuffer(guid)) continue;
        const user = /^rsu(\d+)$/.exec(String(entry['sAMAccountName'] ?? ''))?.[1];
        const subOu = /^G(\d+)$/.exec(String(entry['ou'] ?? ''))?.[1];
        const counterpart = user !== undefined ? entryUuid(Number(user) + 1) : subOu !== undefined ? subOuUuid(Number(subOu)) : entryUuid(0);
        guids.set(counterpart, canonicalGuid(guid));
      }
    }
  } finally {
    await client.unbind().catch(() => undefined);
  }
  return guids;
}

/** One link per loaded entry on the run's links topic, as the ds-writer would have recorded them. */
async function produceLinks(guids: ReadonlyMap<string, string>): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    let messages: { key: string; value: Buffer }[] = [];
    for (const [uuid, guid] of guids) {
      const link: EntryLink = {
        pipe: 'ad-to-ds',
        source: { directory: 'ad', kind: 'objectGUID', value: guid },
        destination: { directory: 'ds', kind: 'entryUUID', value: uuid },
        origin: 'created',
        linkedAt: Date.now(),
        linkedBy: 'ds-writer',
      };
      messages.push({ key: linkKey(link), value: encodeLink(link) });
      if (messages.length >= 5_000) {
        await producer.send({ topic: config.topics.links, acks: -1, messages });
        messages = [];
      }
    }
    if (messages.length > 0) await producer.send({ topic: config.topics.links, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

// ------------------------------------------------------------------ the runs
interface Summary {
  sourceEntries: number;
  compared: number;
  equal: number;
  update: number;
  create: number;
  errors: number;
  unmappable: number;
  foundByLink: number;
  published: number;
  destinationEntries: number;
  elapsedMs: number;
  comparedPerSecond: number;
  peakRssMb: number;
  sourceRead: string;
  phasesMs: Record<string, number>;
  differences?: unknown[];
}

interface Run {
  readonly n: number;
  readonly mode: string;
  readonly code: number | null;
  readonly summary: Summary;
  readonly wallMs: number;
  /** VmHWM of the command's process, the last sample before it exited. */
  readonly hwmMb: number;
}

function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Math.round(Number(kb) / 1024);
  } catch {
    return null; // exited
  }
}

async function resync(n: number, mode: string, args: readonly string[], tree = root): Promise<Run> {
  const started = Date.now();
  // bin/idsync execs node: the pid sampled is the command's own.
  const child: ChildProcess = spawn(
    join(tree, 'services', 'cli', 'bin', 'idsync'),
    ['resync', '--pipe', 'ad-to-ds', '--base-dn', AD_OU, '--json', '--restart', '--state-dir', join(workDir, 'state'), ...args],
    { env: { ...process.env, ...stackEnv, IDSYNC_CONFIG: config.file }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let hwmMb = 0;
  const sampler = setInterval(() => {
    if (child.pid !== undefined) hwmMb = Math.max(hwmMb, statusMb(child.pid, 'VmHWM') ?? 0);
  }, 100);
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-8_000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  // Exit 1 is an entry that could not be mapped or compared: the summary still says how the run went.
  if (code !== 0 && code !== 1) throw new Error(`idsync resync ${args.join(' ')} exited ${code}\n${err}`);
  const text = Buffer.concat(out).toString('utf8');
  let summary: Summary;
  try {
    summary = JSON.parse(text) as Summary;
  } catch {
    // Exit 1 without a summary is a failure of the command, not a difference: say what it said.
    throw new Error(`idsync resync ${args.join(' ')} exited ${code} without a JSON summary (stdout: ${JSON.stringify(text.slice(0, 500))})\n${err}`);
  }
  return { n, mode, code, summary, wallMs: Date.now() - started, hwmMb };
}

const admin = kafka.admin();
await admin.connect();
const runs: Run[] = [];
let saved = false;
try {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: config.topics.changes, numPartitions: 6 },
      { topic: config.topics.links, numPartitions: 6, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    ],
  });
  const domainSid = await readDomainSid();
  await timed('stack saved (389-ds export, copy of Samba’s private directory)', saveStack);
  saved = true;
  for (const n of ENTRY_COUNTS) {
    process.stderr.write(`N = ${fmt(n)}\n`);
    await timed(`389-ds: ${fmt(n)} users imported offline (ldif2db)`, () => loadDirectoryServer(n));
    restoreSambaFiles();
    const cached = join(CACHE_DIR, `samba-${domainSid}-${n}-${LOADER_VERSION}`);
    const fromCache = !NO_CACHE && existsSync(join(cached, 'sam.ldb'));
    const offline = fromCache
      ? await timed(`Samba: ${fmt(n)} users from ${cached}`, () => {
          rmSync(SAMBA_PRIVATE, { recursive: true, force: true });
          run('cp', ['-a', cached, SAMBA_PRIVATE]);
          return true;
        })
      : await timed(`Samba: ${fmt(n)} users added with ldbadd, DC stopped`, () => loadSambaOffline(n));
    if (offline && !fromCache) {
      await timed(`Samba's loaded private directory kept in ${cached}`, () => {
        rmSync(cached, { recursive: true, force: true });
        run('mkdir', ['-p', CACHE_DIR]);
        run('cp', ['-a', SAMBA_PRIVATE, cached]);
      });
    }
    stack('start', 'samba');
    if (!offline) await timed(`Samba: ${fmt(n)} users added over LDAP`, () => loadSambaOverLdap(n));
    const guids = await timed('objectGUIDs read back', adGuids);
    if (guids.size !== n + 1 + subOuCount(n)) throw new Error(`AD holds ${guids.size} bench entries under ${AD_OU}, expected ${n + 1 + subOuCount(n)} (${n} users and their OUs)`);
    // Links of an earlier N stay on the topic; they name entries gone since (their GUIDs are new): harmless.
    await timed(`${fmt(guids.size)} links produced`, () => produceLinks(guids));
    const modes: [string, readonly string[], string][] = [
      ['dry run', ['--dry-run'], root],
      ['real run', [], root],
      ['dry run, all paged', ['--dry-run', '--unpaged-limit', '0'], root],
      ...(BASELINE === undefined
        ? []
        : ([
            ['baseline: dry run', ['--dry-run'], BASELINE],
            ['baseline: dry run, source paged', ['--dry-run', '--unpaged-limit', '0'], BASELINE],
          ] as [string, readonly string[], string][])),
    ];
    for (const [mode, args, tree] of modes) {
      let result: Run;
      try {
        result = await resync(n, mode, args, tree);
      } catch (error) {
        // A run that fails is a figure too (the baseline may not cope with N): said, and the others still run.
        process.stderr.write(`  ${mode}: FAILED: ${(error instanceof Error ? error.message : String(error)).slice(0, 1_500)}\n`);
        continue;
      }
      runs.push(result);
      const s = result.summary;
      process.stderr.write(
        `  ${mode}: ${fmt(s.compared)} compared (${fmt(s.equal)} equal, ${fmt(s.update)} to update, ${fmt(s.foundByLink)} by link), ${fmt(s.comparedPerSecond)}/s, VmHWM ${result.hwmMb} MB\n`,
      );
      if (s.update < Math.floor(n / DAMAGE_EVERY) || s.foundByLink < n) process.stderr.write(`  warning: expected ${fmt(n / DAMAGE_EVERY)} updates and ${fmt(n)} entries found by link\n`);
    }
  }
} finally {
  await admin.deleteTopics({ topics: [config.topics.changes, config.topics.links] }).catch(() => undefined);
  await admin.disconnect();
  if (RESET) {
    process.stderr.write('restoring the stack: reset, then up (every server provisioned afresh)\n');
    stack('reset');
    stack('up');
  } else if (saved) {
    try {
      await timed('stack restored (389-ds export re-imported, Samba’s files put back)', () => {
        stack('stop', 'ds');
        run('dsctl', [DS_INSTANCE, 'ldif2db', 'userRoot', dsExport]);
        stack('start', 'ds');
        restoreSambaFiles();
        stack('start', 'samba');
      });
      rmSync(dsExport, { force: true });
      rmSync(workDir, { recursive: true, force: true });
    } catch (error) {
      process.stderr.write(
        `restoring the stack failed: ${error instanceof Error ? error.message : String(error)}\nthe export is ${dsExport}, Samba's copy ${sambaCopy}; or run: npm run stack -- reset && npm run stack -- up\n`,
      );
      process.exitCode = 1;
    }
  } else {
    // Saving failed half-way: the directories are as they were, perhaps stopped.
    for (const server of ['ds', 'samba']) {
      try {
        stack('start', server);
      } catch (error) {
        process.stderr.write(`starting ${server} again failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    }
  }
}

console.log(`resync at scale: pipe ad-to-ds, ${OU} of AD -> 389-ds, 1 user in ${DAMAGE_EVERY} damaged at the destination, every entry linked`);
console.log('| N | run | read | entries read | compared | elapsed | compared/s | phases (ms: destination, source/count, links, compare) | peakRssMb (summary) | VmHWM (process) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of runs) {
  const s = r.summary;
  const p = s.phasesMs;
  console.log(
    `| ${fmt(r.n)} | ${r.mode} | ${s.sourceRead} | ${fmt(s.sourceEntries)} | ${fmt(s.compared)} | ${(s.elapsedMs / 1000).toFixed(1)} s | ${fmt(s.comparedPerSecond)} | ${p['destinationRead']}, ${p['sourceReadOrCount']}, ${p['linksRead']}, ${p['compareAndPublish']} | ${s.peakRssMb} MB | ${r.hwmMb} MB |`,
  );
}
