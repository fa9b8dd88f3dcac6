// needs-stack
// The whole pipeline (detector -> Kafka -> mapper -> Kafka -> writer) on the demo pipes, with the five real services
// as child processes on an isolated configuration (own topics, consumer groups, checkpoints, ports), against a bare
// ldapts loop writing the same changes straight into the destination, in the same run:
// 1. throughput: N modifies made in the source while the services are stopped, then the services started; rate at
//    which they arrive in the destination (first to last arrival) vs N modifies by one ldapts connection, and vs N base
//    reads and modifies on as many connections as the writer has (the same work done the writer's way); and the rate
//    over the drain's last two thirds ("warmed"), once the freshly started services have compiled their hot paths;
// 2. latency: modifies made in the source at a steady RATE changes/s for SECONDS; the arrival of each value in the
//    destination is seen by polling it (every 100 ms), so latencies carry up to ~100 ms of polling resolution.
// --without-receipts: the ad-writer publishes no write receipts and the ad-detector recognizes none of its changes
// (their echoes then go through the mapper to the ds-writer, which finds nothing to change): the receipts' cost.
// --kafka-without-tls: the services reach the broker on the stack's SCRAM listener without TLS (benchmarks only):
// what TLS to Kafka costs, and a like-for-like comparison with trees whose stack had no TLS (f157737).
// --core-only: also the state and audit topics, after-images, the sync log and signatures off (issues 13-16's
// per-change work that configuration can switch off): the pipeline as far as it compares with trees before them.
// --memory[=IDLE]: the services' memory instead of the baselines and the latency: during each drain every service's
// resident set is sampled every second (its peak is the largest sample, and VmHWM, the kernel's high-water mark since
// the service started); IDLE seconds (default 30) after the drain, the steady state: RSS and process.memoryUsage() by
// part (heapUsed, heapTotal, external, arrayBuffers; from /metrics, idsync_process_memory_bytes). The services run
// the whole drain in one process: after the modifies drain each has handled N modifies (the detector and the writer
// of the other direction the echoes). `npm run bench -- pipeline both 10000 --memory` is the issue's measurement.
// Usage: npm run bench -- pipeline [direction: ad-to-ds | ds-to-ad | both] [N] [RATE] [SECONDS] [--without-receipts]
//        [--kafka-without-tls] [--core-only] [--memory[=IDLE]]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Client, EqualityFilter } from './lib/ldapts.ts';
import platform from '@idsync/platform';
import { demoConfig, IsolatedServices, SERVICES, sleep, stackEnv } from './lib/isolated-services.ts';
import { deleteTree, describe, readAndModifyAll, waitFor } from './lib/directory-steps.ts';

const { openLdapSession, writerCredentials } = platform;

const WITHOUT_RECEIPTS = process.argv.includes('--without-receipts');
const CORE_ONLY = process.argv.includes('--core-only');
const KAFKA_WITHOUT_TLS = CORE_ONLY || process.argv.includes('--kafka-without-tls');
const MEMORY_FLAG = process.argv.find((arg) => arg === '--memory' || arg.startsWith('--memory='));
const MEMORY_IDLE_SECONDS = MEMORY_FLAG === undefined ? undefined : Number(MEMORY_FLAG.split('=')[1] ?? 30);
const args = process.argv.filter((arg) => !['--without-receipts', '--kafka-without-tls', '--core-only'].includes(arg) && arg !== MEMORY_FLAG);
const DIRECTION = args[2] ?? 'both';
const N = Number(args[3] ?? 1000);
const RATE = Number(args[4] ?? 100);
const SECONDS = Number(args[5] ?? 30);
type ServiceName = (typeof SERVICES)[number];
type WriterName = Extract<ServiceName, 'ad-writer' | 'ds-writer'>;

const config = demoConfig();
const s = Date.now().toString(36);

