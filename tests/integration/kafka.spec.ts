import { createKafka, createProducer, ensureTopics } from '@idsync/platform';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from './support/stack';

describe('Apache Kafka in the local stack', () => {
  const config = stackConfig();

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
  });

  it('creates the configured topics with their partition counts', async () => {
    const kafka = createKafka(config.kafka, 'idsync-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, config.kafka.topics);
      const metadata = await admin.fetchTopicMetadata({ topics: [config.kafka.topics.adChanges.name] });
      expect(metadata.topics[0]?.partitions).toHaveLength(config.kafka.topics.adChanges.partitions);
    } finally {
      await admin.disconnect();
    }
  });

  it('delivers a produced record, key and value, to a consumer group', async () => {
    const kafka = createKafka(config.kafka, 'idsync-test');
    const topic = `idsync.test.roundtrip.${uniqueSuffix()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'entry-1', value: Buffer.from([0, 1, 2, 255]) }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `idsync-test-${uniqueSuffix()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: Buffer }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve({ key: message.key?.toString() ?? '', value: message.value ?? Buffer.alloc(0) });
        },
      });
    });
    await consumer.disconnect();
    expect(received.key).toBe('entry-1');
    expect([...received.value]).toEqual([0, 1, 2, 255]);
  });
});
