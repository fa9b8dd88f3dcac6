import { readFileSync } from 'node:fs';
import { Kafka, logLevel as KafkaLogLevel, Partitioners, type Admin, type Producer, type ProducerConfig, type KafkaConfig as KafkaJsConfig, type SASLOptions } from 'kafkajs';
import { type KafkaConfig } from '@idsync/config';
import { type JsonLogger } from './logger';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** `patience`: `service` rides out a broker restart (retries for about a minute); `tool` answers within seconds. */
export function createKafka(config: KafkaConfig, clientId: string, logger?: JsonLogger, patience: 'service' | 'tool' = 'service'): Kafka {
  const options: KafkaJsConfig = {
    clientId,
    brokers: config.brokers,
    connectionTimeout: patience === 'tool' ? 3_000 : 5_000,
    retry: patience === 'tool' ? { retries: 2, initialRetryTime: 200 } : { retries: 8, initialRetryTime: 200 },
    logLevel: KafkaLogLevel.WARN,
    ...(logger
      ? {
          logCreator:
            () =>
            ({ level, log }) => {
              const { message, ...fields } = log;
              logger.event(LEVELS[level] ?? 'info', `kafka: ${String(message)}`, fields);
            },
        }
      : {}),
  };
  if (config.ssl) {
    options.ssl = {
      rejectUnauthorized: config.ssl.rejectUnauthorized,
      ...(config.ssl.caFile ? { ca: [readFileSync(config.ssl.caFile, 'utf8')] } : {}),
    };
  }
  if (config.sasl) {
    options.sasl = { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions;
  }
  return new Kafka(options);
}

/** Creates the configured topics that do not exist yet; existing ones are left as they are. */
export async function ensureTopics(admin: Admin, topics: KafkaConfig['topics']): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = Object.values(topics).filter((t) => !existing.has(t.name));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({
      topic: t.name,
      numPartitions: t.partitions,
      replicationFactor: t.replicationFactor,
      // Only the latest position per detector, and the latest state of each link, matter.
      ...(t === topics.checkpoints || t === topics.links ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}),
    })),
  });
  return missing.map((t) => t.name);
}

/**
 * Idempotent producer, acks from all replicas, Java-compatible partitioning (same key, same partition as Java clients).
 * Retries are unbounded (idempotence needs it): a send waits out a Kafka outage instead of failing the batch.
 */
export function createProducer(kafka: Kafka, options: ProducerConfig = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
    ...options,
  });
}
