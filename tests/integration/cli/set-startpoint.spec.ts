import { readFileSync, writeFileSync } from 'node:fs';
import { type Consumer, type Kafka } from 'kafkajs';
import { AndFilter, GreaterThanEqualsFilter, LessThanEqualsFilter } from 'ldapts';
import { parse, stringify } from 'yaml';
import { parseConfig, type SyncConfig } from '@idsync/config';
import { decodeEntryChange, type EntryChangeEvent } from '@idsync/contracts';
import { ChangePublisher, ensureTopics, fetchStoredCheckpoint, type KafkaAdmin, type KafkaClient, type StoredCheckpoint } from '@idsync/platform';
import { READER_MAX_WAIT_MS, testKafka } from '../support/kafka';
import { isProducerFenced } from '@idsync/detector/ad';
import { classifyFailure } from '@idsync/detector/ds';
import { normalizeDn, Side } from '../e2e/directories';
import { eventually, Pipeline, sleep } from '../e2e/pipeline';
import { hostPort, requireServer, stackConfig, stackEnv, uniqueSuffix } from '../support/stack';
import { Scenario } from '../support/scenario';
import { type CliRun, describeRun, idsync } from './run-cli';

/**
 * `idsync set-startpoint` against the stack: the built CLI as a child process, the real detectors (started one at a
 * time by an isolated Pipeline: topics, checkpoints and transactional ids of this run only), changes made in 389-ds
 * and Samba AD as an administrator, and the detectors' events read back from their topics. Each run works in OUs of
 * its own below ou=Corp / OU=Corp (what the demo detectors publish) and removes them at the end.
 */

const stack = stackConfig();
const s = uniqueSuffix();
const dsBase = stack.directories['ds']?.baseDn ?? '';
const adBase = stack.directories['ad']?.baseDn ?? '';
const dsOu = `ou=sp${s},ou=Corp,${dsBase}`;
const adOu = `OU=sp${s},OU=Corp,${adBase}`;
const dsUser = (uid: string): string => `uid=${uid},${dsOu}`;
const adUser = (cn: string): string => `CN=${cn},${adOu}`;

let pipeline: Pipeline | undefined;
let config: SyncConfig;
/** The product's client (what ChangePublisher gets) and its kafkajs client (reading as a bystander, deleting topics). */
let client: KafkaClient;
let kafka: Kafka;
let admin: KafkaAdmin;
let ds: Side;
let ad: Side;
const consumers: { consumer: Consumer; groupId: string }[] = [];
const dsEvents: EntryChangeEvent[] = [];
const adEvents: EntryChangeEvent[] = [];
const scenario = new Scenario(120_000);
const step = scenario.step;

const run = (args: readonly string[]): Promise<CliRun> => idsync(['set-startpoint', ...args], { configFile: pipeline?.configFile ?? '' });

/** The run's exit status, with its whole output when it is not the expected one. */
function expectExit(result: CliRun, code: number): void {
  if (result.code !== code) throw new Error(`expected exit ${code}:\n${describeRun(result)}`);
}

/** Events of this run's entries, in the order the detector published them. */
const mine = (events: readonly EntryChangeEvent[], base: string): EntryChangeEvent[] => events.filter((e) => normalizeDn(e.dn).endsWith(normalizeDn(base)));
const changeNumber = (e: EntryChangeEvent): number => (e.source.position.kind === 'change-number' ? Number(e.source.position.changeNumber) : Number.NaN);
const dnsOf = (events: readonly EntryChangeEvent[]): string[] => events.map((e) => `${e.op} ${normalizeDn(e.dn)}`);

async function addDsUser(uid: string): Promise<string> {
  const dn = dsUser(uid);
  await ds.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid, cn: `Start ${uid}`, sn: 'Start' });
  return dn;
}

async function addAdUser(cn: string): Promise<string> {
  const dn = adUser(cn);
  await ad.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: cn, sn: 'Start' });
  return dn;
}

/**
 * The change number 389-ds gave a change to `dn`, looked for backwards from the last change, 10 numbers per search:
 * no search that reads the changelog's parentid or ancestorid key (README, the local stack's pitfalls).
 */
