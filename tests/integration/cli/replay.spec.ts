import { type Kafka } from 'kafkajs';
import { READER_MAX_WAIT_MS, stackKafka } from '../support/kafka';
import { type Entry, normalizeDn, sameDn, Side } from '../e2e/directories';
import { eventually, Pipeline, sleep } from '../e2e/pipeline';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { describeRun, idsync, type CliRun } from './run-cli';

/**
 * `idsync replay` against the real stack: the five services of an isolated pipeline, a history of AD changes that
 * reached 389-ds (creates, a modify, a member added and removed, a rename, a delete), then the ds-writer's group
 * rewound to before that history and the writer started again. A replay must leave 389-ds as it was: nothing
 * resurrected, no member re-added, the renamed entry only at its new DN, nothing dead-lettered, the replayed
 * requests ending as no-ops.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 30_000;

const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const OU = `rp${s}`;
const adOu = `OU=${OU},OU=Corp,${adBase}`;
const dsOu = `ou=${OU},ou=Corp,${dsBase}`;
const adDn = (cn: string): string => `CN=${cn},${adOu}`;
const dsDn = (cn: string): string => `cn=${cn},${dsOu}`;
const user = (i: number): string => `Rp${i} U${s}`;
const renamed = `Rp3 R${s}`;
const group = `rpg${s}`;

let pipeline: Pipeline | undefined;
let ad: Side | undefined;
let ds: Side | undefined;
let kafka: Kafka;
const scenario = new Scenario(120_000);
const step = scenario.step;

const cli = (args: string[]): Promise<CliRun> => idsync(args, { configFile: (pipeline as Pipeline).configFile });

function expectRun(run: CliRun, code: number): void {
  if (run.code !== code) throw new Error(`expected exit ${code}\n${describeRun(run)}`);
}

/** Committed offsets of a group, read with the test's own admin client: "partition -> offset". */
async function committed(groupId: string, topic: string): Promise<Record<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries((fetched?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Every record of a topic with its offset and timestamp (the operations topic is written without transactions). */
async function timestamps(topic: string): Promise<{ partition: number; offset: number; timestamp: number }[]> {
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<number, number>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) if (Number(p.high) > Number(p.low)) remaining.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  const out: { partition: number; offset: number; timestamp: number }[] = [];
  if (remaining.size === 0) return out;
  const groupId = `${(pipeline as Pipeline).clientId}-replay-test-${Date.now()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: READER_MAX_WAIT_MS });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (Number(payload.lastOffset) >= (remaining.get(payload.partition) ?? 0) - 1) remaining.delete(payload.partition);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => void out.push({ partition, offset: Number(message.offset), timestamp: Number(message.timestamp) }) });
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
  return out;
}

/** Removes a reader's group (it never committed) so it does not linger on the broker. */
async function deleteGroup(groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
}

/** What a person sees of the test OU in 389-ds: DN -> user attributes (operational ones left out). */
async function dsState(): Promise<Record<string, Entry>> {
  const entries = await (ds as Side).below(dsOu, '(objectClass=*)', ['*']);
  return Object.fromEntries(
    [...entries].map(([dn, entry]) => [
      normalizeDn(dn),
      Object.fromEntries(
        Object.entries(entry)
          .map(([name, values]): [string, string[]] => [name, name === 'member' ? values.map(normalizeDn).sort() : [...values].sort()])
          .sort(([a], [b]) => a.localeCompare(b)),
      ),
    ]),
  );
}

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s, 90_000);
  kafka = stackKafka(`${pipeline.clientId}-replay-test`);
}, 150_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed) process.stderr.write(`replay ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 60_000);

describe(`idsync replay (run ${s})`, () => {
  let before = 0;
  let recorded: Record<string, Entry> = {};
  let groupId = '';
  let dsOperations = '';

  step('a history of AD changes reaches 389-ds', async () => {
    const live = pipeline as Pipeline;
    groupId = `${live.clientId}-ds-writer`;
    dsOperations = live.topics['dsOperations'] as string;
    const a = ad as Side;
    const d = ds as Side;
    // Record timestamps have millisecond resolution and the broker's clock: leave a margin.
    await sleep(1_000);
    before = Date.now();
    await sleep(1_000);
    await a.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
    for (const i of [1, 2, 3]) {
      await a.add(adDn(user(i)), {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: user(i),
        sAMAccountName: `rp${i}x${s}`,
        givenName: `Rp${i}`,
        sn: `U${s}`,
        mail: `rp${i}x${s}@example.test`,
      });
    }
    await a.add(adDn(group), { objectClass: ['top', 'group'], cn: group, sAMAccountName: group });
    await eventually(
      'users and group in 389-ds',
      () => Promise.all([1, 2, 3].map((i) => d.read(dsDn(user(i)))).concat(d.read(dsDn(group)))),
      (e) => e.every((x) => x !== null),
      STEP_MS,
    );
    await a.replace(adDn(user(2)), 'description', ['modified once']);
    await eventually(
      'modify in 389-ds',
      () => d.read(dsDn(user(2))),
      (e) => e?.['description']?.[0] === 'modified once',
      STEP_MS,
    );
    await a.addValue(adDn(group), 'member', adDn(user(2)));
    await eventually(
      'member added in 389-ds',
      () => d.read(dsDn(group)),
      (e) => (e?.['member'] ?? []).some((m) => sameDn(m, dsDn(user(2)))),
      STEP_MS,
    );
    await a.deleteValue(adDn(group), 'member', adDn(user(2)));
    await eventually(
      'member removed in 389-ds',
      () => d.read(dsDn(group)),
      (e) => e !== null && !(e['member'] ?? []).some((m) => sameDn(m, dsDn(user(2)))),
      STEP_MS,
    );
    await a.rename(adDn(user(3)), adDn(renamed));
    await eventually(
      'rename in 389-ds',
      async () => [await d.read(dsDn(renamed)), await d.read(dsDn(user(3)))] as const,
      ([now, old]) => now !== null && old === null,
      STEP_MS,
    );
    await a.del(adDn(user(1)));
    await eventually(
      'delete in 389-ds',
      () => d.read(dsDn(user(1))),
      (e) => e === null,
      STEP_MS,
    );
    // The ds-writer done with everything it was given.
    await eventually(
      'ds-writer caught up',
      async () => {
        const run = await cli(['status', '--json']);
        return (JSON.parse(run.stdout) as { consumers: { service: string; lag: number }[] }).consumers.find((c) => c.service === 'ds-writer')?.lag;
      },
      (lag) => lag === 0,
      STEP_MS,
      1_000,
    );
    recorded = await dsState();
    expect(Object.keys(recorded).sort()).toEqual([dsDn(user(2)), dsDn(renamed), dsDn(group)].map(normalizeDn).sort());
  });

  step('refused while the ds-writer runs: exit 3, offsets not moved', async () => {
    const offsets = await committed(groupId, dsOperations);
    const run = await cli(['replay', 'ds-writer', '--to-time', String(before), '--yes']);
    expectRun(run, 3);
    expect(run.stderr).toMatch(/kubectl scale deployment\/idsync-ds-writer --replicas=0/);
    // Not moved back: the running writer may only have committed further (records others' AD changes produce).
    const now = await committed(groupId, dsOperations);
    for (const [partition, was] of Object.entries(offsets)) expect([partition, now[Number(partition)] ?? -1]).toEqual([partition, Math.max(was, now[Number(partition)] ?? -1)]);
  });

  let replayed = 0;

  step('the ds-writer stopped: the plan counts the records to process again; without --yes nothing changes (exit 3)', async () => {
    await (pipeline as Pipeline).stopService('ds-writer');
    const offsets = await committed(groupId, dsOperations);
    const records = await timestamps(dsOperations);
    replayed = records.filter((r) => r.timestamp >= before && r.offset < (offsets[r.partition] ?? 0)).length;
    expect(replayed).toBeGreaterThanOrEqual(7);

    const run = await cli(['replay', 'ds-writer', '--to-time', new Date(before).toISOString()]);
    expectRun(run, 3);
    expect(run.stdout).toContain(`Replay plan for group ${groupId} (ds-writer)`);
    expect(run.stdout).toContain(`Total: ${replayed} record(s) processed again, 0 skipped`);
    expect(run.stderr).toMatch(/not applied: nothing was changed/);
    expect(await committed(groupId, dsOperations)).toEqual(offsets);

    const json = await cli(['replay', 'ds-writer', '--to-time', String(before), '--json']);
    expectRun(json, 3);
    const plan = JSON.parse(json.stdout) as { applied: boolean; summary: { replay: number; exact: boolean }; partitions: { partition: number; target: number }[] };
    expect(plan).toMatchObject({ applied: false, summary: { replay: replayed, exact: true } });
  });

  step('with --yes the offsets move to the first record after the time', async () => {
    const records = await timestamps(dsOperations);
    const offsets = await committed(groupId, dsOperations);
    const run = await cli(['replay', 'ds-writer', '--to-time', String(before), '--yes']);
    expectRun(run, 0);
    expect(run.stdout).toMatch(/Applied: .* moved on \d+ partition/);
    const now = await committed(groupId, dsOperations);
    // Where the writer reads next: a partition never committed (-1) starts at its log start (0 on a fresh topic).
    const next = (offset: number | undefined): number => (offset === undefined || offset < 0 ? 0 : offset);
    for (const [partition, was] of Object.entries(offsets)) {
      const first = records.filter((r) => r.partition === Number(partition) && r.timestamp >= before).map((r) => r.offset);
      expect([partition, next(now[Number(partition)])]).toEqual([partition, first.length > 0 ? Math.min(...first) : next(was)]);
    }
  });

  step('the ds-writer replays everything and 389-ds is left as it was', async () => {
    const live = pipeline as Pipeline;
    await live.startService('ds-writer');
    await eventually(
      'ds-writer lag 0 after the replay',
      async () => {
        const run = await cli(['status', '--json']);
        return (JSON.parse(run.stdout) as { consumers: { service: string; lag: number }[] }).consumers.find((c) => c.service === 'ds-writer')?.lag;
      },
      (lag) => lag === 0,
      60_000,
      1_000,
    );
    const state = await dsState();
    expect(state).toEqual(recorded);
    expect(await (ds as Side).read(dsDn(user(1)))).toBeNull(); // deleted: not resurrected
    expect(await (ds as Side).read(dsDn(user(3)))).toBeNull(); // renamed: only at its new DN
    expect(((await (ds as Side).read(dsDn(group)))?.['member'] ?? []).some((m) => sameDn(m, dsDn(user(2))))).toBe(false);
    // The restarted writer did go through the replayed records (its counters start at 0 with the process).
    expect(await live.counter('ds-writer', 'idsync_writer_requests_total')).toBeGreaterThanOrEqual(replayed);
  });

  /**
   * Nothing replayed is applied a second time: the writer coalesces each entry's requests of a batch (everything
   * before the entry's delete is superseded, consecutive modifies merge: no resurrected account, no member re-added
   * for a moment), compares what is left with the entry, and leaves the naming attribute of a since-renamed entry
   * alone (a replayed create would otherwise be refused with notAllowedOnRDN and dead-lettered).
   */
  it('the replayed requests end as no-ops or superseded, and nothing is dead-lettered', async () => {
    const live = pipeline as Pipeline;
    const letters = (await live.deadLetters()).filter((l) => l.stage === 'ds-writer').map((l) => `${l.topic}[${l.partition}]@${l.offset}: ${l.reason}`);
    expect(letters).toEqual([]);
    const counts = {
      applied: await live.counter('ds-writer', 'idsync_writer_requests_total', { result: 'applied' }),
      unchanged:
        (await live.counter('ds-writer', 'idsync_writer_requests_total', { result: 'no-op' })) +
        (await live.counter('ds-writer', 'idsync_writer_requests_total', { result: 'already-applied' })) +
        (await live.counter('ds-writer', 'idsync_writer_requests_total', { result: 'superseded' })) +
        (await live.counter('ds-writer', 'idsync_writer_requests_total', { result: 'merged' })),
    };
    expect(counts).toEqual({ applied: 0, unchanged: replayed });
  }, 60_000);
});
