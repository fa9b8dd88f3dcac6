import { type Kafka } from 'kafkajs';
import { READER_MAX_WAIT_MS, stackKafka } from '../support/kafka';
import { decodeEntryChange } from '@idsync/contracts';
import { readRootDse } from '@idsync/platform';
import { normalizeDn, Side } from '../e2e/directories';
import { eventually, Pipeline } from '../e2e/pipeline';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { describeRun, idsync, type CliRun } from './run-cli';

/**
 * `idsync status` against the real stack: the ds-detector and both writers of an isolated pipeline, the mapper
 * held back. Changes made in 389-ds pile up on the directory change topic; status must report the mapper's lag as
 * the number of records there -- not the offset gap, which the detector's transaction markers inflate -- then the
 * ds-detector's own lag in changes while it is stopped, and the mapper's lag going to 0 once it runs.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 30_000;

const dsBase = config.directories['ds']?.baseDn ?? '';
const adBase = config.directories['ad']?.baseDn ?? '';
const OU = `st${s}`;
const dsOu = `ou=${OU},ou=Corp,${dsBase}`;
const adOu = `OU=${OU},OU=Corp,${adBase}`;
const dsUser = (i: number): string => `cn=St${i} U${s},${dsOu}`;

let pipeline: Pipeline | undefined;
let ds: Side | undefined;
let ad: Side | undefined;
let kafka: Kafka;
const scenario = new Scenario(120_000);
const step = scenario.step;

interface StatusJson {
  pipes: {
    name: string;
    source: string;
    detector: {
      service: string | null;
      position: { kind: string; changeNumber?: number } | null;
      source: { reachable: boolean; lastChangeNumber?: number; error?: string } | null;
      lag: { value: number; unit: string } | null;
      checkpointAgeMs: number | null;
    };
  }[];
  consumers: { service: string; groupId: string; lag: number; exact: boolean; topics: { topic: string; lag: number; offsetGap: number; exact: boolean; neverCommitted: boolean }[] }[];
  deadLetters: { total: number };
  unreachable: string[];
}

const cli = (args: string[], env?: Record<string, string>): Promise<CliRun> => idsync(args, { configFile: (pipeline as Pipeline).configFile, ...(env ? { env } : {}) });

async function status(): Promise<StatusJson> {
  const run = await cli(['status', '--json']);
  if (run.code !== 0) throw new Error(`status failed: ${describeRun(run)}`);
  return JSON.parse(run.stdout) as StatusJson;
}

const dsPipe = (report: StatusJson) => {
  const pipe = report.pipes.find((p) => p.name === 'ds-to-ad');
  if (!pipe) throw new Error(`no ds-to-ad pipe in ${JSON.stringify(report.pipes)}`);
  return pipe.detector;
};
const consumerTopic = (report: StatusJson, service: string, topic: string) => {
  const found = report.consumers.find((c) => c.service === service)?.topics.find((t) => t.topic === topic);
  if (!found) throw new Error(`no ${service} row for ${topic} in ${JSON.stringify(report.consumers)}`);
  return found;
};

/** The directory server's lastChangeNumber, as the test (Directory Manager) reads it. */
async function lastChangeNumber(): Promise<number> {
  const dse = await readRootDse((ds as Side).client, ['lastChangeNumber']);
  return Number(dse['lastchangenumber']?.[0] ?? '0');
}

