import { type Kafka, type Producer } from 'kafkajs';
import { READER_MAX_WAIT_MS, stackKafka } from '../support/kafka';
import { type DeadLetter, encodeDeadLetter, encodeEntryChange, type EntryChangeEvent } from '@idsync/contracts';
import { Side } from '../e2e/directories';
import { eventually, Pipeline } from '../e2e/pipeline';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { describeRun, idsync, type CliRun } from './run-cli';

/**
 * `idsync dlq` against the real stack: the ad-detector, the mapper and the ds-writer on the demo pipes (isolated
 * topics and groups), a REAL dead letter whose cause an operator can fix in the destination, then the fix and the
 * re-drive. The cause: a user renamed in AD to a name already taken in 389-ds by an entry someone created there by
 * hand; the ds-writer's modify-DN gets entryAlreadyExists (68), which libs/writer/src/classify.ts retries a few
 * times (the holder may be moving away) and then dead-letters; the squatter is linked to nothing, so it is not
 * moved aside. Deleting the squatting entry fixes it; the re-driven rename then lands.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 30_000;

const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const OU = `dlq${s}`;
const adOu = `OU=${OU},OU=Corp,${adBase}`;
const dsOu = `ou=${OU},ou=Corp,${dsBase}`;
const before = `Dlq A${s}`;
const after = `Dlq B${s}`;
const sam = `dlqa${s}`;

/** A secret that must never appear in any output (carried by a synthetic dead letter below). */
const SECRET = `Never-Shown-${s}!`;

let pipeline: Pipeline | undefined;
let ad: Side | undefined;
let ds: Side | undefined;
let kafka: Kafka;
let producer: Producer | undefined;
const scenario = new Scenario(90_000);
const step = scenario.step;

interface ListedJson {
  id: string;
  stage: string;
  reason: string;
  original: { topic: string; partition: number; offset: string };
  key: string | null;
  status: 'pending' | 're-driven';
  redriven: { at: string; to: string } | null;
}

const cli = (args: string[]): Promise<CliRun> => idsync(args, { configFile: (pipeline as Pipeline).configFile });

async function listJson(args: string[] = []): Promise<ListedJson[]> {
  const run = await cli(['dlq', 'list', '--json', ...args]);
  if (run.code !== 0) throw new Error(`dlq list failed: ${describeRun(run)}`);
  return (JSON.parse(run.stdout) as { deadLetters: ListedJson[] }).deadLetters;
}

