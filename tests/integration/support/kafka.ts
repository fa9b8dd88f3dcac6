import { Kafka, logLevel } from 'kafkajs';
import { type KafkaConfig } from '@idsync/config';
import { KafkaClient, type KafkaPatience } from '@idsync/platform';

/**
 * A Kafka client for a test: `client` is the product's (what the code under test gets), `kafkajs` the kafkajs client
 * under it, for what the product never does itself (deleting topics, changing their settings, reading as a bystander).
 * Same settings as createKafka without a logger (kafkajs logs its warnings to the console).
 */
export function testKafka(config: Pick<KafkaConfig, 'brokers'>, clientId: string, patience: KafkaPatience = 'service'): { client: KafkaClient; kafkajs: Kafka } {
  const kafkajs = new Kafka({
    clientId,
    brokers: config.brokers,
    connectionTimeout: patience === 'tool' ? 3_000 : 5_000,
    retry: patience === 'tool' ? { retries: 2, initialRetryTime: 200 } : { retries: 8, initialRetryTime: 200 },
    logLevel: logLevel.WARN,
  });
  return { client: KafkaClient.wrap(kafkajs, { clientId, patience }), kafkajs };
}