/** Every record of a topic, read independently of the CLI: their count, and the DNs of the events they carry. */
async function recordsOf(topic: string): Promise<{ dns: string[]; offsetGap: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<number, number>();
  let offsetGap = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      offsetGap += Number(p.high) - Number(p.low);
      if (Number(p.high) > Number(p.low)) remaining.set(p.partition, Number(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  const dns: string[] = [];
  if (remaining.size === 0) return { dns, offsetGap };
  const groupId = `${(pipeline as Pipeline).clientId}-status-test-${Date.now()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: READER_MAX_WAIT_MS });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (Number(payload.lastOffset) >= (remaining.get(payload.partition) ?? 0) - 1) remaining.delete(payload.partition);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => void dns.push(decodeEntryChange(message.value).dn) });
    await eventually(
      `every record of ${topic} read`,
      async () => remaining.size,
      (n) => n === 0,
      20_000,
      100,
    );
  } finally {
    await consumer.disconnect();
    await deleteGroup(groupId);
  }
  return { dns, offsetGap };
}

/** Removes a reader's group (it never committed) so it does not linger on the broker. */
async function deleteGroup(groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
}

const under = (dn: string, base: string): boolean => normalizeDn(dn).endsWith(normalizeDn(base));

beforeAll(async () => {
  await requireStackServers(config);
  ds = await Side.open(config, 'ds');
  ad = await Side.open(config, 'ad');
  // No mapper: what the ds-detector publishes stays on the topic. The writers create the topics at start.
  pipeline = await Pipeline.start(s, 90_000, { only: ['ds-detector', 'ad-writer', 'ds-writer'] });
  kafka = stackKafka(`${pipeline.clientId}-status-test`);
}, 150_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed) process.stderr.write(`status ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.close();
  await ad?.close();
}, 60_000);

describe(`idsync status (run ${s})`, () => {
  const N = 6;
  const M = 4;

  step(`reports the mapper's lag on the directory change topic as the ${N} records waiting, not the offset gap`, async () => {
    const dsChanges = (pipeline as Pipeline).topics['dsChanges'] as string;
    // N changes, one event each: the OU, three users, two modifies.
    await (ds as Side).add(dsOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
    for (const i of [1, 2, 3]) {
      await (ds as Side).add(dsUser(i), { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: `St${i} U${s}`, sn: `U${s}`, uid: `st${i}x${s}` });
    }
    await (ds as Side).replace(dsUser(1), 'description', ['first']);
    await (ds as Side).replace(dsUser(2), 'description', ['second']);
    const last = await lastChangeNumber();
    await eventually('the ds-detector past the changes', status, (r) => (dsPipe(r).position?.changeNumber ?? 0) >= last, STEP_MS, 500);

    const { dns, offsetGap } = await recordsOf(dsChanges);
    expect(dns.filter((dn) => under(dn, dsOu))).toHaveLength(N);
    const report = await status();
    const row = consumerTopic(report, 'mapper', dsChanges);
    // Exactly the records on the topic (N, plus whatever others changed under ou=Corp meanwhile), counted.
    expect({ lag: row.lag, exact: row.exact, neverCommitted: row.neverCommitted }).toEqual({ lag: dns.length, exact: true, neverCommitted: true });
    // The naive figure counts the transactions' commit markers too.
    expect(row.offsetGap).toBe(offsetGap);
    expect(row.offsetGap).toBeGreaterThan(row.lag);
    expect(dsPipe(report)).toMatchObject({ service: 'ds-detector', source: { reachable: true } });
  });

  step(`reports the ds-detector's lag in changes while it is stopped (${M} changes)`, async () => {
    const live = pipeline as Pipeline;
    await live.stopService('ds-detector');
    const before = await status();
    const position = dsPipe(before).position?.changeNumber as number;
    const lastBefore = dsPipe(before).source?.lastChangeNumber as number;
    for (let i = 0; i < M; i++) await (ds as Side).replace(dsUser(3), 'description', [`change ${i}`]);
    const after = await status();
    const detector = dsPipe(after);
    const lastAfter = detector.source?.lastChangeNumber as number;
    expect(detector.position?.changeNumber).toBe(position);
    expect(detector.lag).toEqual({ value: lastAfter - position, unit: 'changes' });
    expect(detector.lag?.value).toBeGreaterThanOrEqual(M);
    // When nobody else wrote to the directory meanwhile (always so under `npm test`), that is exactly M.
    if (position === lastBefore && lastAfter === lastBefore + M) expect(detector.lag?.value).toBe(M);
    else process.stderr.write(`status ${s}: other changes in 389-ds during the test: position ${position}, last ${lastBefore} -> ${lastAfter}\n`);
    await live.startService('ds-detector');
  });

  step('the mapper started: its lag goes to 0', async () => {
    const live = pipeline as Pipeline;
    await live.startService('mapper');
    const report = await eventually('mapper lag 0', status, (r) => r.consumers.find((c) => c.service === 'mapper')?.lag === 0, 60_000, 1_000);
    const mapper = report.consumers.find((c) => c.service === 'mapper');
    expect(mapper?.exact).toBe(true);
    expect(mapper?.topics.every((t) => !t.neverCommitted || t.lag === 0)).toBe(true);
  });

  step('the table output names the pipes and has a dead-letter section', async () => {
    const run = await cli(['status']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ad-to-ds\s/m);
    expect(run.stdout).toMatch(/^ds-to-ad\s+running\s+ds\S* -> ad\S*\s+ds-detector\s+change \d+/m);
    expect(run.stdout).toMatch(/^mapper\s+\S+-mapper\s/m);
    expect(run.stdout).toContain(`Dead letters (${(pipeline as Pipeline).topics['deadLetter']})`);
  });

  step('a directory that cannot be reached is shown in its row; the Kafka part is still there; exit 1', async () => {
    // DS_URL is what the configuration's ds directory reads: a closed port.
    const run = await cli(['status', '--json'], { DS_URL: 'ldaps://127.0.0.1:9' });
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as StatusJson;
    expect(dsPipe(report).source).toMatchObject({ reachable: false, error: expect.stringContaining('127.0.0.1:9') });
    expect(report.unreachable).toEqual([expect.stringMatching(/^ds/)]);
    expect(report.consumers.map((c) => c.service)).toEqual(['mapper', 'ad-writer', 'ds-writer']);
    expect(run.stderr).toMatch(/unreachable/);
  });
});
