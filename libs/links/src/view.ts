import { randomUUID } from 'node:crypto';
import { decodeLink, type EntryLink, UndecodableRecordError } from '@idsync/contracts';
import { type HealthProbe, HealthProbeError, type JsonLogger, type KafkaAdmin, type KafkaClient, ReadBarrier, TopicFollower } from '@idsync/platform';
import { type LinkRecord, type LinkStore } from './store';

/** The view has not read the links topic up to where it stood moments ago; the request is tried again. */
export class LinksViewBehindError extends Error {
  readonly retriable = true;
  constructor(
    readonly topic: string,
    readonly behind: readonly { readonly partition: number; readonly at: bigint; readonly target: bigint }[],
    readonly waitedMs: number,
  ) {
    super(`the links view has not caught up with ${topic} after ${waitedMs} ms (${behind.map((b) => `partition ${b.partition} at ${b.at} of ${b.target}`).join(', ')})`);
    this.name = 'LinksViewBehindError';
  }
}

export interface LinksViewOptions {
  readonly kafka: KafkaClient;
  readonly topic: string;
  readonly store: LinkStore;
  readonly logger: JsonLogger;
  /** Prefix of the view's own consumer group; a random suffix makes every instance read the whole topic. */
  readonly groupPrefix: string;
  /** How long catchUp waits before giving up (default 15 s). */
  readonly catchUpTimeoutMs?: number;
  readonly now?: () => number;
}

export type LinksViewState = 'idle' | 'loading' | 'following' | 'crashed' | 'stopped';

export interface LinksViewStatus {
  readonly state: LinksViewState;
  readonly topic: string;
  readonly links: number;
  readonly retired: number;
  /** Records read from the topic since start. */
  readonly recordsRead: number;
  /** Records on the topic that were not links (undecodable values, foreign keys): skipped and counted. */
  readonly skipped: number;
  /** How long the start-up rebuild took, once done. */
  readonly loadMs: number | null;
  readonly error: string | null;
}

/**
 * A writer's local view of the links topic: read from the beginning at start (bulk-loaded into the store), then
 * followed. Every instance reads every partition (a consumer group of its own, never committed): a writer must
 * see the links other writers record. `catchUp()` is the read barrier a writer passes before it acts: everything
 * on the topic when it was called is in the store when it returns.
 */
export class LinksView {
  private consumer: TopicFollower | undefined;
  private admin: KafkaAdmin | undefined;
  private state: LinksViewState = 'idle';
  private readonly barrier: ReadBarrier;
  private recordsRead = 0;
  private skipped = 0;
  private loadMs: number | null = null;
  private error: string | null = null;
  /** The store's counts, as of `at` (status() counts at most every 5 s). */
  private counted: { at: number; links: number; retired: number } | null = null;