async function changeNumberOf(dn: string, changeType: 'add' | 'modify'): Promise<number> {
  const dse = await ds.client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['lastChangeNumber'] });
  const last = Number(dse.searchEntries[0]?.['lastchangenumber'] ?? dse.searchEntries[0]?.['lastChangeNumber']);
  const wanted = normalizeDn(dn);
  for (let to = last; to > 0 && to > last - 2_000; to -= 10) {
    const filter = new AndFilter({
      filters: [new GreaterThanEqualsFilter({ attribute: 'changeNumber', value: String(Math.max(1, to - 9)) }), new LessThanEqualsFilter({ attribute: 'changeNumber', value: String(to) })],
    });
    const { searchEntries } = await ds.client.search('cn=changelog', { scope: 'sub', filter, attributes: ['changeNumber', 'targetDn', 'changeType'] });
    const numbers = searchEntries
      .filter((e) => normalizeDn(String(e['targetdn'] ?? e['targetDn'])) === wanted && String(e['changetype'] ?? e['changeType']) === changeType)
      .map((e) => Number(e['changenumber'] ?? e['changeNumber']));
    if (numbers.length > 1) throw new Error(`expected one ${changeType} of ${dn} in cn=changelog, found ${JSON.stringify(numbers)}`);
    if (numbers.length === 1) return numbers[0] as number;
  }
  throw new Error(`no ${changeType} of ${dn} among the last 2,000 changes of cn=changelog`);
}

function checkpointGroup(detector: 'ad-detector' | 'ds-detector'): string {
  return `idsync.checkpoint.${detector}.${config.services[detector].source}`;
}

async function storedCheckpoint(detector: 'ad-detector' | 'ds-detector'): Promise<StoredCheckpoint | null> {
  return fetchStoredCheckpoint(admin, checkpointGroup(detector), config.kafka.topics.checkpoints.name);
}

async function follow(topic: string, into: EntryChangeEvent[]): Promise<void> {
  const groupId = `${config.kafka.clientId}-startpoint-test-${topic}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: READER_MAX_WAIT_MS });
  consumers.push({ consumer, groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void into.push(decodeEntryChange(message.value)) });
}

/** The ds-detector's poll interval in the run's configuration (read at its start). */
function setDsPollInterval(ms: number): void {
  const file = pipeline?.configFile ?? '';
  const doc = parse(readFileSync(file, 'utf8')) as { services: Record<string, Record<string, unknown>> };
  const block = doc.services['ds-detector'];
  if (!block) throw new Error('the run configuration has no ds-detector block');
  block['pollIntervalMs'] = ms;
  writeFileSync(file, stringify(doc));
}

interface ServiceHealth {
  readonly status: string;
  /** ds-detector: `detector` (state, lag...); ad-detector: `dirsync` (state...). */
  readonly info?: Readonly<Record<string, { readonly state?: string; readonly lag?: number | null }>>;
}

async function serviceHealth(name: 'ds-detector' | 'ad-detector'): Promise<ServiceHealth> {
  const response = await fetch(`http://127.0.0.1:${pipeline?.ports[name]}/health`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as ServiceHealth;
}

function log(name: 'ds-detector' | 'ad-detector'): string {
  return pipeline?.logs().find((l) => l.name === name)?.text ?? '';
}

beforeAll(async () => {
  for (const [what, url] of [
    ['Kafka', stack.kafka.brokers[0] ?? ''],
    ['Samba AD', stack.directories['ad']?.urls[0] ?? ''],
    ['389-ds', stack.directories['ds']?.urls[0] ?? ''],
  ] as const) {
    const { host, port } = hostPort(url);
    await requireServer(what, host, port);
  }
  pipeline = await Pipeline.start(s, 60_000, { only: [] });
  config = parseConfig(readFileSync(pipeline.configFile, 'utf8'), pipeline.configFile, stackEnv());
  ({ client, kafkajs: kafka } = testKafka(config.kafka, `${config.kafka.clientId}-startpoint-test`));
  client.setLogLevel('nothing');
  admin = client.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka.topics);
  await follow(config.kafka.topics.dsChanges.name, dsEvents);
  await follow(config.kafka.topics.adChanges.name, adEvents);
  ds = await Side.open(stack, 'ds');
  ad = await Side.open(stack, 'ad');
  await ds.add(dsOu, { objectClass: ['top', 'organizationalUnit'], ou: `sp${s}` });
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `sp${s}` });
}, 120_000);

