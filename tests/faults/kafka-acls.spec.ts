import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Kafka } from 'kafkajs';
import { classifyKafkaFailure } from '@idsync/platform';
import { describeRun, idsync } from '../integration/cli/run-cli';
import { Pipeline } from '../integration/e2e/pipeline';
import { Scenario } from '../integration/support/scenario';
import { programKafka, stackKafka } from '../integration/support/kafka';
import { requireStackServers, stackConfig, uniqueSuffix } from '../integration/support/stack';

/**
 * The local stack's Kafka as a security review wants it: SASL_SSL, one SCRAM account per program, and only the ACLs
 * `idsync kafka-acls` computes (allow.everyone.if.no.acl.found=false). Each account tries what its program never
 * does — a detector or a writer forging write requests, a writer reading the other writer's operations topic, the
 * mapper moving a detector's checkpoint — and Kafka refuses it with nothing written. A service whose ACLs were
 * removed is refused at start and exits saying so; given its ACLs again (idsync kafka-acls --apply) it runs.
 */

const s = uniqueSuffix();
const scenario = new Scenario(120_000);
const step = scenario.step;
let pipeline: Pipeline;
let admin: Kafka;

type TopicKey = 'adChanges' | 'dsChanges' | 'adOperations' | 'dsOperations' | 'checkpoints' | 'links' | 'deadLetter';

beforeAll(async () => {
  await requireStackServers(stackConfig());
  // The writers create the run's topics at start; nothing else needs to run for the refusals.
  pipeline = await Pipeline.start(s, 90_000, { only: ['ad-writer', 'ds-writer'] });
  admin = stackKafka(`${pipeline.clientId}-acl-test-admin`);
}, 150_000);