  constructor(private readonly options: LinksViewOptions) {
    const { topic } = options;
    this.barrier = new ReadBarrier({
      ends: () => this.highWatermarks(),
      timeoutMs: this.options.catchUpTimeoutMs ?? 15_000,
      behind: (behind, waitedMs) => new LinksViewBehindError(topic, behind, waitedMs),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  get store(): LinkStore {
    return this.options.store;
  }

  status(): LinksViewStatus {
    // Counting is a scan of the store (a million links: tens of ms); /health may be asked often, by anyone.
    if (this.counted === null || Date.now() - this.counted.at > 5_000) this.counted = { at: Date.now(), ...this.options.store.counts() };
    const counts = this.counted;
    return {
      state: this.state,
      topic: this.options.topic,
      links: counts.links,
      retired: counts.retired,
      recordsRead: this.recordsRead,
      skipped: this.skipped,
      loadMs: this.loadMs,
      error: this.error,
    };
  }

  /** Reads the whole topic into the store (bulk load), then keeps following it. Resolves once loaded. */
  async start(): Promise<void> {
    const { kafka, topic, store, logger } = this.options;
    const started = Date.now();
    this.state = 'loading';
    this.barrier.reset();
    this.recordsRead = 0;
    this.admin = kafka.admin();
    await this.admin.connect();
    const targets = await this.highWatermarks();
    const loader = store.bulkLoad();
    let loading = true;
    let finishLoad: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => (finishLoad = resolve));
    const endLoad = (): void => {
      if (!loading) return;
      loader.finish();
      loading = false;
      this.loadMs = Date.now() - started;
      this.state = 'following';
      logger.event('info', 'links.view.loaded', { topic, ...store.counts(), records: this.recordsRead, ms: this.loadMs });
      finishLoad();
    };
    if (this.barrier.reached(targets)) endLoad();

    const consumer = new TopicFollower(kafka, {
      topic,
      groupId: `${this.options.groupPrefix}-links-${randomUUID()}`,
      // Nothing is ever committed: the group exists only while this instance reads.
      maxBytesPerPartition: 4 * 1024 * 1024,
      onCrash: (error) => {
        this.state = 'crashed';
        this.error = error.message;
        logger.event('error', 'links.view.crashed', { topic, error: error.message });
      },
      onBatch: (batch) => {
        const records: LinkRecord[] = [];
        for (const message of batch.records) {
          const key = message.key?.toString('utf8') ?? '';
          const link = message.value === null ? null : this.decode(key, message.value);
          if (link === undefined) continue;
          records.push({ key, link, partition: batch.partition, offset: message.offset });
        }
        this.recordsRead += batch.records.length;
        if (loading) loader.add(records);
        else store.apply(records);
        if (batch.records.length > 0) this.barrier.advance(batch.partition, BigInt(batch.lastOffset) + 1n);
        if (loading && this.barrier.reached(targets)) endLoad();
      },
    });
    this.consumer = consumer;
    await consumer.start();
    await loaded;
  }

  /**
   * Waits until the store holds everything the topic held when this was called — or, with `maxAgeMs`, at most that
   * long before (a barrier passed that recently answers at once: a burst of misses pays one barrier per interval,
   * not one per round of writes). Throws LinksViewBehindError (retriable) after the timeout.
   */
  catchUp(maxAgeMs = 0): Promise<void> {
    return this.barrier.catchUp(maxAgeMs);
  }

  async stop(): Promise<void> {
    const { consumer, admin } = this;
    this.consumer = undefined;
    this.admin = undefined;
    if (this.state !== 'crashed') this.state = 'stopped';
    await consumer?.stop();
    await admin?.disconnect();
  }

  /** A value that is not a link is skipped (counted, logged once per key): the view must not stop on it. */
  private decode(key: string, value: Buffer): EntryLink | undefined {
    try {
      return decodeLink(value);
    } catch (error) {
      if (!(error instanceof UndecodableRecordError)) throw error;
      this.skipped += 1;
      this.options.logger.event('warn', 'links.view.skipped', { topic: this.options.topic, key, reason: error.message });
      return undefined;
    }
  }

  /** Per partition, the offset after the last record on the topic now. */
  private async highWatermarks(): Promise<Map<number, bigint>> {
    if (this.admin === undefined) throw new Error('the links view is not started');
    const offsets = await this.admin.topicOffsets(this.options.topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }
}

/**
 * Health of a writer's links view: ready once loaded and following the topic; a crashed view fails liveness too
 * (the writer cannot tell links apart any more, so it must restart).
 */
export function linksViewProbes(view: () => LinksView | undefined): { readiness: HealthProbe; liveness: HealthProbe } {
  const check = (needLoaded: boolean) => async (): Promise<Record<string, unknown>> => {
    const current = view();
    if (current === undefined) throw new HealthProbeError('links view not created', {});
    const status = current.status();
    const details = { ...status } as Record<string, unknown>;
    if (status.state === 'crashed') throw new HealthProbeError(`links view crashed: ${status.error ?? 'unknown error'}`, details);
    if (needLoaded && status.state !== 'following') throw new HealthProbeError(`links view is ${status.state}`, details);
    return details;
  };
  return { readiness: { name: 'links', check: check(true) }, liveness: { name: 'links', check: check(false) } };
}
