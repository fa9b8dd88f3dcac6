import { KafkaJSError, type Consumer, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import { encodeDeadLetter } from '@idsync/contracts';
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from '../backoff';
import { type JsonLogger } from '../logger';
import { handlerStalled, type LoopAssignment, type LoopState, type LoopStatus, TERMINAL_LOOP_STATES } from '../loop-health';
import { type Counter, type Gauge, type Metrics } from '../metrics';
import { ConsumerLag } from './consumer-lag';
import { fetchLimitsOf, groupSessionOf, type KafkaClient, kafkajsOf } from './client';
import { classifyKafkaFailure } from './errors';
import { AtLeastOnceOutput, ExactlyOnceOutput, type ChunkOutput, type LoopOutput, type OutputMode } from './loop-output';
import { type RecordProducer } from './producer';
import { DEFAULT_MAX_RECORD_BYTES, isRecordTooLarge, recordBytes, RecordLimits, topicRecordLimits } from './record-size';

/**
 * The consumer loop every stage after the detectors shares (mapper, ad-writer, ds-writer): records in, a handler
 * with side effects, offsets committed only once those side effects succeeded.
 *
 * Per fetched batch of one partition, in chunks of `maxRecordsPerCall` records:
 * 1. `handleBatch(records)` performs the side effects (the mapper: produce through `context.output`) and says, per
 *    record, `done` or `dead-letter` with a reason;
 * 2. dead-lettered records go to the dead-letter topic (DeadLetter schema, keyed by the record's key, acks -1);
 * 3. only then is the chunk's last offset resolved and committed.
 * With `exactlyOnce` (the mapper), 1 to 3 are one Kafka transaction per chunk (see loop-output.ts): the output, the dead
 * letters and the input offset become visible to read-committed consumers together or not at all, so a stage killed
 * between producing and committing never has its output applied twice or out of order. A chunk that produced nothing
 * and dead-lettered nothing has nothing to bind its offset to: the consumer commits it, without a transaction.
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
 * A handler call that runs long keeps the consumer in its group: the loop heartbeats for it every second (kafkajs
 * sends one only when its heartbeatInterval elapsed), but only while the call shows progress (`context.progress()`,
 * or its start) within `stallAfterMs`. A call without progress for that long is a hang (a directory that never
 * answers): the loop logs `<stage>.stalled`, stops heartbeating, aborts `context.signal`, and reports a
 * RecordLoopStalledError through `onFatal` with the records uncommitted, so the restarted service handles them again.
 * When a heartbeat says the group took the partitions away (a rebalance), the call's signal is aborted too; whatever
 * the call then does, its records are retried (the commit fails and the retry path above applies).
 *
 * kafkajs giving up on the consumer (CRASH without restart) is reported through `onFatal` as well. The loop's state
 * (`status()`, judged by loop-health.ts) feeds the services' readiness and liveness probes, so no stall is silent.
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

/**
 * What became of a record. `wait`: not yet (a retry that is not due): the loop commits the records before it, and
 * fetches this one again once `untilMs` has passed; every record after a `wait` in the call must be `wait` too.
 */
export type RecordOutcome =
  | { readonly kind: 'done' }
  /** `code`: a short, bounded name of the reason (undecodable, refused, ldap-65...), the metrics' `reason` label. */
  | { readonly kind: 'dead-letter'; readonly reason: string; readonly code?: string }
  | { readonly kind: 'wait'; readonly untilMs: number };

export const DONE: RecordOutcome = Object.freeze({ kind: 'done' });
export function deadLetter(reason: string, code?: string): RecordOutcome {
  return code === undefined ? { kind: 'dead-letter', reason } : { kind: 'dead-letter', reason, code };
}

/** What a handleBatch call gets besides its records; handlers that never take long may ignore it. */
export interface BatchContext {
  /** Says the call is moving (a request applied, a retry answered): the loop heartbeats for it only while it does. */
  progress(): void;
  /**
   * Aborted when the loop gives up on the call (no progress for stallAfterMs) or the group took its partition
   * away: stop early if you can (throwing is fine); the records of an aborted call are handled again.
   */
  readonly signal: AbortSignal;
  /** Where the call's records go (in the chunk's transaction with `exactlyOnce`); acknowledged when `send` resolves. */
  readonly output: LoopOutput;
}

/** What the loop does when the handler throws. */
export const FAILURE_ACTIONS = ['retry', 'dead-letter', 'stop'] as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

/**
 * The classification table, in order (first row that applies wins):
 * | error                                   | action        | why                                                  |
 * | --------------------------------------- | ------------- | ---------------------------------------------------- |
 * | Kafka refusal: authorization            | stop          | the product's Kafka table (errors.ts)                |
 * | Kafka refusal: record too large         | dead-letter   | (the loop first narrows the chunk to that record)    |
 * | kafkajs error (KafkaJSError and below)  | retry         | infrastructure: a broker, leader or coordinator away |
 * | `retriable: true`                       | retry         | the error says a retry can help                      |
 * | `retriable: false`                      | dead-letter   | the record itself cannot be handled                  |
 * | anything else (TypeError, RangeError..) | stop          | a programming error: neither retry nor dead-letter   |
 *
 * kafkajs marks 'number of retries exceeded' as not retriable; for a stage that only produced and committed, that
 * is still a Kafka outage, which a later attempt survives, so Kafka errors are retried however they are marked.
 */
export function classifyFailure(error: unknown): FailureAction {
  const kafka = classifyKafkaFailure(error);
  if (kafka) return kafka.action === 'fenced' ? 'retry' : kafka.action;
  if (error instanceof KafkaJSError) return 'retry';
  if (typeof error === 'object' && error !== null && 'retriable' in error && typeof error.retriable === 'boolean') {
    return error.retriable ? 'retry' : 'dead-letter';
  }
  return 'stop';
}

/**
 * Heartbeat errors saying this member no longer owns its partitions: the group is rebalancing, has moved on to a
 * new generation, forgot the member (session timeout) or moved its coordinator (kafkajs' isRebalancing, plus
 * UNKNOWN_MEMBER_ID). Looked up along the error's causes.
 */
export const MEMBERSHIP_LOST_ERRORS = ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP'] as const;

export function isMembershipLost(error: unknown): boolean {
  const types: readonly string[] = MEMBERSHIP_LOST_ERRORS;
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 8; depth++) {
    if ('type' in current && typeof current.type === 'string' && types.includes(current.type)) return true;
    current = 'cause' in current ? current.cause : undefined;
  }
  return false;
}

