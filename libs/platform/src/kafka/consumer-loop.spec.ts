import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, type EachBatchPayload, type Kafka } from 'kafkajs';
import { UndecodableRecordError } from '@idsync/contracts';
import {
  classifyFailure,
  DONE,
  isMembershipLost,
  RecordLoopCrashedError,
  RecordLoopStalledError,
  runRecordLoop,
  type BatchContext,
  type FailureAction,
  type LoopRecord,
  type RecordLoopFatalError,
  type RecordLoopOptions,
  type RecordOutcome,
} from './consumer-loop';
import { JsonLogger } from '../logger';
import { judgeLoop } from '../loop-health';
import { Metrics } from '../metrics';
import { SecretRedactor } from '../redact';
import { KafkaClient } from './client';

class DirectoryBusy extends Error {
  readonly retriable = true;
}
class Unmappable extends Error {
  readonly retriable = false;
}

describe('classifyFailure: what the loop does with an error the handler threw', () => {
  const rows: [string, FailureAction, unknown][] = [
    ['a Kafka connection error', 'retry', new KafkaJSConnectionError('Connection error: ECONNREFUSED')],
    ['Kafka retries exhausted (marked not retriable by kafkajs: still an outage)', 'retry', new KafkaJSNumberOfRetriesExceeded(new Error('timeout'), { retryCount: 5, retryTime: 100 })],
    ['another Kafka client error', 'retry', new KafkaJSNonRetriableError('not the leader')],
    ['an error that says a retry helps', 'retry', new DirectoryBusy('server busy')],
    ['an error that says a retry does not help', 'dead-letter', new Unmappable('no DN map matched')],
    ['an undecodable record', 'dead-letter', new UndecodableRecordError('entry-change', 'magic-byte', 'first byte is 0x7b')],
    ['a TypeError (a bug)', 'stop', new TypeError("Cannot read properties of undefined (reading 'dn')")],
    ['a RangeError (a bug)', 'stop', new RangeError('Invalid array length')],
    ['a plain Error without retriable (unknown: treated as a bug)', 'stop', new Error('unexpected')],
    ['something thrown that is not an Error', 'stop', 'oops'],
  ];
  it.each(rows)('%s -> %s', (_what, action, error) => {
    expect(classifyFailure(error)).toBe(action);
  });
});

const protocolError = (type: string): KafkaJSProtocolError => new KafkaJSProtocolError(Object.assign(new Error(`The coordinator says ${type}`), { type, code: 0, retriable: false }));

describe('isMembershipLost: a heartbeat error saying the group took the partitions away', () => {
  const rows: [string, boolean, unknown][] = [
    ['a rebalance in progress', true, protocolError('REBALANCE_IN_PROGRESS')],
    ['an older generation', true, protocolError('ILLEGAL_GENERATION')],
    ['a member the coordinator forgot (session timeout)', true, protocolError('UNKNOWN_MEMBER_ID')],
    ['a coordinator that moved', true, protocolError('NOT_COORDINATOR_FOR_GROUP')],
    ['a rebalance as the cause of another error', true, new Error('heartbeat failed', { cause: protocolError('REBALANCE_IN_PROGRESS') })],
    ['a broker away', false, new KafkaJSConnectionError('Connection error: ECONNREFUSED')],
    ['another protocol error', false, protocolError('REQUEST_TIMED_OUT')],
    ['not an error', false, 'REBALANCE_IN_PROGRESS'],
  ];
  it.each(rows)('%s -> %s', (_what, lost, error) => {
    expect(isMembershipLost(error)).toBe(lost);
  });
});

/**
 * The loop against a stand-in consumer (no Kafka): the test plays kafkajs, emitting its instrumentation events and
 * calling eachBatch, with a fake clock.
 */
