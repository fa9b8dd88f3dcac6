import { type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { LinkRegistry, LinksView, LinkStore } from '@idsync/links';
import { compilePipe, writeScopes } from '@idsync/mapping';
import { operationKeyring } from '@idsync/secrets';
import { receiptsTopicOf, serviceGroupId, type SyncConfig } from '@idsync/config';
import { encodeWriteReceipt, type WriteReceipt } from '@idsync/contracts';
import {
  ensureReceiptsTopic,
  ensureTopics,
  ldapObserver,
  retryUntilStarted,
  type JsonLogger,
  type Metrics,
  type Tracing,
  namedDirectory,
  readRanges,
  runRecordLoop,
  type KafkaAdmin,
  type KafkaClient,
  type RecordProducer,
  type BatchContext,
  type LoopRecord,
  type RecordLoop,
  type RecordLoopFatalError,
  type RecordOutcome,
} from '@idsync/platform';
import { HeldEntries, WAIT_HEADERS, waitTopicOf } from './dependency-wait';
import { BreakerControlView } from './breaker-control';
import { DeleteBreaker, heldTopicOf } from './delete-breaker';
import { DirectoryWriter } from './directory-writer';
import { type WriteReceiptSink } from './receipts';
import { requestGuard } from './request-guard';
import { createWriteHandler, LINK_CONFLICT_LABELS, LINK_CONFLICTS, LINK_CONFLICTS_HELP } from './write-handler';

export type WriterServiceName = 'ad-writer' | 'ds-writer';

/** See RecordLoopOptions.fetchTurnover; 50 records are a few per lane (concurrency 8). */
const WRITER_FETCH_TURNOVER = { afterMs: 200, records: 50 } as const;

export interface WriterServiceOptions {
  readonly service: WriterServiceName;
  readonly kafka: KafkaClient;
  readonly config: SyncConfig;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  /** A span per request applied (config.tracing); default off. */
  readonly tracing?: Tracing;
  /** Default serviceGroupId(config, service), `<kafka.clientId>-<service>`: two deployments on one Kafka never share a group. */
  readonly groupId?: string;
  readonly partitionsConsumedConcurrently?: number;
  /**
   * The loop gave up (programming error, the destination refuses the writer's account, a write that hangs, a
   * consumer kafkajs gave up on): exit non-zero.
   */
  readonly onFatal?: (error: RecordLoopFatalError) => void;
  /**
   * Where the loop hands its records: the Nest transport (KafkaRecordLoopTransport, which calls WriterController and
   * so `handleBatch`); default `handleBatch` directly.
   */
  readonly dispatch?: (records: readonly LoopRecord[], context: BatchContext) => Promise<readonly RecordOutcome[]>;
}

/**
 * A writer stage: consumes its destination's operation topic and applies each write request with a
 * DirectoryWriter (compare first, so replays are harmless); offsets are committed only after the write (or its
 * dead letter). Started with the Nest application (retried with backoff while Kafka is away), stopped before it.
 */
export class WriterService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly writer: DirectoryWriter;
  /** The writer's view of the links topic, and what it records there. */
  readonly links: LinkRegistry;
  readonly linksView: LinksView;
  private readonly linkStore: LinkStore;
  private readonly linkProducer: RecordProducer;
  /** AD records no initiator: the ad-writer's receipts tell the ad-detector which changes are its own. */
  private readonly receipts: KafkaReceiptSink | undefined;
  /** Applies a chunk of write requests (write-handler.ts): what WriterController hands over. */
  readonly handleBatch: (records: readonly LoopRecord[], context?: BatchContext) => Promise<RecordOutcome[]>;
  /** Entries with requests parked on the wait topic (their later requests park behind them). */
  private readonly held: HeldEntries;
  /** The delete circuit breaker (services.<writer>.deleteBreaker), and its shared state on the checkpoints topic. */
  readonly breaker: DeleteBreaker | undefined;
  private readonly breakerControl: BreakerControlView | undefined;
  private loop: RecordLoop | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: WriterServiceOptions) {
    const { config, service, metrics, logger } = options;
    const block = config.services[service];
    const topic = config.kafka.topics.links.name;
    this.linkStore = LinkStore.open();
    this.linksView = new LinksView({ kafka: options.kafka, topic, store: this.linkStore, logger, groupPrefix: this.groupId });
    this.linkProducer = options.kafka.producer();
    this.links = new LinkRegistry({ store: this.linkStore, view: this.linksView, producer: this.linkProducer, topic, service });
    const pipes = config.pipes.filter((pipe) => pipe.destination === block.destination);
    const pipeSources = new Map(pipes.map((pipe) => [pipe.name, pipe.source]));
    // What each pipe may write (scope enforcement): every pipe, so a request for another destination's pipe is told apart.
    const scopes = writeScopes(config.pipes.map(compilePipe), (directory) => namedDirectory(config, directory).baseDn);
    const pipeScopes = new Map(pipes.map((pipe) => [pipe.name, scopes.get(pipe.name)?.bases ?? []]));
    if (service === 'ad-writer' && !block.dryRun && block.writeReceipts) this.receipts = new KafkaReceiptSink(options.kafka, this.receiptsTopic);
    this.writer = DirectoryWriter.forService(config, service, {
      ...(this.receipts === undefined ? {} : { receipts: { sink: this.receipts, service } }),
      dryRun: block.dryRun,
      createMissingParents: true,
      connections: block.connections,
      observe: ldapObserver(metrics, block.destination),
      ...(block.dryRun ? {} : { links: this.links }),
      pipeSources,
      pipeScopes,
      onCreatedBeside: ({ request, dn, id, linkedTo }) => {
        metrics.counter(LINK_CONFLICTS, LINK_CONFLICTS_HELP, LINK_CONFLICT_LABELS).inc({ pipe: request.pipe, resolution: 'created-beside' });
        logger.event('warn', `${service}.link.created-beside`, { requestId: request.requestId, pipe: request.pipe, sourceId: request.sourceEntryId.value, dn, foundId: id, linkedTo });
      },
    });
    this.held = new HeldEntries(block.dependencyWaitMs + 5 * 60_000);
    if (block.deleteBreaker !== undefined) {
      // A percentage is of the entries the writer's pipes hold here (its links), counted at most once a minute.
      let counted = { entries: 0, at: Number.NEGATIVE_INFINITY };
      const entries = (): number => {
        if (Date.now() - counted.at > 60_000) counted = { entries: this.linkStore.entriesIn(block.destination), at: Date.now() };
        return counted.entries;
      };
      this.breaker = new DeleteBreaker(block.deleteBreaker, entries);
      this.breakerControl = new BreakerControlView({
        kafka: options.kafka,
        topic: config.kafka.topics.checkpoints.name,
        destination: block.destination,
        breaker: this.breaker,
        logger,
        service,
        groupPrefix: this.groupId,
      });
    }
    this.handleBatch = createWriteHandler({
      service,
      writer: this.writer,
      metrics,
      logger,
      concurrency: block.concurrency,
      links: this.links,
      guard: requestGuard({
        scopes,
        destination: block.destination,
        operationKeys: operationKeyring(config.secrets),
        requireSignature: config.secrets?.signOperations === true,
      }),
      ...(block.dependencyWaitMs > 0 ? { waits: { topic: this.waitTopic, maxWaitMs: block.dependencyWaitMs, held: this.held } } : {}),
      ...(this.breaker && this.breakerControl
        ? { breaker: { core: this.breaker, topic: this.heldTopic, onTrip: (control) => (this.breakerControl as BreakerControlView).publish(this.linkProducer, control) } }
        : {}),
      tracing: options.tracing,
      syncLog: { stdout: block.syncLog, ...(config.kafka.topics.audit === undefined ? {} : { topic: config.kafka.topics.audit.name }) },
    });
  }

  get groupId(): string {
    return this.options.groupId ?? serviceGroupId(this.options.config, this.options.service);
  }

  /** The running loop (for its health probes); undefined until started. */
  get recordLoop(): RecordLoop | undefined {
    return this.loop;
  }

  get inputTopic(): string {
    const { topics } = this.options.config.kafka;
    return this.options.service === 'ad-writer' ? topics.adOperations.name : topics.dsOperations.name;
  }

  /** Where requests whose member or parent is not there yet wait (dependency-wait.ts). */
  get waitTopic(): string {
    return waitTopicOf(this.inputTopic);
  }

  /** Where this writer's receipts go (receipts.ts): read by the detector of its directory. */
  get receiptsTopic(): string {
    return receiptsTopicOf(this.inputTopic);
  }

  /** The delete circuit breaker for /health: closed or tripped (since, by, deletes counted), never a failure. */
  breakerStatus(): Record<string, unknown> {
    const breaker = this.breaker;
    if (breaker === undefined) return { enabled: false };
    const state = breaker.state;
    const { maxDeletes, windowMs } = breaker.settings;
    if (state?.state !== 'tripped')
      return { enabled: true, state: 'closed', maxDeletes, windowMs, ...(state ? { lastDecision: state.state, decidedBy: state.by, decidedAt: new Date(state.at).toISOString() } : {}) };
    return {
      enabled: true,
      state: 'tripped',
      since: new Date(state.at).toISOString(),
      by: state.by,
      deletes: state.deletes,
      limit: state.limit,
      windowMs: state.windowMs,
      heldTopic: this.heldTopic,
      decide: 'idsync deletes approve|discard',
    };
  }

  /** Where the delete circuit breaker holds deletes until an operator decides (delete-breaker.ts). */
  get heldTopic(): string {
    return heldTopicOf(this.inputTopic);
  }

  private get waitsEnabled(): boolean {
    return this.options.config.services[this.options.service].dependencyWaitMs > 0;
  }

  private get inputPartitions(): number {
    const { topics } = this.options.config.kafka;
    return (this.options.service === 'ad-writer' ? topics.adOperations : topics.dsOperations).partitions;
  }

  /** Creates missing topics and starts consuming. */
  async start(): Promise<void> {
    const { kafka, config, logger, metrics, service } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const created = await ensureTopics(admin, config.kafka.topics);
      if (this.waitsEnabled) created.push(...(await this.ensureSideTopic(admin, this.waitTopic)));
      if (this.breaker) created.push(...(await this.ensureSideTopic(admin, this.heldTopic)));
      if (this.receipts) created.push(...(await ensureReceiptsTopic(admin, config.kafka.topics)));
      if (created.length > 0) logger.event('info', `${service}.topics.created`, { created });
      if (this.waitsEnabled) await this.holdParkedEntries(admin);
    } finally {
      await admin.disconnect();
    }
    // Links first: a writer acts only once it knows every link recorded so far.
    await this.linkProducer.connect();
    await this.receipts?.connect();
    if (this.linksView.status().state !== 'following') {
      await this.linksView.stop(); // a start that failed half-way (Kafka went away) begins again
      await this.linksView.start();
    }
    // And the delete breaker's state: one tripped before this start still holds.
    if (this.breakerControl) {
      await this.breakerControl.stop();
      await this.breakerControl.start();
    }
    const loop = await runRecordLoop({
      kafka,
      groupId: this.groupId,
      topics: [this.inputTopic, ...this.sideTopics],
      outputTopics: [...this.sideTopics, ...(config.kafka.topics.audit === undefined ? [] : [config.kafka.topics.audit.name])],
      stage: service,
      deadLetterTopic: config.kafka.topics.deadLetter.name,
      maxRecordBytes: config.kafka.maxRecordBytes,
      logger,
      metrics,
      // One request at a time per partition (its order is the entries' order); partitions in parallel, as many as
      // the topic has, multiplexed on the writer's one LDAP connection.
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? this.inputPartitions,
      // A write takes milliseconds: while partitions are idle (the mapper's transactions commit one partition at a
      // time), a batch gives way every 200 ms so the next fetch brings the others' records.
      fetchTurnover: WRITER_FETCH_TURNOVER,
      handleBatch: this.options.dispatch ?? this.handleBatch,
      ...(this.options.onFatal ? { onFatal: this.options.onFatal } : {}),
    });
    if (this.stopped) await loop.stop();
    else this.loop = loop;
  }

  /** The wait and held topics this writer consumes and produces beside its operations topic. */
  private get sideTopics(): string[] {
    return [...(this.waitsEnabled ? [this.waitTopic] : []), ...(this.breaker ? [this.heldTopic] : [])];
  }

  /** A wait or held topic, created beside the operations topic (same partitions: same key, same partition number). */
  private async ensureSideTopic(admin: KafkaAdmin, name: string): Promise<string[]> {
    if ((await admin.listTopics()).includes(name)) return [];
    const { topics } = this.options.config.kafka;
    const operations = this.options.service === 'ad-writer' ? topics.adOperations : topics.dsOperations;
    await admin.createTopics([{ name, partitions: operations.partitions, replicationFactor: operations.replicationFactor }]);
    return [name];
  }

  /**
   * Requests parked before this start and not tried yet hold their entries again, so that a later request of the same
   * entry is not applied ahead of them: the wait topic from the group's committed offsets to its end.
   */
  private async holdParkedEntries(admin: KafkaAdmin): Promise<void> {
    const ranges = await admin.unconsumedRanges(this.groupId, this.waitTopic);
    let parked = 0;
    const now = Date.now();
    const results = await readRanges(this.options.kafka, admin, `${this.options.config.kafka.clientId}-${this.options.service}`, ranges, {
      timeoutMs: 60_000,
      onRecord: (record) => {
        const key = record.key?.toString('latin1');
        if (key === undefined) return;
        this.held.hold(key, now, record.headers[WAIT_HEADERS.behind] ?? `${record.topic}[${record.partition}]@${record.offset}`);
        parked += 1;
      },
    });
    if ([...results.values()].some((r) => !r.complete)) throw new Error(`could not read the parked requests on ${this.waitTopic} to its end`);
    if (parked > 0) this.options.logger.event('info', `${this.options.service}.parked.found`, { topic: this.waitTopic, parked, entries: this.held.size });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined);
    // The loop is kept after its stop: its status still tells liveness whether it stalled while the service shuts down.
    await this.loop?.stop();
    await this.links.flush().catch((error: unknown) => this.options.logger.event('warn', `${this.options.service}.links.unsent`, { pending: this.links.pending, error: String(error) }));
    await this.linksView.stop();
    await this.breakerControl?.stop();
    await this.linkProducer.disconnect();
    await this.receipts?.disconnect();
    this.linkStore.close();
    await this.writer.close();
  }

  /** Starts in the background: Kafka being away at start is reported by /health, and the start is retried. */
  onApplicationBootstrap(): void {
    this.starting = this.startWithRetry();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private startWithRetry(): Promise<void> {
    return retryUntilStarted(() => this.start(), {
      isStopped: () => this.stopped,
      onFailure: (failure) => this.options.logger.event('warn', `${this.options.service}.start.failed`, failure),
      onDenied: (error) => this.options.onFatal?.(error),
    });
  }
}

/**
 * Write receipts on their topic, keyed by the written entry's id, each acknowledged before its change is sent. A few
 * retries only: a receipt that cannot be published fails the write (retried by the loop), which then sends nothing.
 */
class KafkaReceiptSink implements WriteReceiptSink {
  private readonly producer: RecordProducer;

  constructor(
    kafka: KafkaClient,
    private readonly topic: string,
  ) {
    this.producer = kafka.producer({ retries: 5, maxRetryTimeMs: 5_000 });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  async record(receipt: WriteReceipt): Promise<void> {
    await this.producer.send({ topic: this.topic, messages: [{ key: receipt.entryId?.value ?? receipt.dn.toLowerCase(), value: encodeWriteReceipt(receipt) }] });
  }
}