afterAll(async () => {
  if (pipeline) {
    const crashed = pipeline.crashed();
    if (scenario.failed || crashed.length > 0) process.stderr.write(`set-startpoint ${s}: crashed: ${crashed.join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await Promise.allSettled(consumers.map((c) => c.consumer.disconnect()));
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.close();
  await ad?.close();
  if (admin && config) {
    const topics = kafka.admin();
    await topics.connect().catch(() => undefined);
    await topics.deleteTopics({ topics: Object.values(config.kafka.topics).map((t) => t.name) }).catch(() => undefined);
    await topics.disconnect().catch(() => undefined);
    await admin.deleteGroups([checkpointGroup('ad-detector'), checkpointGroup('ds-detector'), ...consumers.map((c) => c.groupId)]).catch(() => undefined);
    await admin.disconnect();
  }
}, 120_000);

/** A test body that prints the services' output when it fails. */
describe('idsync set-startpoint', () => {
  step('kafkajs 2.2.4 reports a fenced producer as INVALID_PRODUCER_EPOCH, and both detectors recognise it', async () => {
    const options = { detector: 'fence-probe', source: `probe${s}`, eventsTopic: config.kafka.topics.dsChanges.name, checkpointTopic: config.kafka.topics.checkpoints.name };
    const running = new ChangePublisher(client, options);
    await running.connect();
    await running.publish([], { position: '1', server: 'probe' });
    const takeover = new ChangePublisher(client, options);
    await takeover.connect();
    await takeover.publish([], { position: '2', server: 'probe' });
    await takeover.disconnect();
    const error = await running.publish([], { position: '3', server: 'probe' }).then(
      () => null,
      (e: unknown) => e,
    );
    await running.disconnect().catch(() => undefined);
    expect(error).toMatchObject({ name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH', code: 47, retriable: false });
    expect(isProducerFenced(error)).toBe(true);
    expect(classifyFailure(error)).toEqual({ action: 'retry', kind: 'kafka-fenced' });
    await admin.deleteGroups([`idsync.checkpoint.fence-probe.probe${s}`]).catch(() => undefined);
  });

  step('ds-detector --end while it is stopped: only changes made afterwards are published', async () => {
    const before = [await addDsUser(`b1${s}`), await addDsUser(`b2${s}`)];
    const result = await run(['ds-detector', '--end', '--yes']);
    expectExit(result, 0);
    expect(result.stdout).toMatch(/current +none \(no checkpoint/);
    expect(result.stdout).toMatch(/new +after change \d+: --end: the last change now is \d+/);
    expect(result.stdout).toMatch(/Written: the ds-detector continues with change \d+/);
    const stored = await storedCheckpoint('ds-detector');
    expect(Number(stored?.position)).toBeGreaterThanOrEqual(await changeNumberOf(before[1] ?? '', 'add'));

    await pipeline?.startService('ds-detector');
    const after = await addDsUser(`a1${s}`);
    await eventually(
      'the new change published',
      async () => dnsOf(mine(dsEvents, dsOu)),
      (list) => list.includes(`add ${normalizeDn(after)}`),
      30_000,
    );
    await sleep(1_000);
    expect(dnsOf(mine(dsEvents, dsOu))).toEqual([`add ${normalizeDn(after)}`]);
  });

  step('ds-detector --change-number of a change already published: exactly the changes from that one on are published again', async () => {
    const first = await addDsUser(`c1${s}`);
    const second = await addDsUser(`c2${s}`);
    await ds.replace(first, 'description', ['changed after c2']);
    const from = await changeNumberOf(second, 'add');
    const last = await changeNumberOf(first, 'modify');
    const isLast = (e: EntryChangeEvent): boolean => changeNumber(e) === last;
    await eventually(
      'the three changes published by the running detector',
      async () => mine(dsEvents, dsOu),
      (list) => list.some(isLast),
      30_000,
    );
    await sleep(1_000); // the other entries' events, on other partitions
    await pipeline?.stopService('ds-detector');
    const published = mine(dsEvents, dsOu).length;

    const result = await run(['ds', '--change-number', String(from), '--yes']);
    expectExit(result, 0);
    expect(result.stdout).toMatch(new RegExp(`new +after change ${from - 1}: --change-number: the detector publishes change ${from} and every later one`));
    expect(result.stderr).toMatch(new RegExp(`warning: up to [\\d,]+ changes \\(${from}\\.\\.\\d+\\) will be published again`));
    expect((await storedCheckpoint('ds-detector'))?.position).toBe(String(from - 1));

    await pipeline?.startService('ds-detector');
    await eventually(
      'the changes from the given one on, again',
      async () => mine(dsEvents, dsOu).slice(published),
      (list) => list.some(isLast),
      30_000,
    );
    await sleep(1_000);
    // Events are keyed by entry, so two entries' events may be consumed in either order: sort by change number.
    const republished = mine(dsEvents, dsOu)
      .slice(published)
      .sort((a, b) => changeNumber(a) - changeNumber(b));
    // c2's add and the later modify of c1; c1's add and the earlier tests' changes are before the start point.
    expect(dnsOf(republished)).toEqual([`add ${normalizeDn(second)}`, `modify ${normalizeDn(first)}`]);
    expect(republished.map(changeNumber)).toEqual([from, last]);
  });

  step('ds-detector --end while it runs: it is fenced, logs it, keeps running and continues from the new position', async () => {
    // A slow poll leaves the changes made just before set-startpoint unread when the write fences the detector.
    await pipeline?.stopService('ds-detector');
    setDsPollInterval(15_000);
    await pipeline?.startService('ds-detector');
    // Caught up (other people's changes included): its last poll found nothing more, so it sleeps 15 s from now.
    await eventually(
      'the ds-detector caught up',
      () => serviceHealth('ds-detector'),
      (h) => h.info?.['detector']?.lag === 0,
      60_000,
      200,
    );
    const published = mine(dsEvents, dsOu).length;
    const skipped = await addDsUser(`r1${s}`);
    const result = await run(['ds-detector', '--end', '--yes']);
    expectExit(result, 0);
    expect(result.stdout).toMatch(/A running ds-detector is fenced by the write/);
    const later = await addDsUser(`r2${s}`);

    await eventually(
      'the fencing logged',
      async () => log('ds-detector'),
      (text) => text.includes('"ds-detector.fenced"'),
      40_000,
      500,
    );
    await eventually(
      'the change made after set-startpoint',
      async () => dnsOf(mine(dsEvents, dsOu).slice(published)),
      (list) => list.includes(`add ${normalizeDn(later)}`),
      30_000,
    );
    await sleep(1_000);
    expect(dnsOf(mine(dsEvents, dsOu).slice(published))).toEqual([`add ${normalizeDn(later)}`]);
    expect(dnsOf(mine(dsEvents, dsOu))).not.toContain(`add ${normalizeDn(skipped)}`);
    expect(pipeline?.isRunning('ds-detector')).toBe(true);
    const health = await serviceHealth('ds-detector');
    expect(health.status).toBe('ok');
    expect(health.info?.['detector']?.state).toBe('streaming');
    const fenced = log('ds-detector')
      .split('\n')
      .find((line) => line.includes('"ds-detector.fenced"'));
    expect(JSON.parse(fenced ?? '{}')).toMatchObject({ level: 'warn', note: expect.stringContaining('idsync set-startpoint') });
    expect(log('ds-detector')).not.toContain('"ds-detector.stopped"');
    await pipeline?.stopService('ds-detector');
    setDsPollInterval(1_000);
  });

  step('ad-detector --end while it is stopped: a DirSync pass with progress, then only new changes are published', async () => {
    await addAdUser(`spb${s}`);
    const result = await run(['ad', '--end', '--yes']);
    expectExit(result, 0);
    expect(result.stderr).toMatch(/DirSync pass on \S+ +[\d,]+ objects +[\d,]+\/s/);
    expect(result.stdout).toMatch(/read +[\d,]+ objects in \d+ DirSync pages?/);
    expect(result.stdout).toMatch(/Written: the ad-detector continues with the changes made after the pass/);
    expect((await storedCheckpoint('ad-detector'))?.server).toMatch(/^invocationId=[0-9a-f-]{36};host=/);

    await pipeline?.startService('ad-detector');
    const after = await addAdUser(`spa${s}`);
    await eventually(
      'the new AD change published',
      async () => dnsOf(mine(adEvents, adOu)),
      (list) => list.includes(`add ${normalizeDn(after)}`),
      30_000,
    );
    await sleep(2_000);
    expect(dnsOf(mine(adEvents, adOu))).toEqual([`add ${normalizeDn(after)}`]);
  });

  step('ad-detector --end while it runs: it is fenced at its next publish, logs it, keeps streaming from the new cookie', async () => {
    expect(pipeline?.isRunning('ad-detector')).toBe(true);
    const result = await run(['ad-detector', '--end', '--yes']);
    expectExit(result, 0);
    expect(result.stdout).toMatch(/A running ad-detector is fenced by the write/);
    const later = await addAdUser(`spl${s}`);
    await eventually(
      'the fencing logged',
      async () => log('ad-detector'),
      (text) => text.includes('"ad-detector.fenced"'),
      30_000,
      500,
    );
    await eventually(
      'the change made after set-startpoint',
      async () => dnsOf(mine(adEvents, adOu)),
      (list) => list.includes(`add ${normalizeDn(later)}`),
      30_000,
    );
    expect(pipeline?.isRunning('ad-detector')).toBe(true);
    const health = await serviceHealth('ad-detector');
    expect(health.status).toBe('ok');
    expect(health.info?.['detector']?.state).toBe('streaming');
    expect(log('ad-detector')).not.toContain('"ad-detector.stopped"');
    await pipeline?.stopService('ad-detector');
  });

  step(
    'refuses, changing nothing: unknown detector, change number outside the changelog, --time for AD, no --yes',
    async () => {
      const unknown = await run(['mapper', '--end', '--yes']);
      expectExit(unknown, 2);
      expect(unknown.stderr).toContain(`no detector 'mapper'`);
      expect(unknown.stderr).toContain(`detectors: ad-detector, ad, ad${s}, ds-detector, ds, ds${s}`);

      const before = await storedCheckpoint('ds-detector');
      const outside = await run(['ds-detector', '--change-number', '999999999', '--yes']);
      expectExit(outside, 3);
      expect(outside.stderr).toMatch(/change number 999999999 is outside the changelog's window \d+\.\.\d+ \(it has not been made yet\)/);

      const time = await run(['ad-detector', '--time', '1h', '--yes']);
      expectExit(time, 2);
      expect(time.stderr).toContain('--time does not apply to the ad-detector');
      expect(time.stderr).toMatch(/hint: use --end.*--beginning.*idsync resync/);

      const unconfirmed = await run(['ds-detector', '--beginning']);
      expectExit(unconfirmed, 3);
      expect(unconfirmed.stdout).toMatch(/current +after change \d+/);
      expect(unconfirmed.stdout).toMatch(/new +after change \d+: --beginning/);
      expect(unconfirmed.stderr).toContain('not written: moving a start point skips or repeats changes; nothing was changed');
      expect(unconfirmed.stderr).toContain('hint: run it again with --yes');
      expect(await storedCheckpoint('ds-detector')).toEqual(before);

      const json = await run(['ds', '--beginning', '--json']);
      expectExit(json, 3);
      expect(JSON.parse(json.stdout)).toMatchObject({ detector: 'ds-detector', source: `ds${s}`, written: false, current: before });
      expect(await storedCheckpoint('ds-detector')).toEqual(before);
    },
    60_000,
  );

  it('explains every choice and what happens to a running detector in --help', async () => {
    const help = await idsync(['set-startpoint', '--help']);
    expectExit(help, 0);
    for (const text of ['--beginning', '--end', '--change-number N', '--time T', '--yes', 'fences the running detector', 'Examples:']) expect(help.stdout).toContain(text);
  });
});
