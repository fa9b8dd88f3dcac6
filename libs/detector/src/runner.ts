import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type SyncConfig } from '@idsync/config';
import { afterImageAttributes, compilePipe, type AfterImageAttributes } from '@idsync/mapping';
import { ensureReceiptsTopic, ensureTopics, type HealthProbe, JsonLogger, type KafkaClient, SERVICE, type ServiceIdentity } from '@idsync/platform';
import { type DetectorState, type PublishingOptions } from './coordinator';

/** Exit status when a detector stops for good (bad credentials, a purged or foreign checkpoint...): a supervisor notices. */
export const EXIT_DETECTOR_STOPPED = 3;

/** What the service runs: AdDetector, DsDetector. */
export interface RunnableDetector {
  run(): Promise<void>;
  stop(): Promise<void>;
  status(): { readonly state: DetectorState; readonly lastError?: string | null; readonly error?: string };
}

/** The service's detector (AdDetector, DsDetector), made by its module's factory. */
export const DETECTOR = Symbol('idsync.detector');

/**
 * Starts the detector with the application; on SIGTERM the batch in flight is finished and committed. A stop for good
 * ends the process with EXIT_DETECTOR_STOPPED and the reason on stderr.
 */
@Injectable()
export class DetectorRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(DETECTOR) private readonly detector: RunnableDetector,
    @Inject(SERVICE) private readonly service: ServiceIdentity,
    @Inject(JsonLogger) private readonly logger: JsonLogger,
  ) {}

  onApplicationBootstrap(): void {
    const { name } = this.service;
    this.detector.run().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const resyncNeeded = (error as { resyncNeeded?: unknown }).resyncNeeded === true;
      this.logger.event('error', `${name}.exit`, { exitCode: EXIT_DETECTOR_STOPPED, resyncNeeded, error: message });
      process.stderr.write(`${name}: ${message}\n`);
      process.exit(EXIT_DETECTOR_STOPPED);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.detector.stop();
    this.logger.event('info', `${this.service.name}.shutdown`, { ...this.detector.status() });
  }
}

/** Readiness of the stream itself (probe `detector`): its status, down once it stopped for good. */
export function detectorProbe(detector: RunnableDetector): HealthProbe {
  return {
    name: 'detector',
    async check() {
      const status = detector.status();
      if (status.state === 'failed') throw new Error(status.error ?? status.lastError ?? 'detector stopped');
      return { ...status };
    },
  };
}

/**
 * A detector service's publishing from its configuration: its change and state topics, the checkpoints, dead letters,
 * the after-image set (when on), and the topics created before the first transaction (the mapper creates them too).
 */
export function publishingFromConfig(
  config: SyncConfig,
  service: 'ad-detector' | 'ds-detector',
  kafka: KafkaClient,
  logger: JsonLogger,
): PublishingOptions & { readonly afterImage?: AfterImageAttributes } {
  const block = config.services[service];
  const topics = config.kafka.topics;
  const state = service === 'ad-detector' ? topics.adState : topics.dsState;
  return {
    kafka,
    eventsTopic: service === 'ad-detector' ? topics.adChanges.name : topics.dsChanges.name,
    checkpointTopic: topics.checkpoints.name,
    ...(state === undefined ? {} : { stateTopic: state.name }),
    ...(block.afterImage.enabled ? { afterImage: afterImageAttributes(block.source, config.pipes.map(compilePipe), block.afterImage) } : {}),
    deadLetterTopic: topics.deadLetter.name,
    maxRecordBytes: config.kafka.maxRecordBytes,
    prepare: async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const created = await ensureTopics(admin, topics);
        if (service === 'ad-detector' && config.services['ad-detector'].ownWrites.enabled) created.push(...(await ensureReceiptsTopic(admin, topics)));
        if (created.length > 0) logger.event('info', `${service}.topics-created`, { topics: created });
      } finally {
        await admin.disconnect();
      }
    },
  };
}
