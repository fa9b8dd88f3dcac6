import { type SyncConfig } from '@idsync/config';
import { CONFIG, consumerLoopProbes, exitOnFatal, JsonLogger, KAFKA, kafkaProbe, type KafkaClient, KafkaRecordLoopTransport, Metrics, runService, ServiceModule, Tracing } from '@idsync/platform';
import { ENTRY_CHANGES, MapperController } from './mapper-controller';
import { MapperService } from './mapper-service';

void runService(
  'mapper',
  ServiceModule.forService({
    controllers: [MapperController],
    providers: [
      { provide: KafkaRecordLoopTransport, useFactory: () => new KafkaRecordLoopTransport(ENTRY_CHANGES) },
      {
        provide: MapperService,
        inject: [KAFKA, CONFIG, JsonLogger, Metrics, Tracing, KafkaRecordLoopTransport],
        useFactory: (kafka: KafkaClient, config: SyncConfig, logger: JsonLogger, metrics: Metrics, tracing: Tracing, transport: KafkaRecordLoopTransport) =>
          new MapperService({
            kafka,
            config,
            logger,
            metrics,
            tracing,
            // The loop hands its records to MapperController through the transport.
            dispatch: transport.handleBatch,
            // The loop gave up with its offsets uncommitted (a bug, a stalled handler, a crashed consumer): exit non-zero.
            onFatal: exitOnFatal('mapper', logger),
          }),
      },
    ],
    inject: [MapperService, KAFKA, CONFIG],
    parts: (mapper: MapperService, kafka: KafkaClient, config: SyncConfig) => {
      const loop = consumerLoopProbes('mapper', () => mapper.recordLoop);
      return {
        probes: [
          kafkaProbe(kafka, { intervalMs: config.http.probeIntervalMs }),
          loop.readiness,
          // A paused pipe is an operator's decision, not a failure: reported, always up.
          {
            name: 'pipes',
            check: async () => ({
              paused: mapper.pipeControl.paused.map((c) => ({ pipe: c.pipe, since: new Date(c.at).toISOString(), by: c.by, ...(c.reason === undefined ? {} : { reason: c.reason }) })),
            }),
          },
        ],
        liveness: [loop.liveness],
        event: 'mapper.pipes',
        report: async () => ({ groupId: mapper.groupId, consumes: mapper.inputTopics, pipes: mapper.mapper.describe() }),
      };
    },
  }),
  { transport: KafkaRecordLoopTransport },
);
