import { type EntryChangeEvent } from '@idsync/contracts';
import { eventTraceId, type JsonLogger, type KafkaClient, type StoredCheckpoint } from '@idsync/platform';
import { type ChangeSource, type CheckpointedPublisher, DetectorCoordinator, type FailureVerdict, type SourceBatch } from './coordinator';

/**
 * The coordinator against a scripted source and an in-memory publisher: what it commits, when it reconnects, when it
 * stops. The sources themselves run against Samba and 389-ds in the integration tests.
 */

class Retriable extends Error {
  override name = 'Retriable';
}
class Unknown extends Error {
  override name = 'Unknown';
}
class Fenced extends Error {
  override name = 'Fenced';
}
class Refused extends Error {
  override name = 'Refused';
}

type Step = { kind: 'batch'; events: number; pauseMs?: number } | { kind: 'empty' } | { kind: 'throw'; error: Error };

const event = (n: number): EntryChangeEvent =>
  ({ eventId: `e${n}`, op: 'modify', dn: `cn=u${n},dc=example,dc=com`, entryId: { kind: 'entryUUID', value: `0f0f0f0f-0000-4000-8000-00000000000${n % 10}` } }) as unknown as EntryChangeEvent;

/** Reads batches as `script` says; the position is the number of events committed so far. */
class ScriptedSource implements ChangeSource {
  url: string | null = null;
  position = 0;
  committedPositions: number[] = [];
  connects: (StoredCheckpoint | null)[] = [];
  disconnects = 0;
  reads = 0;
  onRead: (() => void) | undefined;

  constructor(private readonly script: Step[]) {}

  async connect(stored: StoredCheckpoint | null): Promise<boolean> {
    this.connects.push(stored);
    this.url = 'ldaps://source';
    this.position = stored === null ? 0 : Number(stored.position);
    return true;
  }

  async read(): Promise<SourceBatch> {
    this.reads += 1;
    this.onRead?.();
    const step = this.script.shift() ?? { kind: 'empty' };
    if (step.kind === 'throw') throw step.error;
    if (step.kind === 'empty') return { events: [], checkpoint: null, committed: () => undefined, pauseMs: () => 1, caughtUp: true };
    const from = this.position;
    const events = Array.from({ length: step.events }, (_, i) => event(from + i + 1));
    const to = from + step.events;
    return {
      events,
      checkpoint: { position: String(to), server: 'source' },
      committed: () => {
        this.position = to;
        this.committedPositions.push(to);
      },
      pauseMs: () => step.pauseMs ?? 0,
      caughtUp: (step.pauseMs ?? 0) > 0,
    };
  }

  async disconnect(): Promise<void> {
    this.disconnects += 1;
    this.url = null;
  }

  classify(error: unknown): FailureVerdict {
    if (error instanceof Retriable) return { action: 'retry', kind: 'retriable' };
    if (error instanceof Unknown) return { action: 'retry', kind: 'unknown', limited: true };
    if (error instanceof Fenced) return { action: 'fenced', kind: 'fenced' };
    return { action: 'stop', kind: 'refused' };
  }

  stoppedError(error: unknown, _verdict: FailureVerdict, why: string): Error {
    return new Error(`stopped: ${why}`, { cause: error });
  }

  describePosition(): string | null {
    return String(this.position);
  }
}

/** The committed checkpoint and the events, as Kafka would hold them after each transaction. */
class MemoryPublisher implements CheckpointedPublisher {
  readonly checkpointGroup = 'idsync.checkpoint.test.source';
  static checkpoint: StoredCheckpoint | null = null;
  static published: string[] = [];
  static failNextPublish: Error | null = null;

  async connect(): Promise<void> {}
  async readCheckpoint(): Promise<StoredCheckpoint | null> {
    return MemoryPublisher.checkpoint;
  }
  async publish(events: readonly EntryChangeEvent[], checkpoint: StoredCheckpoint): Promise<void> {
    const failure = MemoryPublisher.failNextPublish;
    if (failure) {
      MemoryPublisher.failNextPublish = null;
      throw failure;
    }
    MemoryPublisher.published.push(...events.map((e) => e.eventId));
    MemoryPublisher.checkpoint = checkpoint;
  }
  async disconnect(): Promise<void> {}
}

