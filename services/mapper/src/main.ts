import { consumerLoopProbes, createKafka, exitOnFatal, kafkaProbe, runService, ServiceModule } from '@idsync/platform';
import { MapperService } from './mapper-service';

void runService('mapper', ({ config, logger, metrics, tracing }) => {
  const kafka = createKafka(config.kafka, 'mapper', logger);
  const mapper = new MapperService({
    kafka,
    config,
    logger,
    metrics,
    tracing,
    // The loop gave up with its offsets uncommitted (a bug, a stalled handler, a crashed consumer): exit non-zero.
    onFatal: exitOnFatal('mapper', logger),
  });
  const loop = consumerLoopProbes('mapper', () => mapper.recordLoop);
  return ServiceModule.create({
    logger,
    probes: [
      kafkaProbe(kafka, { intervalMs: config.http.probeIntervalMs }),
      loop.readiness,
      // A paused pipe is an operator's decision, not a failure: reported, always up.
      { name: 'pipes', check: async () => ({ paused: mapper.pipeControl.paused.map((c) => ({ pipe: c.pipe, since: new Date(c.at).toISOString(), by: c.by, ...(c.reason === undefined ? {} : { reason: c.reason }) })) }) },
    ],
    liveness: [loop.liveness],
    event: 'mapper.pipes',
    report: async () => ({ groupId: mapper.groupId, consumes: mapper.inputTopics, pipes: mapper.mapper.describe() }),
    providers: [{ provide: MapperService, useValue: mapper }],
  });
});
