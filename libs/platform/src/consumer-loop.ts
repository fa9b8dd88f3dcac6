import { KafkaJSError, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { encodeDeadLetter } from '@idsync/contracts';
import { createProducer } from './kafka';
import { type JsonLogger } from './logger';
import { type Counter, type Metrics } from './metrics';

/**
 * The consumer loop every stage after the detectors shares (mapper, ad-writer, ds-writer): records in, a handler
 * with side effects, offsets committed only once those side effects succeeded.
 *
 * Per fetched batch of one partition, in chunks of `maxRecordsPerCall` records:
 * 1. `handleBatch(records)` performs the side effects (the mapper: produce and await acks) and says, per record,
 *    `done` or `dead-letter` with a reason;
 * 2. dead-lettered records go to the dead-letter topic (DeadLetter schema, keyed by the record's key, acks -1);
 * 3. only then is the chunk's last offset resolved and committed.
 *
 * A handler that throws is classified by `classifyFailure` (one table, below):
 * - `retry` (the error says `retriable: true`, or it is a Kafka client error): nothing of the chunk is resolved,
 *   the partition is paused and resumed after an exponential backoff; the same records are fetched again from the
 *   resolved offset. Pausing (rather than sleeping inside the batch) is what keeps the other partitions going:
 *   kafkajs fetches again only when every batch of the previous fetch has been handled, so one partition sleeping
 *   inside eachBatch would stall all partitions of its broker. The consumer keeps heartbeating while it waits.
 * - `dead-letter` (`retriable: false`): every record of the chunk is dead-lettered with the error's message.
 * - `stop` (no `retriable` field: TypeError, RangeError, an unknown Error): a bug in our code, not a property of
 *   the record. Dead-lettering would move every following record to the dead-letter topic as the same bug hits
 *   them; retrying cannot help. The loop stops consuming with the chunk uncommitted and reports through `onFatal`
 *   (the services exit non-zero), so a fixed release resumes exactly at that record.
 *
 * Reasons are written as the handler gives them: handlers must never put password values into a reason or an
 * error message. The loop itself logs positions and reasons, never keys or values.
 */

/** One consumed record, as the handler sees it. */
export interface LoopRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Record headers as text (the last value of a repeated header). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type RecordOutcome = { readonly kind: 'done' } | { readonly kind: 'dead-letter'; readonly reason: string };

export const DONE: RecordOutcome = Object.freeze({ kind: 'done' });
export function deadLetter(reason: string): RecordOutcome {
  return { kind: 'dead-letter', reason };
}

/** What the loop does when the handler throws. */
export const FAILURE_ACTIONS = ['retry', 'dead-letter', 'stop'] as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

/**
 * The classification table, in order (first row that applies wins):
 * | error                                   | action        | why                                                  |
 * | --------------------------------------- | ------------- | ---------------------------------------------------- |
 * | kafkajs error (KafkaJSError and below)  | retry         | infrastructure: a broker, leader or coordinator away |
 * | `retriable: true`                       | retry         | the error says a retry can help                      |
 * | `retriable: false`                      | dead-letter   | the record itself cannot be handled                  |
 * | anything else (TypeError, RangeError..) | stop          | a programming error: neither retry nor dead-letter   |
 *
 * kafkajs marks 'number of retries exceeded' as not retriable; for a stage that only produced and committed, that
 * is still a Kafka outage, which a later attempt survives, so Kafka errors are retried however they are marked.
 */
export function classifyFailure(error: unknown): FailureAction {
  if (error instanceof KafkaJSError) return 'retry';
  if (typeof error === 'object' && error !== null && 'retriable' in error && typeof error.retriable === 'boolean') {
    return error.retriable ? 'retry' : 'dead-letter';
  }
  return 'stop';
}

export interface BackoffOptions {
  /** First wait, ms. */
  readonly initialMs: number;
  /** Longest wait, ms. */
  readonly maxMs: number;
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 30_000, factor: 2 };

/** Wait before attempt `attempt + 1` (attempt counts failures so far, from 1). */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(options.maxMs, Math.round(options.initialMs * options.factor ** exponent));
}

/**
 * Calls `start` until it succeeds, backing off between attempts, or until `isStopped()` (the service is shutting
 * down). `onFailure` undoes a half-done start and reports the attempt; Kafka being away at start is not fatal.
 */
