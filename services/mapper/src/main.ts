import { createKafka, kafkaProbe, Metrics, MetricsModule, runService, ServiceModule } from '@idsync/platform';
import { MapperService } from './mapper-service';

void runService('mapper', ({ config, logger }) => {
  const kafka = createKafka(config.kafka, `${config.kafka.clientId}-mapper`, logger);
  const metrics = new Metrics();
  const mapper = new MapperService({
    kafka,
    config,
    logger,
    metrics,
    // A programming error stopped the loop with its offsets uncommitted: exit non-zero (via a graceful shutdown).
    onFatal: () => {
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    },
  });
  const service = ServiceModule.create({
    logger,
    probes: [kafkaProbe(kafka)],
    event: 'mapper.pipes',
    report: async () => ({ groupId: mapper.groupId, consumes: mapper.inputTopics, pipes: mapper.mapper.describe() }),
    providers: [{ provide: MapperService, useValue: mapper }],
  });
  return { ...service, imports: [...(service.imports ?? []), MetricsModule.forMetrics(metrics)] };
});
