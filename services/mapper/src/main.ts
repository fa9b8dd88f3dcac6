import { createKafka, ensureTopics, kafkaProbe, runService, ServiceModule } from '@idsync/platform';

void runService('mapper', ({ config, logger }) => {
  const kafka = createKafka(config.kafka, `${config.kafka.clientId}-mapper`, logger);
  return ServiceModule.create({
    logger,
    probes: [kafkaProbe(kafka)],
    event: 'mapper.topics',
    report: async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const created = await ensureTopics(admin, config.kafka.topics);
        return { created, topics: Object.values(config.kafka.topics).map((t) => `${t.name} (${t.partitions} partitions)`) };
      } finally {
        await admin.disconnect();
      }
    },
  });
});