export async function retryUntilStarted(
  start: () => Promise<void>,
  options: { isStopped: () => boolean; onFailure: (failure: { attempt: number; delayMs: number; error: string }) => Promise<void> | void },
): Promise<void> {
  for (let attempt = 1; !options.isStopped(); attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      const delayMs = backoffDelay(attempt);
      await options.onFailure({ attempt, delayMs, error: error instanceof Error ? error.message : String(error) });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Raised through `onFatal` when the handler threw a programming error; the loop has stopped consuming. */
export class RecordLoopStoppedError extends Error {
  readonly retriable = false;
  constructor(
    readonly stage: string,
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    options: { cause: unknown },
  ) {
    super(`${stage}: stopped at ${topic}[${partition}]@${offset}: the handler failed with a programming error (${describe(options.cause)})`, options);
    this.name = 'RecordLoopStoppedError';
  }
}

export interface RecordLoopOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Names the stage in dead letters, logs and metrics: `mapper`, `ad-writer`... */
  readonly stage: string;
  readonly deadLetterTopic: string;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  /** Performs the records' side effects and says what became of each record; one outcome per record, in order. */
  handleBatch(records: readonly LoopRecord[]): Promise<readonly RecordOutcome[]>;
  /** Partitions handled at the same time (kafkajs partitionsConsumedConcurrently). Default 3. */
  readonly partitionsConsumedConcurrently?: number;
  /** Largest chunk given to one handleBatch call. Default 500. */
  readonly maxRecordsPerCall?: number;
  readonly backoff?: BackoffOptions;
  /** A new group starts at the earliest offset (nothing published before the first start is missed). Default true. */
  readonly fromBeginning?: boolean;
  /** Producer for dead letters; by default the loop creates (and disconnects) its own idempotent one. */
  readonly deadLetterProducer?: Producer;
  /** Called once when the loop stopped on a programming error. */
  readonly onFatal?: (error: RecordLoopStoppedError) => void;
  readonly sessionTimeoutMs?: number;
  /**
   * Longest time a fetch waits for new records (kafkajs maxWaitTimeInMs). A paused partition is fetched again
   * only with the next fetch, so this bounds how late a retry can start after its backoff. Default 1000.
   */
  readonly maxWaitTimeMs?: number;
  /** Clock for `failedAt` of dead letters (not used on the handler's path). */
  readonly now?: () => number;
}

export interface RecordLoop {
  /** Stops consuming: waits for the batch in hand, leaves the group, disconnects. Idempotent. */
  stop(): Promise<void>;
}

interface PartitionState {
  attempts: number;
  timer: NodeJS.Timeout | undefined;
}

/** Starts consuming; resolves once the consumer has joined its group's subscription (not necessarily an assignment). */
export async function runRecordLoop(options: RecordLoopOptions): Promise<RecordLoop> {
  const loop = new ConsumerLoop(options);
  await loop.start();
  return loop;
}

class ConsumerLoop implements RecordLoop {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly ownsProducer: boolean;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly maxRecords: number;
  private readonly backoff: BackoffOptions;
  private readonly now: () => number;
  private readonly records: Counter;
  private readonly retries: Counter;
  private stopping: Promise<void> | undefined;
  private fatal = false;

  constructor(private readonly options: RecordLoopOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1_000,
      ...(options.sessionTimeoutMs ? { sessionTimeout: options.sessionTimeoutMs } : {}),
    });
    this.ownsProducer = options.deadLetterProducer === undefined;
    this.producer = options.deadLetterProducer ?? createProducer(options.kafka);
    this.maxRecords = Math.max(1, options.maxRecordsPerCall ?? 500);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.now = options.now ?? Date.now;
    this.records = options.metrics.counter('idsync_records_total', 'Records consumed, by stage, topic and outcome (done, dead-letter)');
    this.retries = options.metrics.counter('idsync_record_retries_total', 'Handler failures retried after a backoff, by stage and topic');
  }

  async start(): Promise<void> {
    if (this.ownsProducer) await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, this.options.partitionsConsumedConcurrently ?? 3),
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.options.logger.event('info', `${this.options.stage}.consuming`, { groupId: this.options.groupId, topics: this.options.topics });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const state of this.partitions.values()) clearTimeout(state.timer);
      await this.consumer.disconnect();
      if (this.ownsProducer) await this.producer.disconnect();
    })();
    return this.stopping;
  }

  private state(topic: string, partition: number): PartitionState {
    const key = `${topic}|${partition}`;
    let state = this.partitions.get(key);
    if (!state) {
      state = { attempts: 0, timer: undefined };
      this.partitions.set(key, state);
    }
    return state;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, heartbeat } = payload;
    const { topic, partition } = batch;
    const state = this.state(topic, partition);
    for (let start = 0; start < batch.messages.length; start += this.maxRecords) {
      if (!isRunning() || isStale() || this.stopping || this.fatal) return;
      const chunk = batch.messages.slice(start, start + this.maxRecords).map((message) => toRecord(topic, partition, message));
      const last = chunk.at(-1);
      if (!last) return;

      let outcomes: readonly RecordOutcome[];
      try {
        outcomes = await this.options.handleBatch(chunk);
        if (outcomes.length !== chunk.length) {
          throw new TypeError(`handleBatch returned ${outcomes.length} outcomes for ${chunk.length} records`);
        }
      } catch (error) {
        const action = classifyFailure(error);
        if (action === 'retry') return this.retryLater(payload, state, chunk[0] as LoopRecord, error);
        if (action === 'stop') return this.stopOnBug(payload, chunk[0] as LoopRecord, error);
        const reason = describe(error);
        outcomes = chunk.map(() => deadLetter(reason));
      }

      try {
        await this.sendDeadLetters(chunk, outcomes);
        payload.resolveOffset(last.offset);
        await payload.commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
        });
      } catch (error) {
        // Dead letters or the commit did not go through: the records are handled again (at least once).
        if (classifyFailure(error) === 'stop') return this.stopOnBug(payload, chunk[0] as LoopRecord, error);
        return this.retryLater(payload, state, chunk[0] as LoopRecord, error);
      }
      state.attempts = 0;
      this.count(topic, outcomes);
      await heartbeat();
    }
  }

  private count(topic: string, outcomes: readonly RecordOutcome[]): void {
    let done = 0;
    for (const outcome of outcomes) if (outcome.kind === 'done') done++;
    const stage = this.options.stage;
    if (done > 0) this.records.inc({ stage, topic, outcome: 'done' }, done);
    if (outcomes.length > done) this.records.inc({ stage, topic, outcome: 'dead-letter' }, outcomes.length - done);
  }

  private async sendDeadLetters(chunk: readonly LoopRecord[], outcomes: readonly RecordOutcome[]): Promise<void> {
    const messages: { key: Buffer | null; value: Buffer }[] = [];
    chunk.forEach((record, index) => {
      const outcome = outcomes[index];
      if (outcome?.kind !== 'dead-letter') return;
      messages.push({
        key: record.key,
        value: encodeDeadLetter({
          stage: this.options.stage,
          reason: outcome.reason,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          key: record.key,
          value: record.value,
          failedAt: this.now(),
        }),
      });
      this.options.logger.event('warn', `${this.options.stage}.dead-letter`, {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        reason: outcome.reason,
      });
    });
    if (messages.length > 0) await this.producer.send({ topic: this.options.deadLetterTopic, acks: -1, messages });
  }

  /** Leaves the chunk unresolved, pauses the partition and resumes it after the backoff: the same records come again. */
  private retryLater(payload: EachBatchPayload, state: PartitionState, first: LoopRecord, error: unknown): void {
    state.attempts += 1;
    const delayMs = backoffDelay(state.attempts, this.backoff);
    this.retries.inc({ stage: this.options.stage, topic: first.topic });
    this.options.logger.event('warn', `${this.options.stage}.retry`, {
      topic: first.topic,
      partition: first.partition,
      offset: first.offset,
      attempt: state.attempts,
      delayMs,
      error: describe(error),
    });
    const resume = payload.pause();
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (!this.stopping && !this.fatal) resume();
    }, delayMs);
  }

  private stopOnBug(payload: EachBatchPayload, first: LoopRecord, cause: unknown): void {
    payload.pause();
    if (this.fatal) return;
    this.fatal = true;
    const error = new RecordLoopStoppedError(this.options.stage, first.topic, first.partition, first.offset, { cause });
    this.options.logger.event('error', `${this.options.stage}.stopped`, {
      topic: first.topic,
      partition: first.partition,
      offset: first.offset,
      error: describe(cause),
      stack: cause instanceof Error ? cause.stack : undefined,
    });
    // Stop outside the batch callback: disconnect waits for the running batch, which is this one.
    setImmediate(() => {
      void this.stop()
        .catch(() => undefined)
        .then(() => this.options.onFatal?.(error));
    });
  }
}

function toRecord(topic: string, partition: number, message: KafkaMessage): LoopRecord {
  const headers: Record<string, string> = {};
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (last !== undefined) headers[name] = last.toString();
  }
  return { topic, partition, offset: message.offset, key: message.key ?? null, value: message.value ?? null, headers };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
