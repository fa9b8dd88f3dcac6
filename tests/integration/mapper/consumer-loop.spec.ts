import { type Kafka } from 'kafkajs';
import { decodeDeadLetter } from '@idsync/contracts';
import { DONE, deadLetter, type KafkaClient, Metrics, runRecordLoop, type LoopRecord, type RecordLoop, type RecordLoopOptions, type RecordOutcome } from '@idsync/platform';
import { uniqueSuffix } from '../support/stack';
import { eventually, gate, produce, readAll, recordCount, stackKafka, testLogger, TestTopics } from './kafka-support';

class DirectoryBusyError extends Error {
  readonly retriable = true;
}

jest.setTimeout(120_000);

describe('runRecordLoop against the real Kafka', () => {
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

  async function start(
    overrides: Partial<RecordLoopOptions> & Pick<RecordLoopOptions, 'handleBatch' | 'topics' | 'groupId' | 'deadLetterTopic'>,
  ): Promise<{ loop: RecordLoop; metrics: Metrics; lines: Record<string, unknown>[] }> {
    const metrics = new Metrics();
    const { logger, lines } = testLogger();
    const loop = await runRecordLoop({
      kafka: client,
      stage: 'test-stage',
      logger,
      metrics,
      backoff: { initialMs: 50, maxMs: 400, factor: 2 },
      partitionsConsumedConcurrently: 2,
      ...overrides,
    });
    loops.push(loop);
    return { loop, metrics, lines };
  }

  it('commits only after the handler resolves: records in hand when a consumer goes away come again to the next one', async () => {
    const topic = await topics.create('loop-commit');
    const dlt = await topics.create('loop-commit-dlt');
    const groupId = `idsync-test-loop-${uniqueSuffix()}`;
    await produce(
      kafka,
      topic,
      ['a', 'b', 'c'].map((value) => ({ key: `k-${value}`, value })),
    );

    // First consumer: takes the records, then loses its destination before it is done (a retriable failure), and stops.
    const inHand: string[] = [];
    const release = gate<never>();
    const first = await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) => {
        inHand.push(...records.map(text));
        return release.promise;
      },
    });
    await eventually('the first consumer to hold the records', () => inHand.length === 3);
    const stopped = first.loop.stop();
    release.reject(new DirectoryBusyError('connection lost'));
    await stopped;

    // Second consumer in the same group: the same records, and this time it finishes.
    const second: string[] = [];
    const secondLoop = await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) => {
        second.push(...records.map(text));
        return records.map(() => DONE);
      },
    });
    await eventually('the second consumer to handle the records', () => second.length >= 3);
    await secondLoop.loop.stop();
    expect(second).toEqual(['a', 'b', 'c']);

    // Third consumer: only what came after; the handled records were committed.
    await produce(kafka, topic, [{ key: 'k-d', value: 'd' }]);
    const third: string[] = [];
    await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) => {
        third.push(...records.map(text));
        return records.map(() => DONE);
      },
    });
    await eventually('the third consumer to handle the new record', () => third.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(third).toEqual(['d']);
    expect(await recordCount(kafka, dlt)).toBe(0);
  });

  it('stops on a programming error without committing or dead-lettering, and reports it', async () => {
    const topic = await topics.create('loop-bug');
    const dlt = await topics.create('loop-bug-dlt');
    const groupId = `idsync-test-loop-${uniqueSuffix()}`;
    await produce(kafka, topic, [{ key: 'k-a', value: 'a' }]);

    const fatal = gate<Error>();
    await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      onFatal: (error) => fatal.resolve(error),
      handleBatch: async (records) => {
        // A bug: an event field read from something that is not there.
        const event = JSON.parse('null') as { dn: string };
        return records.map(() => ({ kind: 'done', length: event.dn.length }) as RecordOutcome);
      },
    });
    const error = await fatal.promise;
    expect(error.name).toBe('RecordLoopStoppedError');
    expect(error.message).toMatch(new RegExp(`stopped at ${topic.replace(/\./g, '\\.')}\\[0\\]@0: .*TypeError`));

    const again: string[] = [];
    await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) => {
        again.push(...records.map(text));
        return records.map(() => DONE);
      },
    });
    await eventually('the record to be delivered again', () => again.length >= 1);
    expect(again).toEqual(['a']);
    expect(await recordCount(kafka, dlt)).toBe(0);
  });

  it('dead-letters a record with its reason and goes on', async () => {
    const topic = await topics.create('loop-dlt');
    const dlt = await topics.create('loop-dlt-dlt');
    const groupId = `idsync-test-loop-${uniqueSuffix()}`;
    await produce(kafka, topic, [
      { key: 'k-1', value: 'good 1' },
      { key: 'k-2', value: 'bad 2' },
      { key: 'k-3', value: 'good 3' },
    ]);

    const handled: string[] = [];
    const { metrics, lines } = await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) =>
        records.map((record) => {
          handled.push(text(record));
          return text(record).startsWith('bad') ? deadLetter('no DN map matched the entry') : DONE;
        }),
    });
    await eventually('three records handled', () => handled.length >= 3);
    // The loop goes on with records that arrive later.
    await produce(kafka, topic, [{ key: 'k-4', value: 'good 4' }]);
    await eventually('the later record handled', () => handled.includes('good 4'));

    const [letter, ...more] = await readAll(kafka, dlt, 1);
    expect(more).toEqual([]);
    expect(letter?.key?.toString()).toBe('k-2');
    const decoded = decodeDeadLetter(letter?.value ?? null);
    expect(decoded).toEqual({
      stage: 'test-stage',
      reason: 'no DN map matched the entry',
      topic,
      partition: 0,
      offset: '1',
      key: Buffer.from('k-2'),
      value: Buffer.from('bad 2'),
      failedAt: expect.any(Number),
    });
    expect(await metrics.value('idsync_consumer_records_total', { topic, outcome: 'dead-letter' })).toBe(1);
    expect(await metrics.value('idsync_consumer_dead_letters_total', { topic, reason: 'unclassified' })).toBe(1);
    expect(await metrics.value('idsync_consumer_records_total', { topic, outcome: 'done' })).toBe(3);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'test-stage.dead-letter', offset: '1', reason: 'no DN map matched the entry' }));
  });

  it('dead-letters the records of a call that failed with a non-retriable error, with the error as the reason', async () => {
    const topic = await topics.create('loop-throw');
    const dlt = await topics.create('loop-throw-dlt');
    await produce(kafka, topic, [{ key: 'k-1', value: 'x' }]);
    class UnmappableError extends Error {
      readonly retriable = false;
      override readonly name = 'UnmappableError';
    }
    await start({
      topics: [topic],
      groupId: `idsync-test-loop-${uniqueSuffix()}`,
      deadLetterTopic: dlt,
      handleBatch: async () => {
        throw new UnmappableError('template {givenName} {sn} needs sn');
      },
    });
    const [letter] = await readAll(kafka, dlt, 1);
    expect(decodeDeadLetter(letter?.value ?? null).reason).toBe('UnmappableError: template {givenName} {sn} needs sn');
  });

  it('retries a retriable failure and then succeeds without dead-lettering', async () => {
    const topic = await topics.create('loop-retry');
    const dlt = await topics.create('loop-retry-dlt');
    const groupId = `idsync-test-loop-${uniqueSuffix()}`;
    await produce(kafka, topic, [{ key: 'k-1', value: 'one' }]);

    const attempts: string[][] = [];
    const { loop, metrics } = await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) => {
        attempts.push(records.map(text));
        if (attempts.length <= 2) throw new DirectoryBusyError('server busy (51)');
        return records.map(() => DONE);
      },
    });
    await eventually('three attempts', () => attempts.length >= 3);
    await loop.stop();
    expect(attempts).toEqual([['one'], ['one'], ['one']]);
    expect(await metrics.value('idsync_consumer_retries_total', { topic })).toBe(2);
    expect(await recordCount(kafka, dlt)).toBe(0);

    // Committed after the success: the group does not get it again.
    await produce(kafka, topic, [{ key: 'k-2', value: 'two' }]);
    const later: string[] = [];
    await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      handleBatch: async (records) => {
        later.push(...records.map(text));
        return records.map(() => DONE);
      },
    });
    await eventually('the next record', () => later.length >= 1);
    expect(later).toEqual(['two']);
  });

  it('a blocked partition does not stop the others', async () => {
    const topic = await topics.create('loop-blocked', 2);
    const dlt = await topics.create('loop-blocked-dlt');
    const groupId = `idsync-test-loop-${uniqueSuffix()}`;
    await produce(kafka, topic, [
      { partition: 0, key: 'p0', value: 'p0-1' },
      { partition: 1, key: 'p1', value: 'p1-1' },
    ]);

    let blocked = true;
    let failures = 0;
    const handled: string[] = [];
    await start({
      topics: [topic],
      groupId,
      deadLetterTopic: dlt,
      backoff: { initialMs: 100, maxMs: 200, factor: 2 },
      handleBatch: async (records) => {
        if (records[0]?.partition === 0 && blocked) {
          failures++;
          throw new DirectoryBusyError('destination unavailable');
        }
        handled.push(...records.map(text));
        return records.map(() => DONE);
      },
    });
    await eventually('partition 1 handled while partition 0 fails', () => handled.includes('p1-1') && failures >= 2);

    // Later records of partition 1, while partition 0 still fails, in several rounds.
    for (const n of [2, 3, 4]) {
      await produce(kafka, topic, [{ partition: 1, key: 'p1', value: `p1-${n}` }]);
      await eventually(`p1-${n} handled while partition 0 is blocked`, () => handled.includes(`p1-${n}`), 10_000);
    }
    expect(handled.some((value) => value.startsWith('p0'))).toBe(false);

    blocked = false;
    await eventually('partition 0 handled once unblocked', () => handled.includes('p0-1'));
    expect(handled.filter((value) => value.startsWith('p1'))).toEqual(['p1-1', 'p1-2', 'p1-3', 'p1-4']);
    expect(await recordCount(kafka, dlt)).toBe(0);
  });
  describe('a long batch of one partition and records arriving in another', () => {
    /** 150 records in partition 0 (20 ms each), then one in partition 1 once partition 0 is being handled. */
    async function run(fetchTurnover: RecordLoopOptions['fetchTurnover']): Promise<{ p0: string[]; p0DoneBeforeP1: number }> {
      const topic = await topics.create('loop-turnover', 2);
      const dlt = await topics.create('loop-turnover-dlt');
      const groupId = `idsync-test-loop-${uniqueSuffix()}`;
      await produce(
        kafka,
        topic,
        Array.from({ length: 150 }, (_, i) => ({ partition: 0, key: 'p0', value: `p0-${i}` })),
      );
      const p0: string[] = [];
      let p0DoneBeforeP1 = -1;
      await start({
        topics: [topic],
        groupId,
        deadLetterTopic: dlt,
        ...(fetchTurnover ? { fetchTurnover } : {}),
        handleBatch: async (records, context) => {
          if (records[0]?.partition === 1) p0DoneBeforeP1 = p0.length;
          for (const record of records) {
            if (record.partition === 0) {
              await new Promise((resolve) => setTimeout(resolve, 20));
              p0.push(text(record));
            }
            context.progress();
          }
          return records.map(() => DONE);
        },
      });
      await eventually('partition 0 being handled', () => p0.length > 0);
      await produce(kafka, topic, [{ partition: 1, key: 'p1', value: 'p1-0' }]);
      await eventually('every record handled', () => p0.length === 150 && p0DoneBeforeP1 >= 0, 30_000);
      return { p0, p0DoneBeforeP1 };
    }

    it('without fetch turnover, the new record waits for the whole batch (kafkajs fetches again only after it)', async () => {
      const { p0DoneBeforeP1 } = await run(undefined);
      expect(p0DoneBeforeP1).toBe(150);
    });

    it("with fetch turnover, it is handled while the batch goes on, and the batch's records come once each, in order", async () => {
      const { p0, p0DoneBeforeP1 } = await run({ afterMs: 100, records: 10 });
      expect(p0DoneBeforeP1).toBeLessThan(100);
      expect(p0).toEqual(Array.from({ length: 150 }, (_, i) => `p0-${i}`));
    });
  });
});