/**
 * Calls `start` until it succeeds, backing off between attempts, or until `isStopped()` (the service is shutting
 * down). `onFailure` undoes a half-done start and reports the attempt; Kafka being away at start is not fatal.
 * Kafka refusing the account (a wrong password, a missing ACL) is: no retry changes it, so after its report the
 * retries end with a KafkaDeniedError given to `onDenied` (the service's fatal exit).
 */
export async function retryUntilStarted(
  start: () => Promise<void>,
  options: {
    isStopped: () => boolean;
    onFailure: (failure: { attempt: number; delayMs: number; error: string }) => Promise<void> | void;
    onDenied?: (error: KafkaDeniedError) => void;
  },
): Promise<void> {
  for (let attempt = 1; !options.isStopped(); attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      const denied = classifyKafkaFailure(error)?.kind === 'kafka-denied';
      const delayMs = denied ? 0 : backoffDelay(attempt);
      await options.onFailure({ attempt, delayMs, error: error instanceof Error ? error.message : String(error) });
      if (denied) {
        const refusal = new KafkaDeniedError(error);
        if (options.onDenied === undefined) throw refusal;
        options.onDenied(refusal);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * Kafka refused the service's account: authentication failed, or an ACL is missing (the broker's
 * kafka.authorizer.logger names the principal, operation and resource). Nothing inside the process can help.
 */
export class KafkaDeniedError extends Error {
  readonly retriable = false;
  constructor(cause: unknown) {
    super(`Kafka refused this service's account (kafka-denied): ${describe(cause)}; check its kafka.sasl account and its ACLs (idsync kafka-acls)`, { cause });
    this.name = 'KafkaDeniedError';
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

/**
 * Raised through `onFatal` when a handler call made no progress for `stallAfterMs`: the loop stopped heartbeating
 * for it and gave up; the records stay uncommitted. No `retriable` field: nothing inside the process can help.
 */
export class RecordLoopStalledError extends Error {
  readonly runningMs: number;
  readonly idleMs: number;
  constructor(
    readonly stage: string,
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    times: { runningMs: number; idleMs: number },
  ) {
    super(
      `${stage}: stalled at ${topic}[${partition}]@${offset}: the handler made no progress for ${seconds(times.idleMs)} ` + `(running for ${seconds(times.runningMs)}); the records stay uncommitted`,
    );
    this.name = 'RecordLoopStalledError';
    this.runningMs = times.runningMs;
    this.idleMs = times.idleMs;
  }
}

/** Raised through `onFatal` when kafkajs gave up on the consumer (CRASH without restart): nothing consumes any more. */
export class RecordLoopCrashedError extends Error {
  constructor(
    readonly stage: string,
    readonly groupId: string,
    options: { cause: unknown },
  ) {
    super(`${stage}: the Kafka consumer of group ${groupId} crashed and will not restart (${describe(options.cause)})`, options);
    this.name = 'RecordLoopCrashedError';
  }
}

/** Everything `onFatal` reports: the loop has given up, the service should exit non-zero. */
export type RecordLoopFatalError = RecordLoopStoppedError | RecordLoopStalledError | RecordLoopCrashedError | KafkaDeniedError;

export interface RecordLoopOptions {
  readonly kafka: KafkaClient;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Names the stage in dead letters, logs and metrics: `mapper`, `ad-writer`... */
  readonly stage: string;
  readonly deadLetterTopic: string;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  /**
   * Performs the records' side effects and says what became of each record; one outcome per record, in order.
   * A call that may take long calls `context.progress()` as it goes (see BatchContext).
   */
  handleBatch(records: readonly LoopRecord[], context: BatchContext): Promise<readonly RecordOutcome[]>;
  /** Partitions handled at the same time (kafkajs partitionsConsumedConcurrently). Default 3. */
  readonly partitionsConsumedConcurrently?: number;
  /** Largest chunk given to one handleBatch call. Default 500. */
  readonly maxRecordsPerCall?: number;
  /**
   * Fetch turnover, for stages whose records take long each (the writers). kafkajs fetches again only once every batch
   * of the last fetch is handled, so one partition's long batch keeps the others waiting, even with records there
   * (another partition's mapper transaction committed meanwhile) and room to handle them. With turnover, a batch is
   * handled in chunks of at most `records`; after a chunk that ends past `afterMs`, while fewer partitions' batches are
   * in hand than partitionsConsumedConcurrently allows, the batch is left: its remaining records come again with the
   * next fetch, together with any other partition's. While every slot is busy, batches go on. Off by default.
   */
  readonly fetchTurnover?: { readonly afterMs: number; readonly records: number };
  readonly backoff?: BackoffOptions;
  /** A new group starts at the earliest offset (nothing published before the first start is missed). Default true. */
  readonly fromBeginning?: boolean;
  /**
   * Output, dead letters and input offsets of each chunk in one Kafka transaction (one transactional producer per input
   * partition, fencing earlier owners). Default false: at least once, through one idempotent producer.
   */
  readonly exactlyOnce?: boolean | { readonly transactionTimeoutMs?: number };
  /** Largest record the stage writes (kafka.maxRecordBytes); a topic whose max.message.bytes is smaller wins. */
  readonly maxRecordBytes?: number;
  /** Topics the handler writes to, whose limits are read at start (the dead-letter topic's always is). */
  readonly outputTopics?: readonly string[];
  /** At-least-once only: producer for output and dead letters; by default the loop creates (and disconnects) its own. */
  readonly deadLetterProducer?: RecordProducer;
  /** Called once when the loop gave up: a programming error, a stalled handler call, or a consumer kafkajs gave up on. */
  readonly onFatal?: (error: RecordLoopFatalError) => void;
  /** A handler call without progress for this long counts as hung (see BatchContext). Default 300 000 (5 min). */
  readonly stallAfterMs?: number;
  /**
   * Longest time a fetch waits for new records (kafkajs maxWaitTimeInMs). A paused partition is fetched again
   * only with the next fetch, so this bounds how late a retry can start after its backoff. Default 1000.
   */
  readonly maxWaitTimeMs?: number;
  /** Clock for `failedAt` of dead letters and the times of `status()`; stall timing uses it too. */
  readonly now?: () => number;
}

export interface RecordLoop {
  /**
   * Stops consuming: waits for the batch in hand (unless a handler call stalled: that one may never return), leaves
   * the group, disconnects. Idempotent.
   */
  stop(): Promise<void>;
  /** The loop's state, group membership and handler timing, for health probes (see judgeLoop). */
  status(): LoopStatus;
}

interface PartitionState {
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  /**
   * A chunk through this offset was refused by size (a record over a topic's limit, the broker's word): records up
   * to it are handled one per call, so only the one that cannot fit is dead-lettered.
   */
  oneByOneThrough: bigint | undefined;
}

/** One running handleBatch call, watched for progress. */
interface HandlerCall {
  readonly first: LoopRecord;
  readonly startedAt: number;
  progressAt: number;
  readonly controller: AbortController;
  readonly context: BatchContext;
  ticker: NodeJS.Timeout | undefined;
  /** The loop gave up on the call: whatever it returns or throws later is ignored. */
  stalled: boolean;
  /** A heartbeat said the group took the partition away: whatever the call throws is retried. */
  lostMembership: boolean;
}

/** Heartbeat (and stall check) period while a handler call runs; kafkajs sends only every heartbeatInterval (3 s). */
const TICK_MS = 1_000;

/** Starts consuming; resolves once the consumer has joined its group's subscription (not necessarily an assignment). */
export async function runRecordLoop(options: RecordLoopOptions): Promise<RecordLoop> {
  const loop = new ConsumerLoop(options);
  try {
    await loop.start();
  } catch (error) {
    await loop.stop().catch(() => undefined);
    throw error;
  }
  return loop;
}

class ConsumerLoop implements RecordLoop {
  private readonly consumer: Consumer;
  private readonly output: OutputMode;
  private limits: RecordLimits;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly calls = new Set<HandlerCall>();
  /** Partitions whose fetched batch is being handled (between their handler calls too). */
  private batchesInHand = 0;
  private readonly maxRecords: number;
  private readonly concurrency: number;
  private readonly backoff: BackoffOptions;
  private readonly stallAfterMs: number;
  private readonly tickMs: number;
  private readonly now: () => number;
  private readonly records: Counter<'topic' | 'outcome'>;
  private readonly retries: Counter<'topic'>;
  private readonly deadLetters: Counter<'topic' | 'reason'>;
  private readonly commits: Counter<'topic' | 'by'>;
  private lag: ConsumerLag | undefined;
  /** Resolved when a handler call stalled: stop() then no longer waits for the batch in hand. */
  private readonly stallSeen = deferred();
  private stopping: Promise<void> | undefined;
  private fatal = false;
  private phase: LoopState = 'starting';
  private since: number;
  private memberId: string | undefined;
  private assignment: LoopAssignment = {};
  private lastHeartbeatAt: number | undefined;
  private lastFetchAt: number | undefined;
  private error: string | undefined;

  constructor(private readonly options: RecordLoopOptions) {
    this.consumer = kafkajsOf(options.kafka).consumer({
      groupId: options.groupId,
      ...fetchLimitsOf(options.kafka),
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1_000,
      // the group session and heartbeat period of kafka.consumerSessionTimeoutMs
      ...groupSessionOf(options.kafka),
    });
    const { exactlyOnce } = options;
    this.output = exactlyOnce
      ? new ExactlyOnceOutput({ kafka: options.kafka, groupId: options.groupId, ...(typeof exactlyOnce === 'object' ? exactlyOnce : {}) })
      : new AtLeastOnceOutput(options.deadLetterProducer ?? options.kafka.producer(), options.deadLetterProducer === undefined);
    this.maxRecords = Math.max(1, options.maxRecordsPerCall ?? 500);
    this.concurrency = Math.max(1, options.partitionsConsumedConcurrently ?? 3);
    this.limits = new RecordLimits(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.stallAfterMs = Math.max(1, options.stallAfterMs ?? 300_000);
    // A short stall limit (tests) is checked often enough to be met within a quarter of it.
    this.tickMs = Math.max(1, Math.min(TICK_MS, Math.floor(this.stallAfterMs / 4)));
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.records = options.metrics.counter('idsync_consumer_records_total', 'Records handled, by topic and outcome (done, dead-letter)', ['topic', 'outcome']);
    this.retries = options.metrics.counter('idsync_consumer_retries_total', 'Handler calls that failed and were tried again after a backoff, by topic', ['topic']);
    this.deadLetters = options.metrics.counter(
      'idsync_consumer_dead_letters_total',
      'Records sent to the dead-letter topic, by the topic they came from and reason (undecodable, refused, link-conflict, ldap-<result code>...)',
      ['topic', 'reason'],
    );
    this.commits = options.metrics.counter(
      'idsync_consumer_commits_total',
      "Input offsets committed, by topic and by whom: a chunk's Kafka transaction (exactly-once, with its output) or the consumer (at least once, or a chunk that produced nothing)",
      ['topic', 'by'],
    );
    options.metrics.gauge(
      'idsync_consumer_lag_records',
      'Records the group has not consumed yet (end offset minus committed offset, transaction markers included), by topic and partition; read from the broker when scraped, at most every 10 s',
      ['topic', 'partition'],
      (gauge) => this.collectLag(gauge),
    );
    this.watchConsumer();
  }

  async start(): Promise<void> {
    this.limits = await this.readLimits();
    await this.output.start(this.limits);
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.concurrency,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.options.logger.event('info', `${this.options.stage}.consuming`, { groupId: this.options.groupId, topics: this.options.topics });
  }

  private async collectLag(gauge: Gauge<'topic' | 'partition'>): Promise<void> {
    this.lag ??= new ConsumerLag(this.options.kafka, this.options.groupId, this.options.topics);
    for (const { topic, partition, records } of await this.lag.read()) gauge.set({ topic, partition: String(partition) }, records);
  }

  /** The record limits of the topics this stage writes, as the broker has them now. */
  private async readLimits(): Promise<RecordLimits> {
    const configured = this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const topics = [...new Set([...(this.options.outputTopics ?? []), this.options.deadLetterTopic])];
      return new RecordLimits(configured, await topicRecordLimits(admin, topics, configured));
    } finally {
      await admin.disconnect();
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const state of this.partitions.values()) {
        clearTimeout(state.timer);
        state.timer = undefined;
      }
      try {
        // disconnect waits for the batches in hand; a stalled handler call may never return, so stop waiting then.
        const disconnected = this.consumer.disconnect();
        const abandoned = await Promise.race([disconnected.then(() => false), this.stallSeen.promise.then(() => true)]);
        if (abandoned) {
          disconnected.catch(() => undefined);
          this.options.logger.event('warn', `${this.options.stage}.stop.abandoned`, { groupId: this.options.groupId, reason: 'a handler call stalled' });
        }
        await this.output.close();
        await this.lag?.close();
      } finally {
        this.enter('stopped');
      }
    })();
    return this.stopping;
  }

  status(): LoopStatus {
    let handlerStartedAt: number | undefined;
    let handlerProgressAt: number | undefined;
    for (const call of this.calls) {
      handlerStartedAt = Math.min(handlerStartedAt ?? call.startedAt, call.startedAt);
      handlerProgressAt = Math.min(handlerProgressAt ?? call.progressAt, call.progressAt);
    }
    let backingOff = false;
    for (const state of this.partitions.values()) if (state.timer !== undefined) backingOff = true;
    return {
      stage: this.options.stage,
      state: this.phase === 'consuming' && backingOff ? 'backing-off' : this.phase,
      since: this.since,
      groupId: this.options.groupId,
      memberId: this.memberId,
      assignment: this.assignment,
      lastHeartbeatAt: this.lastHeartbeatAt,
      lastFetchAt: this.lastFetchAt,
      handlerStartedAt,
      handlerProgressAt,
      stallAfterMs: this.stallAfterMs,
      error: this.error,
    };
  }

  /** Moves to `state` unless the loop already ended (stalled, crashed, stopped); says whether it moved. */
  private enter(state: LoopState): boolean {
    if (TERMINAL_LOOP_STATES.includes(this.phase)) return false;
    this.phase = state;
    this.since = this.now();
    return true;
  }

  /** Follows the consumer through kafkajs' instrumentation events: group membership, heartbeats, crashes. */
  private watchConsumer(): void {
    const { events } = this.consumer;
    const { stage, groupId, logger } = this.options;
    this.consumer.on(events.GROUP_JOIN, ({ payload }) => {
      this.memberId = payload.memberId;
      this.assignment = payload.memberAssignment;
      // Transactional producers of partitions given away: their next owner fences them anyway.
      this.output.release(payload.memberAssignment).catch(() => undefined);
      if (!this.enter('consuming')) return;
      const partitions = Object.values(payload.memberAssignment).reduce((count, numbers) => count + numbers.length, 0);
      logger.event('info', `${stage}.joined`, { groupId, memberId: payload.memberId, partitions });
    });
    this.consumer.on(events.REBALANCING, () => {
      this.enter('joining');
    });
    this.consumer.on(events.HEARTBEAT, () => {
      this.lastHeartbeatAt = this.now();
    });
    this.consumer.on(events.FETCH_START, () => {
      this.lastFetchAt = this.now();
    });
    this.consumer.on(events.CRASH, ({ payload }) => {
      if (payload.restart) {
        logger.event('warn', `${stage}.consumer.restarting`, { groupId, error: describe(payload.error) });
        this.enter('joining');
        return;
      }
      // kafkajs has disconnected the consumer and will not restart it: nothing consumes any more.
      logger.event('error', `${stage}.consumer.crashed`, { groupId, error: describe(payload.error) });
      this.fail('crashed', new RecordLoopCrashedError(stage, groupId, { cause: payload.error }));
    });
  }

  private state(topic: string, partition: number): PartitionState {
    const key = `${topic}|${partition}`;
    let state = this.partitions.get(key);
    if (!state) {
      state = { attempts: 0, timer: undefined, oneByOneThrough: undefined };
      this.partitions.set(key, state);
    }
    return state;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    this.batchesInHand++;
    try {
      await this.handleFetchedBatch(payload);
    } finally {
      this.batchesInHand--;
    }
  }

  private async handleFetchedBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const state = this.state(topic, partition);
    const messages = await this.claim(payload, state);
    if (!messages) return;
    const startedAt = this.now();
    for (let start = 0; start < messages.length;) {
      if (!payload.isRunning() || payload.isStale() || this.stopping || this.fatal) return;
      const turnover = this.options.fetchTurnover;
      // A partition slot is free (its batch is done): past afterMs, the rest of this batch comes with the next fetch,
      // and so do the records other partitions received meanwhile. While every slot is busy, the batch goes on.
      if (turnover && start > 0 && this.batchesInHand < this.concurrency && this.now() - startedAt >= turnover.afterMs) return;
      // Small chunks whenever turnover is on, so that a slot freed later is seen at the next chunk, not after the batch.
      const size = Math.min(this.chunkSize(state, messages[start]?.offset), turnover?.records ?? Number.POSITIVE_INFINITY);
      const chunk = messages.slice(start, start + size).map((message) => toRecord(topic, partition, message));
      start += chunk.length;
      const first = chunk[0];
      const last = chunk.at(-1);
      if (!first || !last) return;

      let output: ChunkOutput;
      try {
        output = await this.output.begin(topic, partition);
      } catch (error) {
        return this.retryLater(payload, state, first, error);
      }
      let outcomes: readonly RecordOutcome[];
      const call = this.beginCall(payload, first, output.sink);
      try {
        outcomes = await this.options.handleBatch(chunk, call.context);
        // The loop gave up on this call and reported it: its records stay uncommitted, whatever it returned.
        if (call.stalled) return await output.abort();
        if (outcomes.length !== chunk.length) {
          throw new TypeError(`handleBatch returned ${outcomes.length} outcomes for ${chunk.length} records`);
        }
      } catch (error) {
        await output.abort();
        if (call.stalled) return;
        if (!call.lostMembership && isRecordTooLarge(error) && chunk.length > 1) return this.oneByOne(payload, state, first, last, error);
        // After a lost membership the call was aborted: whatever it threw (an AbortError too), the records come again.
        const action = call.lostMembership ? 'retry' : isRecordTooLarge(error) ? 'dead-letter' : classifyFailure(error);
        if (action === 'retry') return this.retryLater(payload, state, first, error);
        if (action === 'stop') return this.stopOnBug(payload, first, error);
        const reason = describe(error);
        outcomes = chunk.map(() => deadLetter(reason, isRecordTooLarge(error) ? 'too-large' : 'not-retriable'));
        try {
          // Whatever the call produced was discarded with its transaction; the dead letters go in a new one.
          output = await this.output.begin(topic, partition);
        } catch (beginError) {
          return this.retryLater(payload, state, first, beginError);
        }
      } finally {
        this.endCall(call);
      }

      // Records from the first `wait` on are not handled yet: only those before it are committed.
      const waitAt = outcomes.findIndex((outcome) => outcome.kind === 'wait');
      const waiting = waitAt < 0 ? undefined : { record: chunk[waitAt] as LoopRecord, outcome: outcomes[waitAt] as { kind: 'wait'; untilMs: number } };
      const handled = waitAt < 0 ? chunk : chunk.slice(0, waitAt);
      const handledOutcomes = waitAt < 0 ? outcomes : outcomes.slice(0, waitAt);
      const lastHandled = handled.at(-1);
      try {
        if (lastHandled) {
          await this.sendDeadLetters(output.sink, handled, handledOutcomes);
          const next = (BigInt(lastHandled.offset) + 1n).toString();
          const by = await output.commit(next);
          payload.resolveOffset(lastHandled.offset);
          if (by === 'consumer') await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
          this.commits.inc({ topic, by });
        } else {
          await output.abort();
        }
      } catch (error) {
        await output.abort();
        if (isRecordTooLarge(error) && chunk.length > 1) return this.oneByOne(payload, state, first, last, error);
        // Dead letters or the commit did not go through: the records are handled again (at least once).
        if (classifyFailure(error) === 'stop') return this.stopOnBug(payload, first, error);
        return this.retryLater(payload, state, first, error);
      }
      state.attempts = 0;
      this.count(topic, handledOutcomes);
      if (waiting) return this.waitUntil(payload, state, waiting.record, waiting.outcome.untilMs);
      await payload.heartbeat();
    }
  }

  /** Pauses the batch's partition and resumes it after `delayMs` (unless the loop stopped meanwhile). */
  private pauseFor(payload: EachBatchPayload, state: PartitionState, delayMs: number): void {
    const resume = payload.pause();
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (!this.stopping && !this.fatal) resume();
    }, delayMs);
  }

  /** A record that is not due yet: the partition is paused and fetched again from it at `untilMs`. */
  private waitUntil(payload: EachBatchPayload, state: PartitionState, record: LoopRecord, untilMs: number): void {
    const delayMs = Math.max(0, untilMs - this.now());
    this.options.logger.event('debug', `${this.options.stage}.waiting`, { topic: record.topic, partition: record.partition, offset: record.offset, delayMs });
    this.pauseFor(payload, state, delayMs);
  }

  /**
   * The batch's records still to be done: with exactlyOnce, taking a partition (again) fences its earlier owner and
   * reads the committed offset; records below it were done by that owner and are skipped. Undefined: retry later.
   */
  private async claim(payload: EachBatchPayload, state: PartitionState): Promise<EachBatchPayload['batch']['messages'] | undefined> {
    const { topic, partition, messages } = payload.batch;
    const head = messages[0];
    if (!head) return messages;
    let committed: bigint | undefined;
    try {
      committed = await this.output.claim(topic, partition);
    } catch (error) {
      this.retryLater(payload, state, toRecord(topic, partition, head), error);
      return undefined;
    }
    if (committed === undefined) return messages;
    const done = messages.filter((message) => BigInt(message.offset) < committed);
    this.options.logger.event('info', `${this.options.stage}.claimed`, { topic, partition, committed: committed.toString(), skipped: done.length });
    const lastDone = done.at(-1);
    if (lastDone) payload.resolveOffset(lastDone.offset);
    return messages.filter((message) => BigInt(message.offset) >= committed);
  }
  /** Records per handler call from `offset` on: one while a chunk refused by size is gone through. */
  private chunkSize(state: PartitionState, offset: string | undefined): number {
    if (state.oneByOneThrough === undefined || offset === undefined) return this.maxRecords;
    if (BigInt(offset) <= state.oneByOneThrough) return 1;
    state.oneByOneThrough = undefined;
    return this.maxRecords;
  }

  /** A chunk refused by size: its records come again, one per call, so that only the one that cannot fit is dead-lettered. */
  private oneByOne(payload: EachBatchPayload, state: PartitionState, first: LoopRecord, last: LoopRecord, error: unknown): void {
    state.oneByOneThrough = BigInt(last.offset);
    this.options.logger.event('warn', `${this.options.stage}.too-large`, {
      topic: first.topic,
      partition: first.partition,
      from: first.offset,
      through: last.offset,
      error: describe(error),
      note: 'handling these records one at a time to find the one that does not fit',
    });
    this.retryLater(payload, state, first, error);
  }

  /** Registers a handler call and starts watching it: heartbeats while it shows progress, a stall when it does not. */
  private beginCall(payload: EachBatchPayload, first: LoopRecord, output: LoopOutput): HandlerCall {
    const startedAt = this.now();
    const controller = new AbortController();
    const call: HandlerCall = {
      first,
      startedAt,
      progressAt: startedAt,
      controller,
      context: {
        progress: () => {
          if (!call.stalled) call.progressAt = this.now();
        },
        signal: controller.signal,
        output,
      },
      ticker: undefined,
      stalled: false,
      lostMembership: false,
    };
    call.ticker = setInterval(() => this.tick(call, payload), this.tickMs);
    this.calls.add(call);
    return call;
  }

  private endCall(call: HandlerCall): void {
    clearInterval(call.ticker);
    call.ticker = undefined;
    this.calls.delete(call);
  }

  private tick(call: HandlerCall, payload: EachBatchPayload): void {
    if (call.stalled) return;
    const now = this.now();
    if (handlerStalled(call.progressAt, now, this.stallAfterMs)) return this.stall(call, now);
    // The group took the partition away: heartbeating again only repeats the same answer.
    if (call.lostMembership) return;
    payload.heartbeat().catch((error: unknown) => {
      if (call.stalled || call.lostMembership) return;
      if (!isMembershipLost(error)) {
        // A broker away: kafkajs' own retries and the next tick deal with it.
        this.options.logger.event('debug', `${this.options.stage}.heartbeat.failed`, { error: describe(error) });
        return;
      }
      call.lostMembership = true;
      const { topic, partition, offset } = call.first;
      this.options.logger.event('warn', `${this.options.stage}.rebalance`, { topic, partition, offset, error: describe(error) });
      call.controller.abort(error);
    });
  }

  /** The call made no progress for stallAfterMs: stop heartbeating for it, abort it, give up on the loop. */
  private stall(call: HandlerCall, now: number): void {
    clearInterval(call.ticker);
    call.ticker = undefined;
    call.stalled = true;
    const { topic, partition, offset } = call.first;
    const runningMs = now - call.startedAt;
    const idleMs = now - call.progressAt;
    const error = new RecordLoopStalledError(this.options.stage, topic, partition, offset, { runningMs, idleMs });
    this.options.logger.event('error', `${this.options.stage}.stalled`, { topic, partition, offset, runningMs, idleMs, stallAfterMs: this.stallAfterMs });
    this.stallSeen.resolve();
    this.fail('stalled', error);
    call.controller.abort(error);
  }

  private count(topic: string, outcomes: readonly RecordOutcome[]): void {
    let done = 0;
    let dead = 0;
    for (const outcome of outcomes) {
      if (outcome.kind === 'done') done++;
      else if (outcome.kind === 'dead-letter') dead++;
    }
    if (done > 0) this.records.inc({ topic, outcome: 'done' }, done);
    if (dead > 0) this.records.inc({ topic, outcome: 'dead-letter' }, dead);
  }

  private async sendDeadLetters(sink: LoopOutput, chunk: readonly LoopRecord[], outcomes: readonly RecordOutcome[]): Promise<void> {
    const messages: { key: Buffer | null; value: Buffer }[] = [];
    chunk.forEach((record, index) => {
      const outcome = outcomes[index];
      if (outcome?.kind !== 'dead-letter') return;
      const letter = {
        stage: this.options.stage,
        reason: outcome.reason,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key,
        value: record.value,
        failedAt: this.now(),
      };
      let value = encodeDeadLetter(letter);
      if (recordBytes({ key: record.key, value }) > sink.limit(this.options.deadLetterTopic)) {
        // The record does not fit in a dead letter: a reference to it (topic, partition, offset) does.
        const omitted = `${outcome.reason} [value of ${record.value?.length ?? 0} bytes left out: it is at ${record.topic}[${record.partition}]@${record.offset}]`;
        value = encodeDeadLetter({ ...letter, reason: omitted, value: null });
      }
      messages.push({ key: record.key, value });
      this.deadLetters.inc({ topic: record.topic, reason: outcome.code ?? 'unclassified' });
      this.options.logger.event('warn', `${this.options.stage}.dead-letter`, {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        reason: outcome.reason,
      });
    });
    if (messages.length > 0) await sink.send([{ topic: this.options.deadLetterTopic, messages }]);
  }

  /** Leaves the chunk unresolved, pauses the partition and resumes it after the backoff: the same records come again. */
  private retryLater(payload: EachBatchPayload, state: PartitionState, first: LoopRecord, error: unknown): void {
    state.attempts += 1;
    const delayMs = backoffDelay(state.attempts, this.backoff);
    this.retries.inc({ topic: first.topic });
    this.options.logger.event('warn', `${this.options.stage}.retry`, {
      topic: first.topic,
      partition: first.partition,
      offset: first.offset,
      attempt: state.attempts,
      delayMs,
      error: describe(error),
    });
    this.pauseFor(payload, state, delayMs);
  }

  private stopOnBug(payload: EachBatchPayload, first: LoopRecord, cause: unknown): void {
    payload.pause();
    if (this.fatal) return;
    const error = new RecordLoopStoppedError(this.options.stage, first.topic, first.partition, first.offset, { cause });
    this.options.logger.event('error', `${this.options.stage}.stopped`, {
      topic: first.topic,
      partition: first.partition,
      offset: first.offset,
      error: describe(cause),
      stack: cause instanceof Error ? cause.stack : undefined,
    });
    this.fail('stopped', error);
  }

  /** The loop gives up: records the state, stops consuming, then reports through onFatal (once). */
  private fail(state: 'stalled' | 'crashed' | 'stopped', error: RecordLoopFatalError): void {
    if (this.fatal) return;
    this.fatal = true;
    if (this.enter(state)) this.error = error.message;
    // Stop outside the batch callback: disconnect waits for the running batch, which may be the caller's.
    setImmediate(() => {
      void this.stop()
        .catch(() => undefined)
        .then(() => this.options.onFatal?.(error));
    });
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1_000)} s`;
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
