import { createKafka, ensureTopics, TopicFollower } from '@idsync/platform';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from './support/stack';

describe('Apache Kafka in the local stack', () => {
  const config = stackConfig();

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
  });

  it('creates the configured topics with their partition counts', async () => {
    const kafka = createKafka(config.kafka, 'cli');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, config.kafka.topics);
      const partitions = await admin.topicOffsets(config.kafka.topics.adChanges.name);
      expect(partitions).toHaveLength(config.kafka.topics.adChanges.partitions);
    } finally {
      await admin.disconnect();
    }
  });

  it('delivers a produced record, key and value, to a consumer group', async () => {
    const kafka = createKafka(config.kafka, 'cli');
    const topic = `idsync.test.roundtrip.${uniqueSuffix()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ name: topic, partitions: 3, replicationFactor: 1 }]);
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'entry-1', value: Buffer.from([0, 1, 2, 255]) }] });
    await producer.disconnect();

    let follower: TopicFollower | undefined;
    const received = await new Promise<{ key: string; value: Buffer }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
      follower = new TopicFollower(kafka, {
        topic,
        groupId: `idsync-test-${uniqueSuffix()}`,
        onBatch: ({ records }) => {
          const [record] = records;
          if (record === undefined) return;
          clearTimeout(timer);
          resolve({ key: record.key?.toString() ?? '', value: record.value ?? Buffer.alloc(0) });
        },
      });
      follower.start().catch(reject);
    });
    await follower?.stop();
    expect(received.key).toBe('entry-1');
    expect([...received.value]).toEqual([0, 1, 2, 255]);
  });
});
