import { type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { serviceGroupId, type SyncConfig } from '@idsync/config';
import {
  retryUntilStarted,
  ensureTopics,
  runRecordLoop,
  type JsonLogger,
  type KafkaClient,
  type Metrics,
  type Tracing,
  type RecordLoop,
  type RecordLoopFatalError,
  type BatchContext,
  type LoopRecord,
  type RecordOutcome,
} from '@idsync/platform';
import { operationKeyring, signingKeyring, type Keyring } from '@idsync/secrets';
import { mapperHandler } from './mapper-handler';
import { PipeControlView } from './pipe-control-view';
import { RecordMapper } from './record-mapper';

export interface MapperServiceOptions {
  readonly kafka: KafkaClient;
  readonly config: Pick<SyncConfig, 'pipes' | 'directories' | 'kafka' | 'secrets'>;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  /** A span per event mapped (config.tracing); default off. */
  readonly tracing?: Tracing;
  /** Default serviceGroupId(config, 'mapper'), `<kafka.clientId>-mapper` (two deployments on one Kafka never share a group). */
  readonly groupId?: string;
  readonly partitionsConsumedConcurrently?: number;
  /** The loop gave up (a programming error, a stalled handler, a crashed consumer: see consumer-loop.ts); exit non-zero. */
  readonly onFatal?: (error: RecordLoopFatalError) => void;
  /**
   * Where the loop hands its records: the Nest transport (KafkaRecordLoopTransport, which calls MapperController and
   * so `handleBatch`); default `handleBatch` directly.
   */
  readonly dispatch?: (records: readonly LoopRecord[], context: BatchContext) => Promise<readonly RecordOutcome[]>;
}

/**
 * The mapper stage: consumes both change topics (group `<clientId>-mapper`), maps each event through the pipes of its
 * source directory and produces the write requests to the destinations' operation topics, exactly once: each chunk's
 * requests, dead letters and input offsets commit in one Kafka transaction, with one transactional id per input
 * partition (`<group>.<topic>.<partition>`), so a replica killed between producing and committing, or one the group
 * moved on from, never has its requests applied (writers read committed). Started and stopped with the Nest application.
 */
export class MapperService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly mapper: RecordMapper;
  /** Sign requests (secrets.signOperations) and bind sealed passwords (secrets.operationKeys). */
  private readonly operationKeys: Keyring | undefined;
  /** Which pipes are paused (idsync pipe pause|resume): their input is held. */
  readonly pipeControl: PipeControlView;
  /** Maps a chunk of change records and produces their write requests (mapper-handler.ts). */
  readonly handleBatch: (records: readonly LoopRecord[], context: BatchContext) => Promise<RecordOutcome[]>;
  private loop: RecordLoop | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: MapperServiceOptions) {
    this.operationKeys = operationKeyring(options.config.secrets);
    this.mapper = new RecordMapper(options.config, this.operationKeys);
    this.pipeControl = new PipeControlView({ kafka: options.kafka, topic: options.config.kafka.topics.checkpoints.name, logger: options.logger, groupPrefix: this.groupId });
    const pipes = options.config.pipes.map((pipe) => pipe.name);
    options.metrics.gauge('idsync_mapper_pipe_paused', 'Whether a pipe is paused (1; idsync pipe pause), its input held, or runs (0), by pipe', ['pipe'], (gauge) => {
      for (const pipe of pipes) gauge.set({ pipe }, this.pipeControl.isPaused(pipe) ? 1 : 0);
    });
    const { metrics, logger, tracing } = options;
    this.handleBatch = mapperHandler({
      mapper: this.mapper,
      metrics,
      logger,
      signingKeys: signingKeyring(options.config.secrets),
      pipes: this.pipeControl,
      ...(tracing === undefined ? {} : { tracing }),
    });
  }

  get groupId(): string {
    return this.options.groupId ?? serviceGroupId(this.options.config, 'mapper');
  }

  /** The running loop (for its health probes); undefined until started. */
  get recordLoop(): RecordLoop | undefined {
    return this.loop;
  }

  get inputTopics(): string[] {
    const { topics } = this.options.config.kafka;
    return [topics.adChanges.name, topics.dsChanges.name];
  }

  /** Creates missing topics and starts consuming. */
  async start(): Promise<void> {
    const { kafka, config, logger, metrics } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const created = await ensureTopics(admin, config.kafka.topics);
      if (created.length > 0) logger.event('info', 'mapper.topics.created', { created });
    } finally {
      await admin.disconnect();
    }
    // A pipe paused before a restart stays paused: its state is read before the first record.
    await this.pipeControl.start();
    this.loop = await runRecordLoop({
      kafka,
      groupId: this.groupId,
      topics: this.inputTopics,
      stage: 'mapper',
      deadLetterTopic: config.kafka.topics.deadLetter.name,
      logger,
      metrics,
      exactlyOnce: true,
      maxRecordBytes: config.kafka.maxRecordBytes,
      outputTopics: [config.kafka.topics.adOperations.name, config.kafka.topics.dsOperations.name],
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      handleBatch: this.options.dispatch ?? this.handleBatch,
      ...(this.options.onFatal ? { onFatal: this.options.onFatal } : {}),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined);
    // The loop is kept after its stop: its status still tells liveness whether it stalled while the service shuts down.
    await this.loop?.stop();
    await this.pipeControl.stop();
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
      onFailure: async (failure) => {
        this.options.logger.event('warn', 'mapper.start.failed', failure);
      },
      onDenied: (error) => this.options.onFatal?.(error),
    });
  }
}
