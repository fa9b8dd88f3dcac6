import { type DynamicModule } from '@nestjs/common';
import { linksViewProbes } from '@idsync/links';
import { type SyncConfig } from '@idsync/config';
import {
  CONFIG,
  consumerLoopProbes,
  directoryProbe,
  exitOnFatal,
  JsonLogger,
  KAFKA,
  kafkaProbe,
  type KafkaClient,
  KafkaRecordLoopTransport,
  Metrics,
  namedDirectory,
  ServiceModule,
  Tracing,
  writerCredentials,
} from '@idsync/platform';
import { WRITER_TRANSPORT, WriterController } from './writer-controller';
import { WriterService, type WriterServiceName } from './writer-service';

/**
 * The whole writer service (ad-writer, ds-writer): health probes, metrics, and the write loop, whose records reach
 * WriterController through KafkaRecordLoopTransport (runService connects it: `{ transport: KafkaRecordLoopTransport }`).
 */
export function writerServiceModule(service: WriterServiceName): DynamicModule {
  return ServiceModule.forService({
    controllers: [WriterController],
    providers: [
      WRITER_TRANSPORT,
      {
        provide: WriterService,
        inject: [KAFKA, CONFIG, JsonLogger, Metrics, Tracing, KafkaRecordLoopTransport],
        useFactory: (kafka: KafkaClient, config: SyncConfig, logger: JsonLogger, metrics: Metrics, tracing: Tracing, transport: KafkaRecordLoopTransport) =>
          new WriterService({
            service,
            kafka,
            config,
            logger,
            metrics,
            tracing,
            // The loop hands its records to WriterController through the transport.
            dispatch: transport.handleBatch,
            // The loop gave up with its offsets uncommitted (a bug, the destination refuses our account, a hung write): exit non-zero.
            onFatal: exitOnFatal(service, logger),
          }),
      },
    ],
    inject: [WriterService, KAFKA, CONFIG],
    parts: (writer: WriterService, kafka: KafkaClient, config: SyncConfig) => {
      const block = config.services[service];
      const destination = namedDirectory(config, block.destination);
      const credentials = writerCredentials(config, service);
      const loop = consumerLoopProbes(service, () => writer.recordLoop);
      const links = linksViewProbes(() => writer.linksView);
      const probeEvery = { intervalMs: config.http.probeIntervalMs };
      return {
        probes: [
          kafkaProbe(kafka, probeEvery),
          directoryProbe(block.destination, destination, credentials, probeEvery),
          links.readiness,
          loop.readiness,
          // Held deletes are an operator's decision, not a failure: reported, always up.
          { name: 'deletes', check: async () => writer.breakerStatus() },
        ],
        liveness: [links.liveness, loop.liveness],
        event: `${service}.destination`,
        report: async () => ({ destination: block.destination, bindDn: credentials.bindDn, dryRun: block.dryRun, groupId: writer.groupId, consumes: writer.inputTopic }),
      };
    },
  });
}
