import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { backoffDelay, classifyKafkaFailure, createKafka, directoryProbe, ensureTopics, kafkaProbe, Metrics, MetricsModule, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule, type HealthProbe, type JsonLogger } from '@idsync/platform';
import { afterImageAttributes, compilePipe } from '@idsync/mapping';
import { describeError, DIRSYNC_OID } from '@idsync/detector/ad';
import { AdDetector } from './stream/ad-detector';

const STREAM = Symbol('AD_DETECTOR_STREAM');

/** Runs the DirSync stream for the application's lifetime; a failure retrying cannot fix stops the service (exit 1). */
@Injectable()
class DirSyncStream implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(@Inject(STREAM) private readonly stream: { detector: AdDetector; logger: JsonLogger; prepare: () => Promise<void> }) {}

  onApplicationBootstrap(): void {
    const { detector, logger } = this.stream;
    this.running = this.prepare().then(() => detector.run(this.abort.signal)).catch((error: unknown) => {
      logger.event('error', 'ad-detector.stopped', { error: describeError(error) });
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    });
  }

  /**
   * Creates missing topics; a Kafka failure that may pass is tried again (a topic another service created a moment
   * ago can be unknown to the broker's metadata for a while: UNKNOWN_TOPIC_OR_PARTITION), anything else stops.
   */
  private async prepare(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.stream.prepare();
        return;
      } catch (error) {
        const verdict = classifyKafkaFailure(error);
        if (this.abort.signal.aborted || verdict === undefined || (verdict.action !== 'retry' && verdict.action !== 'fenced')) throw error;
        const delayMs = backoffDelay(attempt);
        this.stream.logger.event('warn', 'ad-detector.prepare.failed', { attempt, delayMs, error: describeError(error) });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}

/** Readiness of the stream itself: down once it failed, with the last publish time either way. */
function streamProbe(detector: AdDetector): HealthProbe {
  return {
    name: 'dirsync',
    async check() {
      const status = detector.status();
      const details = { ...status, lastPublishAt: status.lastPublishAt === null ? null : new Date(status.lastPublishAt).toISOString() };
      if (status.state === 'failed') throw new Error(`DirSync stream stopped: ${status.lastError ?? 'unknown error'}`);
      return details;
    },
  };
}

void runService('ad-detector', ({ config, logger }) => {
  const block = config.services['ad-detector'];
  const sourceName = block.source;
  const source = namedDirectory(config, sourceName);
  const kafka = createKafka(config.kafka, 'ad-detector', logger);
  const metrics = new Metrics();
  const detector = new AdDetector({
    directoryName: sourceName,
    directory: source,
    kafka,
    eventsTopic: config.kafka.topics.adChanges.name,
    checkpointTopic: config.kafka.topics.checkpoints.name,
    ...(config.kafka.topics.adState === undefined ? {} : { stateTopic: config.kafka.topics.adState.name }),
    ...(block.afterImage.enabled ? { afterImage: afterImageAttributes(sourceName, config.pipes.map(compilePipe), block.afterImage) } : {}),
    deadLetterTopic: config.kafka.topics.deadLetter.name,
    maxRecordBytes: config.kafka.maxRecordBytes,
    includeBaseDns: block.includeBaseDns,
    includeObjectClasses: block.includeObjectClasses,
    pollIntervalMs: block.pollIntervalMs,
    streamingPollShare: block.streamingPollShare,
    logger,
    metrics,
  });
  /** The events and checkpoint topics must exist before the first transaction (the mapper creates them too). */
  const prepare = async (): Promise<void> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, config.kafka.topics);
    } finally {
      await admin.disconnect();
    }
  };
  const probeEvery = { intervalMs: config.http.probeIntervalMs };
  const module = ServiceModule.create({
    logger,
    probes: [kafkaProbe(kafka, probeEvery), directoryProbe(sourceName, source, source, probeEvery), streamProbe(detector)],
    event: 'ad-detector.source',
    report: async () => {
      const { client, url } = await openLdapSession(sourceName, source);
      try {
        const dse = await readRootDse(client, ['defaultNamingContext', 'highestCommittedUSN', 'supportedControl', 'dnsHostName']);
        return {
          url,
          namingContext: dse['defaultnamingcontext']?.[0],
          dnsHostName: dse['dnshostname']?.[0],
          highestCommittedUSN: dse['highestcommittedusn']?.[0],
          dirSyncSupported: (dse['supportedcontrol'] ?? []).includes(DIRSYNC_OID),
        };
      } finally {
        await client.unbind();
      }
    },
    providers: [{ provide: STREAM, useValue: { detector, logger, prepare } }, DirSyncStream],
  });
  return { ...module, imports: [...(module.imports ?? []), MetricsModule.forMetrics(metrics)] };
});