function expectRun(run: CliRun, code: number): void {
  if (run.code !== code) throw new Error(`expected exit ${code}\n${describeRun(run)}`);
}

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  // A rename onto a taken DN may resolve itself (the other entry may be on its way out): by default it waits on the
  // wait topic for minutes; here it is dead-lettered after the in-line tries, to have a dead letter to work with.
  pipeline = await Pipeline.start(s, 90_000, { only: ['ad-detector', 'mapper', 'ds-writer'], services: { 'ds-writer': { dependencyWaitMs: 0 } } });
  kafka = stackKafka(`${pipeline.clientId}-dlq-test`);
}, 150_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed) process.stderr.write(`dlq ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await producer?.disconnect().catch(() => undefined);
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 60_000);

describe(`idsync dlq on a real dead letter (run ${s})`, () => {
  let id = '';

  step('an empty dead-letter topic lists as "no dead letters"', async () => {
    const run = await cli(['dlq', 'list']);
    expectRun(run, 0);
    expect(run.stdout).toMatch(/^no dead letters/);
  });

  step('a rename in AD onto a DN taken in 389-ds is dead-lettered by the ds-writer and listed with its reason', async () => {
    const live = { ad: ad as Side, ds: ds as Side };
    await live.ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
    await eventually(
      'the test OU in 389-ds',
      () => live.ds.read(dsOu),
      (e) => e !== null,
      STEP_MS,
    );
    await live.ad.add(`CN=${before},${adOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: before, sAMAccountName: sam, sn: 'Dlq' });
    await eventually(
      'the user in 389-ds',
      () => live.ds.read(`cn=${before},${dsOu}`),
      (e) => e !== null,
      STEP_MS,
    );
    // Someone creates an entry by hand in 389-ds with the DN the user is about to be renamed to. A plain `person`
    // is in no sync class: pipelines of other runs on the same servers leave it (and its delete) alone.
    await live.ds.add(`cn=${after},${dsOu}`, { objectClass: ['top', 'person'], cn: after, sn: 'Squatter' });
    await live.ad.rename(`CN=${before},${adOu}`, `CN=${after},${adOu}`);

    const letters = await eventually(
      'a ds-writer dead letter',
      () => listJson(),
      (list) => list.some((l) => l.stage === 'ds-writer'),
      STEP_MS,
      1_000,
    );
    expect(letters).toHaveLength(1);
    const [letter] = letters as [ListedJson];
    id = letter.id;
    expect(letter).toMatchObject({ stage: 'ds-writer', status: 'pending', redriven: null });
    expect(letter.original.topic).toBe((pipeline as Pipeline).topics['dsOperations']);
    expect(letter.reason).toContain('entryAlreadyExists (68) on modify-dn');
    expect(letter.key).toMatch(/^[0-9a-f-]{36}$/);
    // Nothing moved in 389-ds.
    expect(await live.ds.read(`cn=${before},${dsOu}`, ['uid'])).toEqual({ uid: [sam] });

    const table = await cli(['dlq', 'list', '--stage', 'ds-writer']);
    expectRun(table, 0);
    expect(table.stdout).toMatch(
      new RegExp(`^${id}\\s+\\S+\\s+ds-writer\\s+${letter.original.topic}/${letter.original.partition}/${letter.original.offset}\\s.*gave up after \\d+ attempts: rename.*pending$`, 'm'),
    );
    expect((await listJson(['--stage', 'mapper'])).length).toBe(0);
  });

  step('dlq show prints the whole reason and the write request: op, DN, previous DN, entry id', async () => {
    const run = await cli(['dlq', 'show', id]);
    expectRun(run, 0);
    expect(run.stdout).toContain(`dead letter ${id}`);
    expect(run.stdout).toContain('another entry holds the new DN');
    expect(run.stdout).toMatch(/original record: write-request \(schema id 7/);
    expect(run.stdout).toMatch(/^\s+op\s+rename$/m);
    expect(run.stdout).toMatch(new RegExp(`^\\s+dn\\s+cn=${after},ou=${OU},`, 'mi'));
    expect(run.stdout).toMatch(new RegExp(`^\\s+previous dn\\s+cn=${before},ou=${OU},`, 'mi'));
    expect(run.stdout).toMatch(/^\s+entry id\s+objectGUID [0-9a-f-]{36}$/m);
    expect(run.stdout).toMatch(/^\s+pipe\s+ad-to-ds$/m);

    const json = JSON.parse((await cli(['dlq', 'show', id, '--json'])).stdout) as { record: { kind: string; op: string; dn: string } };
    expect(json.record).toMatchObject({ kind: 'write-request', op: 'rename' });
  });

  step('after the cause is fixed, dlq redrive brings the rename to 389-ds and records it; a second redrive is refused', async () => {
    const live = { ds: ds as Side };
    await live.ds.del(`cn=${after},${dsOu}`);

    const run = await cli(['dlq', 'redrive', id]);
    expectRun(run, 0);
    expect(run.stdout).toContain(`re-driven ${id} (ds-writer) to ${(pipeline as Pipeline).topics['dsOperations']}/`);

    const moved = await eventually(
      'the renamed user in 389-ds',
      async () => [await live.ds.read(`cn=${after},${dsOu}`, ['uid']), await live.ds.read(`cn=${before},${dsOu}`, ['uid'])] as const,
      ([now, old]) => now !== null && old === null,
      STEP_MS,
    );
    expect(moved[0]).toEqual({ uid: [sam] });

    const [letter] = (await listJson()) as [ListedJson];
    expect(letter).toMatchObject({ id, status: 're-driven' });
    expect(letter.redriven?.to).toMatch(new RegExp(`^${(pipeline as Pipeline).topics['dsOperations']}/\\d+/\\d+$`));
    const table = await cli(['dlq', 'list']);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s.*re-driven at \\d{4}-\\d\\d-\\d\\dT\\S+Z$`, 'm'));

    const again = await cli(['dlq', 'redrive', id]);
    expectRun(again, 3);
    expect(again.stderr).toContain(`already re-driven, nothing produced: ${id} at`);
    expect(again.stderr).toContain('--force');
    // The re-driven request was applied, not dead-lettered again.
    expect((await listJson()).map((l) => l.id)).toEqual([id]);
  });

  step('unknown and malformed ids are refused with exit 2, naming them', async () => {
    const unknown = await cli(['dlq', 'show', '0:999999']);
    expectRun(unknown, 2);
    expect(unknown.stderr).toContain('no dead letter 0:999999');
    const both = await cli(['dlq', 'redrive', id, '7:3']);
    expectRun(both, 2);
    expect(both.stderr).toContain('no dead letter 7:3');
    const malformed = await cli(['dlq', 'redrive', 'seven']);
    expectRun(malformed, 2);
    expect(malformed.stderr).toContain("not a dead-letter id: 'seven'");
  });

  step('show masks passwords and binary values; redrive --all asks for --yes, then re-drives what it can and lists the failures', async () => {
    const live = pipeline as Pipeline;
    const deadLetterTopic = live.topics['deadLetter'] as string;
    const adChanges = live.topics['adChanges'] as string;
    const guid = `0b5e6d3a-1c2f-4e8a-9b7c-${s
      .padStart(12, '0')
      .slice(-12)
      .replace(/[^0-9a-f]/g, 'a')}`;
    // An entry change outside every pipe (the mapper drops it when it comes back) carrying password values.
    const event: EntryChangeEvent = {
      eventId: `test/${s}`,
      source: { system: 'active-directory', directory: 'ad', server: 'ldaps://127.0.0.1:636', position: { kind: 'snapshot', runId: s, index: 0 } },
      entryId: { kind: 'objectGUID', value: guid },
      op: 'modify',
      dn: `CN=Masked ${s},CN=Users,${adBase}`,
      previousDn: null,
      objectClasses: ['user'],
      attributes: [
        { name: 'idsyncPassword', op: 'replace', values: [`sealed-${SECRET}`] },
        { name: 'unhashed#user#password', op: 'replace', values: [SECRET] },
        { name: 'objectGUID', op: 'replace', values: [Buffer.alloc(16, 0xab)] },
      ],
      initiator: null,
      changeTime: null,
      detectedAt: Date.now(),
      after: null,
      before: null,
    };
    const synthetic = (overrides: Partial<DeadLetter>): DeadLetter => ({
      stage: 'mapper',
      reason: 'test: unmappable',
      topic: adChanges,
      partition: 0,
      offset: '0',
      key: Buffer.from(guid),
      value: encodeEntryChange(event),
      failedAt: Date.now(),
      ...overrides,
    });
    producer = kafka.producer();
    await producer.connect();
    const sent = await producer.send({
      topic: deadLetterTopic,
      acks: -1,
      messages: [
        synthetic({}),
        synthetic({ offset: '1', reason: 'test: a second one' }),
        synthetic({ value: null, reason: 'test: no value' }),
        synthetic({ topic: `idsync.e2e.${s}.gone`, reason: 'test: topic gone' }),
      ].map((letter) => ({ key: letter.key, value: encodeDeadLetter(letter), partition: 0 })),
    });
    const base = BigInt(sent[0]?.baseOffset ?? '0');
    const [withSecret, second, noValue, topicGone] = [0n, 1n, 2n, 3n].map((i) => `0:${base + i}`) as [string, string, string, string];

    const shown = await cli(['dlq', 'show', withSecret]);
    expectRun(shown, 0);
    expect(shown.stdout).toMatch(/original record: entry-change \(schema id 5/);
    expect(shown.stdout).toContain('replace idsyncPassword: ***');
    expect(shown.stdout).toContain('replace unhashed#user#password: ***');
    expect(shown.stdout).toContain('replace objectGUID: <16 bytes>');
    const shownJson = await cli(['dlq', 'show', withSecret, '--json']);
    for (const run of [shown, shownJson, await cli(['dlq', 'list', '--json'])]) expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);

    // Not on a terminal, and more than one record to produce: refused without --yes, nothing produced.
    const unconfirmed = await cli(['dlq', 'redrive', '--all', '--stage', 'mapper']);
    expectRun(unconfirmed, 3);
    expect(unconfirmed.stderr).toContain('--yes');
    expect((await listJson(['--stage', 'mapper'])).every((l) => l.status === 'pending')).toBe(true);

    const dry = await cli(['dlq', 'redrive', '--all', '--stage', 'mapper', '--dry-run']);
    expectRun(dry, 1);
    expect(dry.stdout).toContain(`would re-drive 2 dead letters:\n  ${withSecret} (mapper) -> ${adChanges}, key ${guid}`);
    expect(dry.stdout).toContain('nothing produced (--dry-run)');
    expect(dry.stderr).toContain('2 of 4 could not be re-driven');

    const run = await cli(['dlq', 'redrive', '--all', '--stage', 'mapper', '--yes']);
    expectRun(run, 1);
    expect(run.stdout).toContain(`re-driven ${withSecret} (mapper) to ${adChanges}/`);
    expect(run.stdout).toContain(`re-driven ${second} (mapper) to ${adChanges}/`);
    expect(run.stderr).toContain('2 of 4 could not be re-driven');
    expect(run.stderr).toContain(`${noValue}: the original record ${adChanges}/0/0 had no value`);
    expect(run.stderr).toContain(`${topicGone}: the original topic idsync.e2e.${s}.gone no longer exists`);

    const statuses = Object.fromEntries((await listJson(['--stage', 'mapper'])).map((l) => [l.id, l]));
    expect(statuses[withSecret]?.status).toBe('re-driven');
    expect(statuses[second]?.status).toBe('re-driven');
    expect(statuses[noValue]?.status).toBe('pending');
    expect(statuses[topicGone]?.status).toBe('pending');

    // The re-driven record is the original key and value, with the header naming the dead letter.
    const [, partition, offset] = (statuses[withSecret]?.redriven?.to ?? '').split('/');
    const record = await readOne(adChanges, Number(partition), offset ?? '0');
    expect(record.key).toBe(guid);
    expect(record.value.equals(encodeEntryChange(event))).toBe(true);
    expect(record.header).toBe(`${deadLetterTopic}/0/${base}`);

    // --all leaves out what was re-driven before.
    const rest = await cli(['dlq', 'redrive', '--all', '--stage', 'mapper', '--dry-run']);
    expect(rest.stdout).toContain('nothing would be re-driven');
    expect(rest.stdout).not.toContain(withSecret);
  });
});

/** One record of a topic, read with a throwaway group. */
async function readOne(topic: string, partition: number, offset: string): Promise<{ key: string; value: Buffer; header: string }> {
  const consumer = kafka.consumer({ groupId: `${(pipeline as Pipeline).clientId}-dlq-test-${Date.now()}`, maxWaitTimeInMs: READER_MAX_WAIT_MS });
  let found: { key: string; value: Buffer; header: string } | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition: p, message }) => {
        if (p !== partition || message.offset !== offset) return;
        found = { key: message.key?.toString('utf8') ?? '', value: message.value ?? Buffer.alloc(0), header: String(message.headers?.['idsync-redriven-from'] ?? '') };
      },
    });
    await eventually(
      `record ${topic}/${partition}/${offset}`,
      async () => found,
      (f) => f !== undefined,
      20_000,
      200,
    );
  } finally {
    await consumer.disconnect();
  }
  return found as { key: string; value: Buffer; header: string };
}