function logger(): JsonLogger & { events: { level: string; event: string; fields: Record<string, unknown> }[] } {
  const events: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  return { events, enabled: () => true, event: (level: string, name: string, fields: Record<string, unknown> = {}) => events.push({ level, event: name, fields }) } as unknown as JsonLogger & {
    events: typeof events;
  };
}

function coordinator(source: ScriptedSource, extra: Partial<ConstructorParameters<typeof DetectorCoordinator>[1]> = {}) {
  const log = logger();
  const failures: { verdict: FailureVerdict; givenUp: boolean }[] = [];
  const instance = new DetectorCoordinator(source, {
    detector: 'test-detector',
    checkpointSource: 'source',
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a stand-in never used: publisherFactory replaces its only use
    kafka: {} as KafkaClient,
    eventsTopic: 'events',
    checkpointTopic: 'checkpoints',
    retryInitialMs: 1,
    retryMaxMs: 4,
    logger: log,
    publisherFactory: () => new MemoryPublisher(),
    onFailure: (verdict, givenUp) => failures.push({ verdict, givenUp }),
    ...extra,
  });
  return { instance, log, failures };
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

beforeEach(() => {
  MemoryPublisher.checkpoint = null;
  MemoryPublisher.published = [];
  MemoryPublisher.failNextPublish = null;
});

describe('DetectorCoordinator', () => {
  it('gives the memory of a large batch back once it is committed, not after small ones', async () => {
    const source = new ScriptedSource([{ kind: 'batch', events: 1 }, { kind: 'batch', events: 3 }, { kind: 'batch', events: 1 }, { kind: 'empty' }]);
    const released: number[] = [];
    const { instance } = coordinator(source, { releaseMemoryAfter: 3, releaseMemory: () => released.push(MemoryPublisher.published.length) });
    const run = instance.run();
    await until('every batch published', () => MemoryPublisher.published.length === 5);
    await until('a release', () => released.length > 0);
    await instance.stop();
    await run;
    // Once, after the batch of three (four events published by then), before the next batch is read.
    expect(released).toEqual([4]);
  });

  it('logs each change it published with its event id and trace id (the id the mapper and the writer log too)', async () => {
    const source = new ScriptedSource([{ kind: 'batch', events: 2 }, { kind: 'empty' }]);
    const { instance, log } = coordinator(source);
    const run = instance.run();
    await until('two changes published', () => log.events.filter((e) => e.event === 'test-detector.published').length === 2);
    await instance.stop();
    await run;
    const published = log.events.filter((e) => e.event === 'test-detector.published').map((e) => e.fields);
    expect(published).toEqual([expect.objectContaining({ eventId: 'e1', traceId: eventTraceId('e1'), op: 'modify' }), expect.objectContaining({ eventId: 'e2', traceId: eventTraceId('e2') })]);
  });

  it('publishes each batch with the checkpoint after it, and the source moves only once it is committed', async () => {
    const source = new ScriptedSource([{ kind: 'batch', events: 2 }, { kind: 'empty' }, { kind: 'batch', events: 3 }]);
    const { instance } = coordinator(source);
    const running = instance.run();
    await until('five events', () => MemoryPublisher.published.length === 5);
    await instance.stop();
    await running;
    expect(MemoryPublisher.published).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(MemoryPublisher.checkpoint).toEqual({ position: '5', server: 'source' });
    expect(source.committedPositions).toEqual([2, 5]);
    expect(instance.status()).toMatchObject({ state: 'stopped', eventsPublished: 5, lastError: null });
  });

  it('after a failed publish, reconnects and reads again from the committed checkpoint: nothing lost, nothing twice', async () => {
    const source = new ScriptedSource([
      { kind: 'batch', events: 2 },
      { kind: 'batch', events: 2 },
      { kind: 'batch', events: 2 },
    ]);
    const { instance, failures, log } = coordinator(source);
    source.onRead = () => {
      // The second batch's transaction fails (a broker gone mid-commit).
      if (source.reads === 2) MemoryPublisher.failNextPublish = new Retriable('broker gone');
    };
    const running = instance.run();
    await until('four events', () => MemoryPublisher.published.length === 4);
    await instance.stop();
    await running;
    expect(MemoryPublisher.published).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(source.connects).toEqual([null, { position: '2', server: 'source' }]);
    expect(source.committedPositions).toEqual([2, 4]);
    expect(failures).toEqual([{ verdict: { action: 'retry', kind: 'retriable' }, givenUp: false }]);
    expect(log.events.find((e) => e.event === 'test-detector.retry')?.fields).toMatchObject({ kind: 'retriable', attempt: 1 });
  });

  it('stops for good on a refusal, with the source’s error, and says so in its status', async () => {
    const source = new ScriptedSource([{ kind: 'throw', error: new Refused('invalid credentials') }]);
    const { instance } = coordinator(source);
    await expect(instance.run()).rejects.toThrow('stopped: Refused: invalid credentials');
    expect(instance.status()).toMatchObject({ state: 'failed', lastError: 'stopped: Refused: invalid credentials' });
    expect(source.disconnects).toBeGreaterThanOrEqual(1);
  });

  it('retries an unknown failure a limited number of times in a row, then stops', async () => {
    const source = new ScriptedSource(Array.from({ length: 10 }, () => ({ kind: 'throw' as const, error: new Unknown('TLS alert') })));
    const { instance, failures } = coordinator(source, { unknownFailureAttempts: 3 });
    await expect(instance.run()).rejects.toThrow('still failing after 3 attempts: Unknown: TLS alert');
    expect(failures.map((f) => f.givenUp)).toEqual([false, false, true]);
    expect(source.reads).toBe(3);
  });

  it('a success between unknown failures starts the count again', async () => {
    const unknown = { kind: 'throw' as const, error: new Unknown('TLS alert') };
    const source = new ScriptedSource([unknown, unknown, { kind: 'batch', events: 1 }, unknown, unknown, { kind: 'batch', events: 1 }]);
    const { instance } = coordinator(source, { unknownFailureAttempts: 3 });
    const running = instance.run();
    await until('two events', () => MemoryPublisher.published.length === 2);
    await instance.stop();
    await running;
    expect(instance.status().state).toBe('stopped');
  });

  it('fenced again within a minute: the pause grows', async () => {
    const source = new ScriptedSource([
      { kind: 'throw', error: new Fenced('another producer') },
      { kind: 'throw', error: new Fenced('another producer') },
      { kind: 'batch', events: 1 },
    ]);
    const { instance, log } = coordinator(source, { retryInitialMs: 1, retryMaxMs: 5 });
    const running = instance.run();
    await until('the event', () => MemoryPublisher.published.length === 1, 10_000);
    await instance.stop();
    await running;
    const fenced = log.events.filter((e) => e.event === 'test-detector.fenced').map((e) => e.fields['fencedInARow']);
    expect(fenced).toEqual([1, 2]);
  });

  it('stop() during a read: the batch in flight is committed, then the detector stops', async () => {
    const source = new ScriptedSource([{ kind: 'batch', events: 3 }]);
    const { instance } = coordinator(source);
    let stopping: Promise<void> | undefined;
    source.onRead = () => {
      stopping ??= instance.stop();
    };
    await instance.run();
    await stopping;
    expect(MemoryPublisher.published).toEqual(['e1', 'e2', 'e3']);
    expect(source.committedPositions).toEqual([3]);
    expect(instance.status().state).toBe('stopped');
  });

  it('kill() during a read: connections dropped, nothing of the batch committed', async () => {
    const source = new ScriptedSource([{ kind: 'batch', events: 3 }]);
    const { instance } = coordinator(source);
    let release: () => void = () => undefined;
    source.read = async () => {
      await new Promise<void>((resolve) => (release = resolve));
      throw new Retriable('connection closed');
    };
    const running = instance.run();
    await until('the read', () => source.connects.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const killing = instance.kill();
    release();
    await killing;
    await running;
    expect(MemoryPublisher.published).toEqual([]);
    expect(source.committedPositions).toEqual([]);
    expect(source.disconnects).toBeGreaterThanOrEqual(1);
    expect(instance.status().state).toBe('stopped');
  });

  it('prepare runs before the first connection and is tried again after a failure', async () => {
    let prepared = 0;
    const source = new ScriptedSource([{ kind: 'batch', events: 1 }]);
    const { instance } = coordinator(source, {
      prepare: async () => {
        prepared += 1;
        if (prepared === 1) throw new Retriable('topic not known yet');
      },
    });
    const running = instance.run();
    await until('the event', () => MemoryPublisher.published.length === 1);
    await instance.stop();
    await running;
    expect(prepared).toBe(2);
  });
});
