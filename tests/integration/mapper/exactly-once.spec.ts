import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { decodeDeadLetter } from '@idsync/contracts';
import {
  DEFAULT_MAX_RECORD_BYTES,
  DONE,
  deadLetter,
  ExactlyOnceOutput,
  type KafkaClient,
  Metrics,
  RecordLimits,
  runRecordLoop,
  type LoopRecord,
  type RecordLoop,
  type RecordLoopOptions,
} from '@idsync/platform';
import { uniqueSuffix } from '../support/stack';
import { eventually, produce, readAll, stackKafka, testLogger, TestTopics } from './kafka-support';

class DirectoryBusyError extends Error {
  readonly retriable = true;
}

jest.setTimeout(120_000);

/**
 * The consumer loop in exactly-once mode (the mapper's) against the real Kafka: a chunk's output, dead letters and input
 * offset commit in one transaction; what a failed or fenced attempt produced is never seen by read-committed readers.
 */
describe('runRecordLoop exactly-once against the real Kafka', () => {
  let kafka: Kafka;
  let client: KafkaClient;
  let topics: TestTopics;
  const loops: RecordLoop[] = [];

  beforeAll(async () => {
    ({ client, kafkajs: kafka } = await stackKafka());
    topics = new TestTopics(kafka);
  });

  afterEach(async () => {
    await Promise.all(loops.splice(0).map((loop) => loop.stop()));
  });

  afterAll(async () => {
    await topics.deleteAll();
  });

  const text = (record: LoopRecord): string => record.value?.toString() ?? '';
  const values = (records: readonly { value: Buffer | null }[]): string[] => records.map((r) => r.value?.toString() ?? '');

  async function start(overrides: Partial<RecordLoopOptions> & Pick<RecordLoopOptions, 'handleBatch' | 'topics' | 'groupId' | 'deadLetterTopic'>): Promise<RecordLoop> {
    const { logger } = testLogger();
    const loop = await runRecordLoop({
      kafka: client,
      stage: 'test-stage',
      logger,
      metrics: new Metrics(),
      backoff: { initialMs: 50, maxMs: 400, factor: 2 },
      exactlyOnce: true,
      ...overrides,
    });
    loops.push(loop);
    return loop;
  }

  /** A handler that produces `out-<value>` for each record to `output`, through the chunk's transaction. */
  const echo = (output: string, seen: string[], failFirst = 0): RecordLoopOptions['handleBatch'] => {
    let calls = 0;
    return async (records, context) => {
      seen.push(...records.map(text));
      await context.output.send([{ topic: output, messages: records.map((r) => ({ key: r.key, value: Buffer.from(`out-${text(r)}`) })) }]);
      calls += 1;
      // Fails after producing: the output of this attempt must be discarded with its transaction.
      if (calls <= failFirst) throw new DirectoryBusyError('destination busy after the output was produced');
      return records.map((r) => (text(r).startsWith('bad') ? deadLetter('cannot be mapped') : DONE));
    };
  };

  it('a call that failed after producing leaves nothing visible; the retry produces each output once, with its dead letters', async () => {
    const input = await topics.create('eo-in');
    const output = await topics.create('eo-out');
    const dlt = await topics.create('eo-dlt');
    const groupId = `idsync-test-eo-${uniqueSuffix()}`;
    await produce(
      kafka,
      input,
      ['a', 'bad-b', 'c'].map((value) => ({ key: `k-${value}`, value })),
    );

    const seen: string[] = [];
    await start({ topics: [input], groupId, deadLetterTopic: dlt, handleBatch: echo(output, seen, 2) });
    await eventually('three attempts', () => seen.length >= 9);

    const committed = await readAll(kafka, output, 3, 30_000, { settleMs: 1_500 });
    expect(values(committed)).toEqual(['out-a', 'out-bad-b', 'out-c']);
    // The two failed attempts' records are in the log, aborted: only a read-uncommitted reader sees them.
    const everything = await readAll(kafka, output, 9, 30_000, { readUncommitted: true, settleMs: 500 });
    expect(values(everything)).toHaveLength(9);
    const letters = await readAll(kafka, dlt, 1, 30_000, { settleMs: 1_000 });
    expect(letters.map((l) => decodeDeadLetter(l.value).reason)).toEqual(['cannot be mapped']);
  });

  /** A handler that produces, per record, a value of the size the record's value names (`<bytes>`). */
  const sized =
    (output: string, seen: string[]): RecordLoopOptions['handleBatch'] =>
    async (records, context) => {
      seen.push(...records.map(text));
      await context.output.send([{ topic: output, messages: records.map((r) => ({ key: r.key, value: Buffer.alloc(Number(text(r)), 120) })) }]);
      return records.map(() => DONE);
    };

  it.each([
    ['the limit the topic had at start (our own check)', 'before'],
    ['a limit the broker lowered after the start (the broker refuses)', 'after'],
  ])('a record over %s is dead-lettered alone, with the reason; the others are produced once', async (_what, when) => {
    const input = await topics.create('eo-size-in');
    const output = await topics.create('eo-size-out', 1, when === 'before' ? [{ name: 'max.message.bytes', value: '20000' }] : []);
    const dlt = await topics.create('eo-size-dlt');
    const groupId = `idsync-test-eo-${uniqueSuffix()}`;
    const seen: string[] = [];
    if (when === 'after') {
      await start({ topics: [input], groupId, deadLetterTopic: dlt, outputTopics: [output], handleBatch: sized(output, seen) });
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: output, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
      } finally {
        await admin.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // the broker applies the topic's new configuration
    }
    await produce(
      kafka,
      input,
      ['100', '200', '50000', '300', '400'].map((value) => ({ key: `k-${value}`, value })),
    );
    if (when === 'before') await start({ topics: [input], groupId, deadLetterTopic: dlt, outputTopics: [output], handleBatch: sized(output, seen) });

    const letters = await readAll(kafka, dlt, 1, 60_000, { settleMs: 1_000 });
    expect(letters).toHaveLength(1);
    const letter = decodeDeadLetter(letters[0]?.value ?? null);
    expect(letter).toMatchObject({ stage: 'test-stage', topic: input, offset: '2', value: Buffer.from('50000') });
    expect(letter.reason).toMatch(when === 'before' ? /a record of 500\d\d bytes for .* is over the limit of 19920 bytes/ : /MESSAGE_TOO_LARGE|larger than the max message size/i);
    const produced = await readAll(kafka, output, 4, 30_000, { settleMs: 1_500 });
    expect(produced.map((r) => r.value?.length)).toEqual([100, 200, 300, 400]);
  });

  it('a chunk that produces nothing commits its offset without a transaction; mixed with transactional ones, the offset never goes back', async () => {
    const input = await topics.create('eo-none-in');
    const output = await topics.create('eo-none-out');
    const dlt = await topics.create('eo-none-dlt');
    const groupId = `idsync-test-eo-${uniqueSuffix()}`;
    // One record per call: out-a and out-b in transactions, the drops (echoes, for the mapper) through the consumer;
    // the last commit is a plain one right after a transaction's, whose markers the broker may still be writing.
    await produce(
      kafka,
      input,
      ['a', 'drop-1', 'drop-2', 'b', 'drop-3'].map((value) => ({ key: `k-${value}`, value })),
    );
    const seen: string[] = [];
    const outputOrNothing =
      (into: string[]): RecordLoopOptions['handleBatch'] =>
      async (records, context) => {
        into.push(...records.map(text));
        const kept = records.filter((r) => !text(r).startsWith('drop'));
        await context.output.send([{ topic: output, messages: kept.map((r) => ({ key: r.key, value: Buffer.from(`out-${text(r)}`) })) }]);
        return records.map(() => DONE);
      };
    const metrics = new Metrics();
    const loop = await start({ topics: [input], groupId, deadLetterTopic: dlt, metrics, maxRecordsPerCall: 1, handleBatch: outputOrNothing(seen) });
    await eventually('five calls', () => seen.length >= 5);
    const commits = async (by: string): Promise<number> => metrics.value('idsync_consumer_commits_total', { topic: input, by });
    const committedOffset = async (): Promise<string | undefined> => {
      const admin = client.admin();
      await admin.connect();
      try {
        const [offsets] = await admin.committedOffsets(groupId, [input]);
        return offsets?.partitions.find((p) => p.partition === 0)?.offset?.toString();
      } finally {
        await admin.disconnect();
      }
    };
    for (let waited = 0; (await commits('consumer')) + (await commits('transaction')) < 5 && waited < 20_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    expect({ transaction: await commits('transaction'), consumer: await commits('consumer') }).toEqual({ transaction: 2, consumer: 3 });
    await loop.stop();
    loops.splice(loops.indexOf(loop), 1);
    // Once the last transaction's markers are written, the broker still holds the later plain commit.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await committedOffset()).toBe('5');

    // A new instance of the group goes on after the last record: nothing is handled or produced twice.
    await produce(kafka, input, [{ key: 'k-c', value: 'c' }]);
    const seenAfter: string[] = [];
    await start({ topics: [input], groupId, deadLetterTopic: dlt, maxRecordsPerCall: 1, handleBatch: outputOrNothing(seenAfter) });
    await eventually('the new record', () => seenAfter.length >= 1);
    const produced = await readAll(kafka, output, 3, 30_000, { settleMs: 1_500 });
    expect(values(produced)).toEqual(['out-a', 'out-b', 'out-c']);
    expect(seenAfter).toEqual(['c']);
  });

  it('an earlier owner of the partition is fenced: its open transaction is aborted and its commit refused, the new owner does the records once', async () => {
    const input = await topics.create('eo-fence-in');
    const output = await topics.create('eo-fence-out');
    const dlt = await topics.create('eo-fence-dlt');
    const groupId = `idsync-test-eo-${uniqueSuffix()}`;
    await produce(
      kafka,
      input,
      ['a', 'b', 'c'].map((value) => ({ key: `k-${value}`, value })),
    );

    // The earlier owner: claimed the partition, produced its output, and has not committed yet (paused, cut off...).
    const earlier = new ExactlyOnceOutput({ kafka: client, groupId });
    await earlier.start(new RecordLimits(DEFAULT_MAX_RECORD_BYTES));
    try {
      await earlier.claim(input, 0);
      const chunk = await earlier.begin(input, 0);
      await chunk.sink.send([{ topic: output, messages: [{ key: 'k-a', value: Buffer.from('zombie-a') }] }]);

      const seen: string[] = [];
      await start({ topics: [input], groupId, deadLetterTopic: dlt, handleBatch: echo(output, seen) });
      await eventually('the new owner to handle the records', () => seen.length >= 3);
      await expect(chunk.commit('3')).rejects.toThrow();

      const committed = await readAll(kafka, output, 3, 30_000, { settleMs: 1_500 });
      expect(values(committed)).toEqual(['out-a', 'out-b', 'out-c']);
      expect(seen).toEqual(['a', 'b', 'c']);
    } finally {
      await earlier.close();
    }
  });

  it('records an earlier owner committed are skipped when the partition is claimed again', async () => {
    const input = await topics.create('eo-skip-in');
    const output = await topics.create('eo-skip-out');
    const dlt = await topics.create('eo-skip-dlt');
    const groupId = `idsync-test-eo-${uniqueSuffix()}`;
    await produce(
      kafka,
      input,
      ['a', 'b', 'c'].map((value) => ({ key: `k-${value}`, value })),
    );

    // The earlier owner did a and b, and committed them with their output.
    const earlier = new ExactlyOnceOutput({ kafka: client, groupId });
    await earlier.start(new RecordLimits(DEFAULT_MAX_RECORD_BYTES));
    try {
      expect(await earlier.claim(input, 0)).toBeUndefined();
      const chunk = await earlier.begin(input, 0);
      await chunk.sink.send([{ topic: output, messages: ['a', 'b'].map((v) => ({ key: `k-${v}`, value: Buffer.from(`out-${v}`) })) }]);
      await chunk.commit('2');
    } finally {
      await earlier.close();
    }
    const seen: string[] = [];
    await start({ topics: [input], groupId, deadLetterTopic: dlt, handleBatch: echo(output, seen) });
    await eventually('the new owner to handle what is left', () => seen.length >= 1);
    const committed = await readAll(kafka, output, 3, 30_000, { settleMs: 1_500 });
    expect(values(committed)).toEqual(['out-a', 'out-b', 'out-c']);
    expect(seen).toEqual(['c']);
  });
});