describe('the loop watching its handler calls and its consumer', () => {
  type Listener = (event: { payload: unknown }) => void;
  const EVENTS = {
    GROUP_JOIN: 'consumer.group_join',
    HEARTBEAT: 'consumer.heartbeat',
    FETCH_START: 'consumer.fetch_start',
    REBALANCING: 'consumer.rebalancing',
    CRASH: 'consumer.crash',
  } as const;

  class FakeConsumer {
    readonly events = EVENTS;
    readonly listeners = new Map<string, Listener[]>();
    eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
    disconnects = 0;
    /** A disconnect waits for the batches in hand; with a hung handler it never returns. */
    disconnectHangs = false;
    on(name: string, listener: Listener): () => void {
      this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
      return () => undefined;
    }
    emit(name: string, payload: unknown): void {
      for (const listener of this.listeners.get(name) ?? []) listener({ payload });
    }
    async connect(): Promise<void> {}
    async subscribe(): Promise<void> {}
    async run(config: { eachBatch: (payload: EachBatchPayload) => Promise<void> }): Promise<void> {
      this.eachBatch = config.eachBatch;
      this.emit(EVENTS.GROUP_JOIN, { groupId: 'g', memberId: 'member-1', memberAssignment: { t: [0, 1] } });
    }
    disconnect(): Promise<void> {
      this.disconnects++;
      return this.disconnectHangs ? new Promise(() => undefined) : Promise.resolve();
    }
  }

  interface Batch {
    readonly payload: EachBatchPayload;
    readonly heartbeat: jest.Mock<Promise<void>, []>;
    readonly commit: jest.Mock<Promise<void>, [unknown]>;
    readonly pause: jest.Mock<() => void, []>;
  }

  function batch(partition: number, offsets: string[]): Batch {
    const heartbeat = jest.fn<Promise<void>, []>(async () => undefined);
    const commit = jest.fn<Promise<void>, [unknown]>(async () => undefined);
    const pause = jest.fn<() => void, []>(() => () => undefined);
    const payload = {
      batch: { topic: 't', partition, messages: offsets.map((offset) => ({ offset, key: Buffer.from(`key-${offset}`), value: Buffer.from('secret value'), headers: {} })) },
      isRunning: () => true,
      isStale: () => false,
      heartbeat,
      pause,
      resolveOffset: () => undefined,
      commitOffsetsIfNecessary: commit,
    } as unknown as EachBatchPayload;
    return { payload, heartbeat, commit, pause };
  }

  async function start(handleBatch: RecordLoopOptions['handleBatch'], overrides: Partial<RecordLoopOptions> = {}) {
    const consumer = new FakeConsumer();
    const admin = { connect: async () => undefined, disconnect: async () => undefined, describeConfigs: async () => ({ resources: [] }) };
    const producer = { send: jest.fn(async () => []), sendBatch: jest.fn(async () => []), connect: async () => undefined, disconnect: async () => undefined };
    const kafka = KafkaClient.wrap({ consumer: () => consumer, admin: () => admin, producer: () => producer } as unknown as Kafka);
    const lines: Record<string, unknown>[] = [];
    const logger = new JsonLogger('test', 'debug', new SecretRedactor([]), (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const fatal: RecordLoopFatalError[] = [];
    const loop = await runRecordLoop({
      kafka,
      groupId: 'g',
      topics: ['t'],
      stage: 'test-stage',
      deadLetterTopic: 'dlt',
      logger,
      metrics: new Metrics(),
      deadLetterProducer: kafka.producer(),
      onFatal: (error) => fatal.push(error),
      handleBatch,
      ...overrides,
    });
    const consume = (b: Batch): Promise<void> => (consumer.eachBatch as (payload: EachBatchPayload) => Promise<void>)(b.payload);
    const logged = (msg: string) => lines.filter((line) => line['msg'] === msg);
    return { loop, consumer, lines, logged, fatal, consume };
  }

  const gate = <T>() => {
    let open: (value: T) => void = () => undefined;
    const promise = new Promise<T>((resolve) => {
      open = resolve;
    });
    return { promise, open };
  };
  const done = (records: readonly LoopRecord[]): RecordOutcome[] => records.map(() => DONE);

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('joins its group: consuming, with member and assignment, logged with the partition count', async () => {
    const { loop, logged } = await start(async (records) => done(records));
    expect(loop.status()).toMatchObject({ state: 'consuming', groupId: 'g', memberId: 'member-1', assignment: { t: [0, 1] } });
    expect(logged('test-stage.joined')).toEqual([expect.objectContaining({ level: 'info', groupId: 'g', memberId: 'member-1', partitions: 2 })]);
  });

  it('heartbeats every second while a handler call runs, and stops when it returned', async () => {
    const release = gate<undefined>();
    const { consume, loop } = await start(async (records) => {
      await release.promise;
      return done(records);
    });
    const b = batch(0, ['5', '6']);
    const consumed = consume(b);
    await jest.advanceTimersByTimeAsync(3_500);
    expect(b.heartbeat).toHaveBeenCalledTimes(3);
    expect(loop.status().handlerStartedAt).toBe(Date.now() - 3_500);

    release.open(undefined);
    await consumed;
    expect(b.commit).toHaveBeenCalledWith({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '7' }] }] });
    const afterReturn = b.heartbeat.mock.calls.length;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(b.heartbeat).toHaveBeenCalledTimes(afterReturn);
    expect(loop.status().handlerStartedAt).toBeUndefined();
  });

  it('keeps a long call that shows progress in its group past stallAfterMs', async () => {
    const { consume, fatal, loop } = await start(
      async (records, context) => {
        for (let i = 0; i < 6; i++) {
          await new Promise((resolve) => setTimeout(resolve, 5_000));
          context.progress();
        }
        return done(records);
      },
      { stallAfterMs: 10_000 },
    );
    const b = batch(0, ['1']);
    const consumed = consume(b);
    await jest.advanceTimersByTimeAsync(30_000);
    await consumed;
    expect(fatal).toEqual([]);
    expect(b.commit).toHaveBeenCalledTimes(1);
    expect(b.heartbeat.mock.calls.length).toBeGreaterThanOrEqual(29);
    expect(loop.status().state).toBe('consuming');
  });

  it('gives up on a call without progress for stallAfterMs: logged, aborted, no more heartbeats, nothing committed, reported', async () => {
    let signal: AbortSignal | undefined;
    const { consume, consumer, fatal, loop, logged, lines } = await start(
      async (_records, context: BatchContext) => {
        signal = context.signal;
        return new Promise<never>(() => undefined); // a directory that never answers
      },
      { stallAfterMs: 10_000 },
    );
    consumer.disconnectHangs = true;
    const b = batch(2, ['40', '41']);
    void consume(b);
    await jest.advanceTimersByTimeAsync(9_000);
    expect(loop.status().state).toBe('consuming');
    expect(judgeLoop(loop.status(), Date.now())).toMatchObject({ ready: true, live: true });

    await jest.advanceTimersByTimeAsync(1_000);
    expect(logged('test-stage.stalled')).toEqual([expect.objectContaining({ level: 'error', topic: 't', partition: 2, offset: '40', runningMs: 10_000, idleMs: 10_000 })]);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(RecordLoopStalledError);
    const heartbeats = b.heartbeat.mock.calls.length;
    expect(heartbeats).toBe(9);

    // stop() does not wait for the hung call (disconnect would wait forever), then onFatal.
    await jest.advanceTimersByTimeAsync(1);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toBeInstanceOf(RecordLoopStalledError);
    expect(fatal[0]?.message).toBe('test-stage: stalled at t[2]@40: the handler made no progress for 10 s (running for 10 s); the records stay uncommitted');
    expect('retriable' in (fatal[0] as object)).toBe(false);
    expect(logged('test-stage.stop.abandoned')).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(60_000);
    expect(b.heartbeat).toHaveBeenCalledTimes(heartbeats);
    expect(b.commit).not.toHaveBeenCalled();
    expect(loop.status()).toMatchObject({ state: 'stalled', error: fatal[0]?.message });
    expect(judgeLoop(loop.status(), Date.now())).toMatchObject({ ready: false, live: false });
    // Positions only: never a record's key or value.
    expect(JSON.stringify(lines)).not.toMatch(/key-40|secret value/);
  });

  it('aborts a call whose heartbeat says the group rebalanced; what the call then throws is retried, not taken for a bug', async () => {
    const { consume, fatal, loop, logged } = await start(async (_records, context) => {
      await new Promise((_resolve, reject) => context.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
      return [];
    });
    const b = batch(1, ['9']);
    b.heartbeat.mockRejectedValue(protocolError('REBALANCE_IN_PROGRESS'));
    const consumed = consume(b);
    await jest.advanceTimersByTimeAsync(1_000);
    await consumed;
    expect(logged('test-stage.rebalance')).toEqual([expect.objectContaining({ level: 'warn', topic: 't', partition: 1, offset: '9' })]);
    expect(logged('test-stage.retry')).toHaveLength(1);
    expect(b.pause).toHaveBeenCalledTimes(1);
    expect(b.commit).not.toHaveBeenCalled();
    expect(loop.status().state).toBe('backing-off');
    await jest.advanceTimersByTimeAsync(0);
    expect(fatal).toEqual([]);
  });

  it('commits the records before a `wait` and fetches the waiting one again once it is due', async () => {
    const { consume, logged } = await start(async (records) => records.map((record) => (record.offset === '11' || record.offset === '12' ? { kind: 'wait', untilMs: Date.now() + 5_000 } : DONE)));
    const b = batch(0, ['10', '11', '12']);
    const resume = jest.fn();
    b.pause.mockReturnValue(resume);
    await consume(b);
    expect(b.commit).toHaveBeenCalledWith({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '11' }] }] });
    expect(b.pause).toHaveBeenCalledTimes(1);
    expect(logged('test-stage.waiting')).toEqual([expect.objectContaining({ offset: '11', delayMs: 5_000 })]);
    await jest.advanceTimersByTimeAsync(4_999);
    expect(resume).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(resume).toHaveBeenCalledTimes(1);

    // Nothing handled yet when the first record waits: nothing committed.
    const first = batch(1, ['20', '21']);
    const { consume: consumeAll } = await start(async (records) => records.map(() => ({ kind: 'wait', untilMs: Date.now() + 1_000 })));
    await consumeAll(first);
    expect(first.commit).not.toHaveBeenCalled();
    expect(first.pause).toHaveBeenCalledTimes(1);
  });

  it('fetch turnover: small chunks; a batch goes on while every partition slot is busy and gives way once one is free', async () => {
    // Two partitions, two slots; partition 1's calls take longer. kafkajs fetches again only once both batches return.
    const calls: [number, number][] = [];
    const { consume } = await start(
      async (records) => {
        const partition = records[0]?.partition ?? -1;
        calls.push([partition, records.length]);
        await new Promise((resolve) => setTimeout(resolve, partition === 0 ? 150 : 250));
        return done(records);
      },
      { partitionsConsumedConcurrently: 2, fetchTurnover: { afterMs: 100, records: 10 } },
    );
    const offsets = Array.from({ length: 30 }, (_, i) => String(100 + i));
    const p0 = batch(0, offsets);
    const p1 = batch(1, offsets);
    const consumed = Promise.all([consume(p0), consume(p1)]);
    await jest.advanceTimersByTimeAsync(2_000);
    await consumed;
    const sizes = (partition: number) => calls.filter(([p]) => p === partition).map(([, size]) => size);
    // Both slots busy: partition 0 goes on in chunks of 10, never taking the rest of its batch in one call.
    expect(sizes(0)).toEqual([10, 10, 10]);
    // Partition 0's batch done, its slot free: partition 1 gives way after its chunk, the rest comes with the next fetch.
    expect(sizes(1)).toEqual([10, 10]);
    expect(p1.commit).toHaveBeenLastCalledWith({ topics: [{ topic: 't', partitions: [{ partition: 1, offset: '120' }] }] });
  });

  it('follows rebalances and consumer restarts: joining, then consuming again', async () => {
    const { consumer, loop, logged, fatal } = await start(async (records) => done(records));
    consumer.emit(EVENTS.REBALANCING, { groupId: 'g', memberId: 'member-1' });
    expect(loop.status().state).toBe('joining');
    consumer.emit(EVENTS.CRASH, { error: new KafkaJSConnectionError('Connection error: ECONNREFUSED'), groupId: 'g', restart: true });
    expect(loop.status().state).toBe('joining');
    expect(logged('test-stage.consumer.restarting')).toEqual([expect.objectContaining({ level: 'warn', error: 'KafkaJSConnectionError: Connection error: ECONNREFUSED' })]);
    consumer.emit(EVENTS.HEARTBEAT, { groupId: 'g', memberId: 'member-2', groupGenerationId: 3 });
    consumer.emit(EVENTS.GROUP_JOIN, { groupId: 'g', memberId: 'member-2', memberAssignment: { t: [1] } });
    expect(loop.status()).toMatchObject({ state: 'consuming', memberId: 'member-2', assignment: { t: [1] }, lastHeartbeatAt: Date.now() });
    await jest.advanceTimersByTimeAsync(0);
    expect(fatal).toEqual([]);
  });

  it('reports a consumer kafkajs gave up on: crashed, logged, onFatal', async () => {
    const { consumer, loop, logged, fatal } = await start(async (records) => done(records));
    consumer.emit(EVENTS.CRASH, { error: new KafkaJSNonRetriableError('Not authorized to access group'), groupId: 'g', restart: false });
    expect(logged('test-stage.consumer.crashed')).toEqual([expect.objectContaining({ level: 'error', error: 'KafkaJSNonRetriableError: Not authorized to access group' })]);
    await jest.advanceTimersByTimeAsync(0);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toBeInstanceOf(RecordLoopCrashedError);
    expect(fatal[0]?.message).toMatch(/test-stage: the Kafka consumer of group g crashed and will not restart/);
    expect(loop.status().state).toBe('crashed');
    expect(judgeLoop(loop.status(), Date.now())).toMatchObject({ ready: false, live: false });
  });

  it('a normal stop leaves the loop stopped and alive (a shutdown is not a failure)', async () => {
    const { loop, fatal } = await start(async (records) => done(records));
    await loop.stop();
    expect(loop.status().state).toBe('stopped');
    expect(judgeLoop(loop.status(), Date.now())).toMatchObject({ ready: false, live: true });
    expect(fatal).toEqual([]);
  });
});