// ------------------------------------------------------------------ services
const services = await IsolatedServices.create(s, undefined, (doc) => {
  if (KAFKA_WITHOUT_TLS) {
    if (stackEnv()['KAFKA_PLAINTEXT_BROKERS'] === undefined) throw new Error(`${CORE_ONLY ? '--core-only' : '--kafka-without-tls'}: the stack has no listener without TLS; run npm run stack -- up`);
    doc['kafka'].brokers = ['${KAFKA_PLAINTEXT_BROKERS}'];
    delete doc['kafka'].ssl;
  }
  if (CORE_ONLY) {
    // What later issues added per change, off (TLS to Kafka above): the state and audit topics, after-images, the
    // sync log and signatures (links, the request guard, receipts and exactly-once stay: they cannot be switched off).
    for (const topic of ['audit', 'adState', 'dsState']) delete doc['kafka'].topics[topic];
    for (const name of ['ad-detector', 'ds-detector', 'ad-writer', 'ds-writer']) {
      const block = doc['services'][name];
      if (block === undefined) throw new Error(`--core-only: the configuration has no ${name}`);
      if (name.endsWith('-detector')) block['afterImage'] = { enabled: false };
      else block['syncLog'] = false;
    }
    const secrets = doc['secrets'] as Record<string, unknown> | undefined;
    if (secrets !== undefined) secrets['signOperations'] = false;
  }
  if (!WITHOUT_RECEIPTS) return;
  doc['services']['ad-writer'].writeReceipts = false;
  doc['services']['ad-detector'].ownWrites = { enabled: false };
});
console.log(WITHOUT_RECEIPTS ? 'write receipts: off (ad-writer publishes none, ad-detector recognizes none)' : 'write receipts: on');
console.log(KAFKA_WITHOUT_TLS ? "services to Kafka: SCRAM without TLS (the stack's benchmark listener)" : 'services to Kafka: SCRAM over TLS');
if (CORE_ONLY) console.log('core only: no state or audit topics, after-images, sync log or signatures');
const dir = services.dir;
const startAll = () => services.start(SERVICES);
const stopAll = () => services.stop();
const rssMb = (): Record<string, number> => Object.fromEntries(SERVICES.map((name) => [name, services.rssMb(name)]));

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
const pidsOf = (pattern: string[]): number[] => {
  try {
    return execFileSync('pgrep', pattern, { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
/** Every process a drain keeps busy: the five services, 389-ds, Samba (all its processes) and the Kafka broker. */
function cpuNow(): Record<string, number> {
  const sum = (pids: number[]): number => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  return {
    ...Object.fromEntries(SERVICES.map((name) => [name, cpuSeconds(services.pid(name))])),
    'ns-slapd': sum(pidsOf(['-x', 'ns-slapd'])),
    samba: sum(pidsOf(['-f', '^samba|/samba '])),
    kafka: sum(pidsOf(['-f', 'kafka\\.Kafka'])),
  };
}
function printCpu(before: Record<string, number>, after: Record<string, number>, changes: number): void {
  const used = Object.entries(after).map(([name, seconds]) => [name, seconds - (before[name] ?? 0)] as const);
  console.log(`  CPU during the drain (s; ms per change): ${used.map(([name, seconds]) => `${name} ${seconds.toFixed(1)} (${((seconds * 1000) / changes).toFixed(2)})`).join(', ')}`);
}

// ------------------------------------------------------------------ directories
interface Side {
  readonly name: 'ad' | 'ds';
  readonly admin: Client;
  readonly ou: (ou: string) => string;
  readonly user: (cn: string, ou: string) => string;
  readonly userEntry: (i: number) => Record<string, string | string[]>;
}

const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const cnOf = (i: number) => `bp${i} U${s}`;
const loginOf = (i: number) => `bp${i}x${s}`;

async function openSide(name: 'ad' | 'ds'): Promise<Side> {
  const directory = config.directories[name];
  if (!directory) throw new Error(`no directory ${name}`);
  const { client } = await openLdapSession(name, directory);
  return name === 'ad'
    ? {
        name,
        admin: client,
        ou: (ou) => `OU=${ou},OU=Corp,${adBase}`,
        user: (cn, ou) => `CN=${cn},OU=${ou},OU=Corp,${adBase}`,
        userEntry: (i) => ({ objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: cnOf(i), sAMAccountName: loginOf(i), givenName: `bp${i}`, sn: `U${s}` }),
      }
    : {
        name,
        admin: client,
        ou: (ou) => `ou=${ou},ou=Corp,${dsBase}`,
        user: (cn, ou) => `cn=${cn},ou=${ou},ou=Corp,${dsBase}`,
        userEntry: (i) => ({ objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: cnOf(i), uid: loginOf(i), givenName: `bp${i}`, sn: `U${s}` }),
      };
}

/** description values under an OU, read in one subtree search. */
async function descriptions(side: Side, ou: string, prefix: string): Promise<string[]> {
  try {
    const { searchEntries } = await side.admin.search(side.ou(ou), { scope: 'sub', filter: `(description=${prefix}*)`, attributes: ['description'], sizeLimit: 0 });
    return searchEntries.flatMap((e) => (Array.isArray(e['description']) ? e['description'] : [e['description']]).map(String));
  } catch (error) {
    if ((error as { code?: number }).code === 32) return [];
    throw error;
  }
}

/** The sum of a counter's series on a service's /metrics (those whose labels contain `labels`); 0 when unreachable. */
async function counterSum(service: ServiceName, name: string, labels = ''): Promise<number> {
  try {
    // That counter alone: the whole /metrics rendered and parsed ten times a second would take CPU from the drain.
    // A histogram's series (_count, _sum) are asked for by the histogram's name.
    const metric = name.replace(/_(count|sum)$/, '');
    const text = await (await fetch(`http://127.0.0.1:${services.ports[service]}/metrics?name=${metric}`, { signal: AbortSignal.timeout(5_000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels)) sum += Number(line.split(' ').at(-1));
    return sum;
  } catch {
    return 0;
  }
}

const writerApplied = (service: ServiceName): Promise<number> => counterSum(service, 'idsync_writer_requests_total', 'result="applied"');

/**
 * Where a drain spends its time: when each stage had handled the backlog, read from the services' own counters every
 * 100 ms (the detector's published events, the mapper's produced requests, the writer's applied requests).
 */
class StageTimeline {
  private readonly done = new Map<string, number>();
  private readonly lastCount = new Map<string, number>();
  private readonly from: 'ad' | 'ds';
  private readonly started: number;
  constructor(from: 'ad' | 'ds', started: number) {
    this.from = from;
    this.started = started;
  }

  async sample(now: number, applied: number): Promise<void> {
    const detector: [ServiceName, string] = this.from === 'ad' ? ['ad-detector', 'idsync_detector_events_published_total'] : ['ds-detector', 'idsync_detector_events_published_total'];
    // A stage that has handled the backlog is not asked again: ten requests a second are CPU taken from the drain on
    // these two cores.
    const countOf = async (stage: string, read: () => Promise<number>): Promise<number> => (this.done.has(stage) ? (this.lastCount.get(stage) ?? N) : read());
    const counts: [string, number][] = [
      ['detector published', await countOf('detector published', () => counterSum(...detector))],
      ['mapper produced', await countOf('mapper produced', () => counterSum('mapper', 'idsync_mapper_requests_total'))],
      ['writer applied', applied],
    ];
    for (const [stage, count] of counts) {
      if (count > 0 && !this.done.has(`${stage} first`)) this.done.set(`${stage} first`, now);
      if (count >= N && !this.done.has(stage)) this.done.set(stage, now);
      this.lastCount.set(stage, count);
    }
  }

  print(): void {
    const at = (key: string): string => {
      const t = this.done.get(key);
      return t === undefined ? 'never' : `${((t - this.started) / 1000).toFixed(2)} s`;
    };
    const stages = ['detector published', 'mapper produced', 'writer applied'];
    console.log(`  stages (from ready; first / all ${N}): ${stages.map((stage) => `${stage} ${at(`${stage} first`)} / ${at(stage)} (${this.lastCount.get(stage) ?? 0})`).join('; ')}`);
  }
}

/** A service's memory now: /proc (RSS, VmHWM) and its idsync_process_memory_bytes parts, in MB. */
async function memoryOf(service: ServiceName): Promise<Record<string, number>> {
  const mb = (bytes: number): number => Math.round(bytes / 1024 / 102.4) / 10;
  const status = readFileSync(`/proc/${services.pid(service)}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const parts: Record<string, number> = { rss: Math.round(kb('VmRSS') / 102.4) / 10, hwm: Math.round(kb('VmHWM') / 102.4) / 10 };
  for (const part of ['heapUsed', 'heapTotal', 'external', 'arrayBuffers']) parts[part] = mb(await counterSum(service, 'idsync_process_memory_bytes', `part="${part}"`));
  return parts;
}

/** Samples every service's resident set each second while a drain runs; the largest sample is its peak. */
class MemorySampler {
  readonly peak: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;
  start(): void {
    const sample = (): void => {
      for (const name of SERVICES) {
        try {
          this.peak[name] = Math.max(this.peak[name] ?? 0, services.rssMb(name));
        } catch {
          // not running
        }
      }
    };
    sample();
    this.timer = setInterval(sample, 1_000);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** After a drain: IDLE seconds of quiet, then each service's steady state beside its peak during the drain. */
async function printMemory(what: string, sampler: MemorySampler): Promise<void> {
  sampler.stop();
  const idle = MEMORY_IDLE_SECONDS ?? 30;
  await sleep(idle * 1000);
  console.log(`  memory after the ${N} ${what} and ${idle} s idle (MB; peak = largest 1 s sample during the drain, VmHWM = the kernel's high-water mark):`);
  console.log(`    ${'service'.padEnd(12)} ${['peak', 'VmHWM', 'RSS', 'heapUsed', 'heapTotal', 'external', 'arrayBufs', 'releases'].map((h) => h.padStart(9)).join(' ')}`);
  for (const name of SERVICES) {
    const m = await memoryOf(name);
    const cells = [sampler.peak[name] ?? 0, m['hwm'], m['rss'], m['heapUsed'], m['heapTotal'], m['external'], m['arrayBuffers'], await counterSum(name, 'idsync_process_memory_releases_total')];
    console.log(`    ${name.padEnd(12)} ${cells.map((v) => (v ?? 0).toFixed(0).padStart(9)).join(' ')}`);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/**
 * Starts the services on a backlog of N changes and returns the rate at which the writer applies them (first to
 * last arrival), counted by the writer itself (/metrics): polling the destination would compete with the writer for
 * the server (Samba here runs one LDAP worker), which the bare loop does not have to.
 */
async function drain(service: ServiceName, what: string, from: 'ad' | 'ds'): Promise<number> {
  const started = performance.now();
  await startAll();
  const ready = performance.now();
  const sampler = new MemorySampler();
  sampler.start();
  const cpuAtReady = cpuNow();
  const timeline = new StageTimeline(from, ready);
  let first = 0;
  let third: { at: number; seen: number } | undefined;
  for (;;) {
    services.assertRunning();
    const seen = await writerApplied(service);
    const now = performance.now();
    await timeline.sample(now, seen);
    if (seen > 0 && first === 0) first = now;
    if (seen >= N / 3 && third === undefined) third = { at: now, seen };
    if (seen >= N) {
      const seconds = (now - first) / 1000;
      console.log(
        `pipeline: ${N} ${what} drained in ${seconds.toFixed(2)} s from the first arrival = ${(N / seconds).toFixed(0)} changes/s` +
          ` (services ready ${((ready - started) / 1000).toFixed(1)} s after spawn; first arrival ${((first - ready) / 1000).toFixed(2)} s after ready)`,
      );
      // Services (and a broker) fresh from a start spend their first seconds compiling: the last two thirds of the
      // drain show the rate of processes that have warmed up, as they are after running a while.
      if (third !== undefined && now > third.at)
        console.log(`  warmed: the last ${N - third.seen} ${what} (from arrival ${third.seen}) at ${((N - third.seen) / ((now - third.at) / 1000)).toFixed(0)} changes/s`);
      timeline.print();
      printCpu(cpuAtReady, cpuNow(), N);
      await printLdapOperations(service);
      if (MEMORY_IDLE_SECONDS !== undefined) await printMemory(what, sampler);
      sampler.stop();
      return N / seconds;
    }
    if ((now - ready) / 1000 > 300 + N / 20) {
      sampler.stop();
      throw new Error(`only ${seen}/${N} ${what} arrived in ${(300 + N / 20).toFixed(0)} s`);
    }
    await sleep(100);
  }
}

/** The writer's LDAP operations in the drain (its histogram, since the services started): per change, and mean time. */
async function printLdapOperations(service: ServiceName): Promise<void> {
  const parts: string[] = [];
  for (const operation of ['search', 'add', 'modify', 'del', 'modifyDN']) {
    const count = await counterSum(service, 'idsync_ldap_operation_duration_seconds_count', `operation="${operation}"`);
    if (count === 0) continue;
    const seconds = await counterSum(service, 'idsync_ldap_operation_duration_seconds_sum', `operation="${operation}"`);
    parts.push(`${operation} ${(count / N).toFixed(2)} (${((seconds * 1000) / count).toFixed(1)} ms)`);
  }
  if (parts.length > 0) console.log(`  ${service} LDAP operations per change (mean time): ${parts.join(', ')}`);
}

/** Where the bare baseline creates its entries: beside the demo's OU, outside what the detectors read. */
function bareBase(side: Side): string {
  return side.name === 'ad' ? `OU=bare${s},${adBase}` : `ou=bare${s},${dsBase}`;
}

/**
 * The creates' bare baseline: the same N users, in the destination's schema, created by ldapts as the writer's
 * account on as many connections as the writer has, each doing what a create costs the writer at the least: one
 * search on the correlation attribute, then the add. Elsewhere in the tree (outside the detectors' scope), services
 * stopped.
 */
async function bareCreates(destination: Side, service: WriterName, pipelineRate: number): Promise<void> {
  const name = destination.name;
  const connections = config.services[service].connections;
  const base = bareBase(destination);
  await destination.admin.add(base, { objectClass: ['top', 'organizationalUnit'], ou: `bare${s}` });
  const login = name === 'ad' ? 'sAMAccountName' : 'uid';
  const sessions = await Promise.all(Array.from({ length: connections }, () => openLdapSession(name, config.directories[name]!, writerCredentials(config, service))));
  let next = 0;
  const t = performance.now();
  await Promise.all(
    sessions.map(async ({ client }) => {
      for (let i = next++; i < N; i = next++) {
        // Its own login: AD's sAMAccountName is unique in the domain, and the writer's users still exist.
        const entry = { ...destination.userEntry(i), [login]: `z${loginOf(i)}`.slice(0, 20) };
        await client.search(base, { scope: 'sub', filter: new EqualityFilter({ attribute: login, value: entry[login] as string }), attributes: ['1.1'], sizeLimit: 2 });
        await client.add(`${name === 'ad' ? 'CN' : 'cn'}=${cnOf(i)},${base}`, entry);
      }
    }),
  );
  const rate = N / ((performance.now() - t) / 1000);
  await Promise.all(sessions.map(({ client }) => client.unbind().catch(() => undefined)));
  console.log(
    `bare ldapts loop (${connections} connections, a correlation search and the add per user): ${rate.toFixed(0)} creates/s; pipeline = ${((100 * pipelineRate) / rate).toFixed(0)}% of bare`,
  );
}

/**
 * The modifies' bare baseline done the writer's way: as many connections as the writer has, and per user what a
 * modify costs the writer at the least, a base read of the entry (the attributes the writer reads) and the modify.
 * A destination that applies one write at a time (389-ds) makes this its ceiling, which varies from one instance to
 * the next: a run's pipeline rate is best read against the baseline of the same run.
 */
async function bareModifies(destination: Side, service: WriterName, ou: string, pipelineRate: number): Promise<void> {
  const name = destination.name;
  const connections = config.services[service].connections;
  const attributes = name === 'ad' ? ['objectClass', 'objectGUID', 'description', 'sAMAccountName', 'mail'] : ['objectClass', 'entryUUID', 'description', 'uid', 'mail'];
  const sessions = await Promise.all(Array.from({ length: connections }, () => openLdapSession(name, config.directories[name]!, writerCredentials(config, service))));
  const t = performance.now();
  await readAndModifyAll(
    sessions.map(({ client }) => client),
    N,
    (i) => destination.user(cnOf(i), ou),
    attributes,
    (i) => `bare${connections}-${i}`,
  );
  const rate = N / ((performance.now() - t) / 1000);
  await Promise.all(sessions.map(({ client }) => client.unbind().catch(() => undefined)));
  console.log(`bare ldapts loop (${connections} connections, a base read and the modify per user): ${rate.toFixed(0)} modifies/s; pipeline = ${((100 * pipelineRate) / rate).toFixed(0)}% of bare`);
}

// ------------------------------------------------------------------ one direction
async function run(from: 'ad' | 'ds'): Promise<void> {
  const source = await openSide(from);
  const destination = await openSide(from === 'ad' ? 'ds' : 'ad');
  const ou = `bp${from}${s}`;
  const label = from === 'ad' ? 'AD -> 389-ds' : '389-ds -> AD';
  console.log(`\n=== ${label}: N=${N}, latency at ${RATE}/s for ${SECONDS} s ===`);
  try {
    const service = from === 'ad' ? 'ds-writer' : 'ad-writer';
    // 0. Creates on a backlog: the OU synced with the services running (they start from the source's current
    // position), then N users created in the source while they are stopped, then the services started.
    await startAll();
    await source.admin.add(source.ou(ou), { objectClass: ['top', 'organizationalUnit'], ou });
    await waitFor(
      `${ou} in the destination`,
      async () => (await destination.admin.search(destination.ou(ou), { scope: 'base', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }))).searchEntries.length === 1,
    );
    await stopAll();
    let t = performance.now();
    for (let i = 0; i < N; i++) await source.admin.add(source.user(cnOf(i), ou), source.userEntry(i));
    const addSeconds = (performance.now() - t) / 1000;
    console.log(`setup: ${N} adds in the source took ${addSeconds.toFixed(1)} s (${(N / addSeconds).toFixed(0)}/s), services stopped`);
    const createRate = await drain(service, 'creates', from);
    const users = (await destination.admin.search(destination.ou(ou), { scope: 'one', filter: '(objectClass=person)', attributes: ['1.1'], sizeLimit: 0 })).searchEntries.length;
    if (users !== N) throw new Error(`the writer counted ${N} applied but ${users} users are in the destination`);
    await stopAll();
    if (MEMORY_IDLE_SECONDS === undefined) await bareCreates(destination, service, createRate);

    // 1. Throughput on a backlog: modifies made while the services are stopped, then the services started.
    for (let i = 0; i < N; i++) await source.admin.modify(source.user(cnOf(i), ou), describe(`bk-${i}`));
    const pipelineRate = await drain(service, 'modifies', from);

    const arrived = (await descriptions(destination, ou, 'bk-')).length;
    if (arrived !== N) throw new Error(`the writer counted ${N} applied but ${arrived} modifies are in the destination`);
    if (MEMORY_IDLE_SECONDS !== undefined) return;

    // The same changes by a bare ldapts loop, one connection, the writer's account.
    const destinationName = from === 'ad' ? 'ds' : 'ad';
    const { client: bare } = await openLdapSession(destinationName, config.directories[destinationName]!, writerCredentials(config, service));
    t = performance.now();
    for (let i = 0; i < N; i++) await bare.modify(destination.user(cnOf(i), ou), describe(`bare-${i}`));
    const bareRate = N / ((performance.now() - t) / 1000);
    await bare.unbind();
    console.log(`bare ldapts loop (1 connection): ${bareRate.toFixed(0)} modifies/s; pipeline = ${((100 * pipelineRate) / bareRate).toFixed(0)}% of bare (goal >= 80%)`);
    await bareModifies(destination, service, ou, pipelineRate);

    // 2. Latency at a steady rate.
    await sleep(3_000);
    const total = RATE * SECONDS;
    // Changes go round a pool of 200 users (each changed every 200/RATE s), so one poll of the destination reads
    // at most 200 entries every 100 ms.
    const pool = Math.min(N, 200);
    const sentAt = new Array<number>(total);
    const doneAt = new Array<number>(total).fill(0);
    const seenAt = new Array<number>(total).fill(0);
    let seenCount = 0;
    let sending = true;
    const poller = (async () => {
      while (sending || seenCount < total) {
        for (const value of await descriptions(destination, ou, 'lt-')) {
          const seq = Number(value.slice(3));
          if (seenAt[seq] === 0) {
            seenAt[seq] = performance.now();
            seenCount++;
          }
        }
        if (!sending && performance.now() - t > (SECONDS + 60) * 1000) break;
        await sleep(100);
      }
    })();
    // Sent on schedule without waiting for the previous answer (ldapts multiplexes one connection), so a slow
    // answer from the source does not lower the rate; a latency counts from the moment its modify was sent.
    t = performance.now();
    const lagMs: number[] = [];
    const inFlight: Promise<unknown>[] = [];
    for (let seq = 0; seq < total; seq++) {
      const due = t + (seq * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      lagMs.push(performance.now() - due);
      sentAt[seq] = performance.now();
      inFlight.push(source.admin.modify(source.user(cnOf(seq % pool), ou), describe(`lt-${seq}`)).then(() => void (doneAt[seq] = performance.now())));
    }
    await Promise.all(inFlight);
    const sendSeconds = (performance.now() - t) / 1000;
    sending = false;
    await poller;
    // From the moment the source confirmed the change (it exists there from then on) to its first sighting in the
    // destination; the source's own queueing (its answer time) is reported apart.
    const latencies = doneAt
      .map((done, seq) => (seenAt[seq] && done ? Math.max(0, seenAt[seq] - done) : NaN))
      .filter((x) => !Number.isNaN(x))
      .sort((a, b) => a - b);
    const sourceMs = doneAt.map((done, seq) => done - (sentAt[seq] as number)).sort((a, b) => a - b);
    lagMs.sort((a, b) => a - b);
    console.log(
      `latency at ${RATE}/s: ${latencies.length}/${total} arrived; p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${(latencies.at(-1) ?? NaN).toFixed(0)} ms` +
        ` (goal p99 < 2000 ms; ${(total / sendSeconds).toFixed(0)} changes/s achieved in the source, send lag p99 ${percentile(lagMs, 99).toFixed(0)} ms, source answer p50 ${percentile(sourceMs, 50).toFixed(0)} / p99 ${percentile(sourceMs, 99).toFixed(0)} ms)`,
    );
    console.log(`service RSS (MB): ${JSON.stringify(rssMb())}`);
  } finally {
    await stopAll();
    await deleteTree(source.admin, source.ou(ou));
    await deleteTree(destination.admin, destination.ou(ou));
    await deleteTree(destination.admin, bareBase(destination));
    await source.admin.unbind().catch(() => undefined);
    await destination.admin.unbind().catch(() => undefined);
  }
}

console.log(`pipeline bench ${s} (service logs in ${dir})`);
if (DIRECTION === 'ad-to-ds' || DIRECTION === 'both') await run('ad');
if (DIRECTION === 'ds-to-ad' || DIRECTION === 'both') await run('ds');
await services.dispose();
process.exit(0);