afterAll(async () => {
  if (scenario.failed && pipeline) process.stderr.write(`kafka-acls ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
  await pipeline?.stop();
});

function topic(key: TopicKey): string {
  const name = pipeline.topics[key];
  if (name === undefined) throw new Error(`the run has no ${key} topic`);
  return name;
}

function asProgram(program: string): Kafka {
  return programKafka(program, `${pipeline.clientId}-acl-test-${program}`);
}

/** The sum of the end offsets of a topic's partitions: grows with every record written. */
async function endOffsets(name: string): Promise<number> {
  const client = admin.admin();
  await client.connect();
  try {
    return (await client.fetchTopicOffsets(name)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await client.disconnect();
  }
}

/** Writes one record to `name` as `kafka`; the error Kafka answered with, or null when it was written. */
async function tryWrite(kafka: Kafka, name: string): Promise<unknown> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  try {
    await producer.send({ topic: name, acks: -1, messages: [{ key: 'acl-probe', value: 'not a record any stage would accept' }] });
    return null;
  } catch (error) {
    return error;
  } finally {
    await producer.disconnect();
  }
}

/** Reads `name` from the beginning as `kafka` in `groupId`: 'read' once a fetch came back, else the consumer's crash. */
async function tryRead(kafka: Kafka, name: string, groupId: string): Promise<unknown> {
  const consumer = kafka.consumer({ groupId, retry: { retries: 0 }, maxWaitTimeInMs: 100 });
  let settle: (outcome: unknown) => void = () => undefined;
  const outcome = new Promise<unknown>((resolve) => (settle = resolve));
  consumer.on(consumer.events.FETCH, () => settle('read'));
  consumer.on(consumer.events.CRASH, ({ payload }) => settle(payload.error));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: name, fromBeginning: true });
    await consumer.run({ eachMessage: async () => undefined });
    return await Promise.race([outcome, new Promise((resolve) => setTimeout(() => resolve(new Error('neither a fetch nor a refusal within 30 s')), 30_000))]);
  } catch (error) {
    return error;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

const denied = (error: unknown): boolean => classifyKafkaFailure(error)?.kind === 'kafka-denied';

/**
 * The broker's authorizer log lines (kafka.authorizer.logger) denying `principal` on `resource` (e.g.
 * `Group:LITERAL:name`). kafkajs reports a group it was refused as "Failed to find group coordinator", without the
 * broker's answer: the broker's own log says what it refused.
 */
function brokerDenials(principal: string, resource: string): string[] {
  const log = join(process.env['IDSYNC_STACK_DIR'] ?? '/var/lib/idsync-stack', 'kafka', 'logs', 'server.log');
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.includes(`Principal = ${principal} is Denied`) && line.includes(`on resource = ${resource} `));
}

step("a detector's account cannot write a write request onto either operations topic, nor the other change topic", async () => {
  const detector = asProgram('ad-detector');
  for (const key of ['adOperations', 'dsOperations', 'dsChanges', 'links'] as const) {
    const before = await endOffsets(topic(key));
    const error = await tryWrite(detector, topic(key));
    expect({ key, denied: denied(error) }).toEqual({ key, denied: true });
    expect(await endOffsets(topic(key))).toBe(before);
  }
  // Its own change topic it may write (the account works; only the ACLs say no above).
  expect(await tryWrite(detector, topic('adChanges'))).toBeNull();
});

step("a writer's account cannot forge requests for either writer, nor change events", async () => {
  const writer = asProgram('ad-writer');
  for (const key of ['adOperations', 'dsOperations', 'adChanges', 'dsChanges'] as const) {
    const before = await endOffsets(topic(key));
    const error = await tryWrite(writer, topic(key));
    expect({ key, denied: denied(error) }).toEqual({ key, denied: true });
    expect(await endOffsets(topic(key))).toBe(before);
  }
  expect(await tryWrite(writer, topic('links'))).toBeNull();
});

step('each writer reads only its own operations topic', async () => {
  const group = (writer: string): string => `${pipeline.clientId}-${writer}-acl-probe-${s}`;
  expect(denied(await tryRead(asProgram('ad-writer'), topic('dsOperations'), group('ad-writer')))).toBe(true);
  expect(denied(await tryRead(asProgram('ds-writer'), topic('adOperations'), group('ds-writer')))).toBe(true);
  expect(await tryRead(asProgram('ad-writer'), topic('adOperations'), group('ad-writer'))).toBe('read');
});

step("the mapper's account reads changes and writes operations, but cannot move a checkpoint or write links", async () => {
  const mapper = asProgram('mapper');
  for (const key of ['checkpoints', 'links', 'adChanges'] as const) {
    const before = await endOffsets(topic(key));
    expect({ key, denied: denied(await tryWrite(mapper, topic(key))) }).toEqual({ key, denied: true });
    expect(await endOffsets(topic(key))).toBe(before);
  }
  // Another program's consumer group is not the mapper's to join (it could commit the writer's offsets).
  const writerGroup = `${pipeline.clientId}-ad-writer`;
  const refused = await tryRead(mapper, topic('adChanges'), writerGroup);
  expect(refused).toBeInstanceOf(Error);
  expect(brokerDenials('User:idsync-mapper', `Group:LITERAL:${writerGroup}`)).not.toEqual([]);
  expect(await tryRead(mapper, topic('adChanges'), `${pipeline.clientId}-mapper`)).toBe('read');
});

step('a wrong password is refused: idsync status exits 1 saying Kafka refused the account', async () => {
  const run = await idsync(['status'], { configFile: pipeline.configFile, env: { KAFKA_CLI_PASSWORD: 'not-the-password' }, timeoutMs: 60_000 });
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/refused this account/);
  expect(run.stderr).not.toContain('not-the-password');
});

step(
  'the mapper without its ACLs is refused at start and exits non-zero, naming the refusal; with them again it runs',
  async () => {
    const removed = await idsync(['kafka-acls', '--remove', '--program', 'mapper'], { configFile: pipeline.configFile });
    expect({ code: removed.code, out: removed.stdout }).toEqual({ code: 0, out: expect.stringMatching(/^removed \d+ ACLs for User:idsync-mapper\n$/) });
    await expect(pipeline.startService('mapper', 60_000)).rejects.toThrow(/mapper exited with (status 1|signal SIGTERM) while starting/);
    const log = readFileSync(join(pipeline.dir, 'mapper.log'), 'utf8');
    expect(log).toMatch(/"msg":"mapper.fatal".*kafka-denied/);
    await pipeline.stopService('mapper');

    const applied = await idsync(['kafka-acls', '--apply', '--program', 'mapper'], { configFile: pipeline.configFile });
    expect(applied.code).toBe(0);
    await pipeline.startService('mapper', 90_000);
    expect(pipeline.isRunning('mapper')).toBe(true);
  },
  240_000,
);

step("idsync kafka-acls prints each program's ACLs: a writer reads its own operations topic only", async () => {
  const run = await idsync(['kafka-acls', '--program', 'ad-writer', '--json'], { configFile: pipeline.configFile });
  expect(run.code).toBe(0);
  const acls = JSON.parse(run.stdout) as { principal: string; resource: string; name: string; operation: string }[];
  const reads = acls.filter((acl) => acl.resource === 'topic' && acl.operation === 'read').map((acl) => acl.name);
  expect(reads).toContain(topic('adOperations'));
  expect(reads).not.toContain(topic('dsOperations'));
  expect(new Set(acls.map((acl) => acl.principal))).toEqual(new Set(['User:idsync-ad-writer']));
  expect(describeRun(run)).not.toMatch(/PASSWORD|password/);
});
