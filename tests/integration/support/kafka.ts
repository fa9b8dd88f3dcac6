import { Kafka, type KafkaConfig as KafkaJsConfig, logLevel } from 'kafkajs';
import { kafkaAcls, type KafkaConfig, type SyncConfig } from '@idsync/config';
import { KafkaClient, type KafkaPatience } from '@idsync/platform';
import { stackEnv, stackKafkaOptions } from './local-stack';

export { stackKafkaOptions };

/** A test's reader disconnects once it has what it reads, and disconnect waits for the fetch in flight (kafkajs: 5 s). */
export const READER_MAX_WAIT_MS = 250;

/** A kafkajs client as the stack's Kafka administrator (see stackKafkaOptions). */
export function stackKafka(clientId: string, options: Omit<KafkaJsConfig, 'brokers' | 'ssl' | 'sasl' | 'clientId'> = {}): Kafka {
  return new Kafka({ logLevel: logLevel.NOTHING, ...options, ...stackKafkaOptions(), clientId });
}

/**
 * A Kafka client for a test: `client` is the product's (what the code under test gets), `kafkajs` the kafkajs client
 * under it, for what the product never does itself (deleting topics, changing their settings, reading as a bystander).
 * The brokers of `config`, as the stack's administrator; same timeouts as createKafka without a logger (kafkajs logs
 * its warnings to the console).
 */
export function testKafka(config: Pick<KafkaConfig, 'brokers'>, clientId: string, patience: KafkaPatience = 'service'): { client: KafkaClient; kafkajs: Kafka } {
  const kafkajs = new Kafka({
    ...stackKafkaOptions(),
    clientId,
    brokers: config.brokers,
    connectionTimeout: patience === 'tool' ? 3_000 : 5_000,
    retry: patience === 'tool' ? { retries: 2, initialRetryTime: 200 } : { retries: 8, initialRetryTime: 200 },
    logLevel: logLevel.WARN,
  });
  return { client: KafkaClient.wrap(kafkajs, { clientId, patience }), kafkajs };
}

/**
 * Gives each program of `config` the ACLs `idsync kafka-acls --apply` would (the same computation), as the stack's
 * administrator; `remove` takes them away again when the run is over.
 */
export async function grantRunAcls(config: SyncConfig, remove = false): Promise<number> {
  const acls = kafkaAcls(config);
  const { client } = testKafka(config.kafka, `${config.kafka.clientId}-acl-setup`, 'tool');
  const admin = client.admin();
  await admin.connect();
  try {
    if (remove) await admin.deleteAcls(acls);
    else await admin.createAcls(acls);
  } finally {
    await admin.disconnect();
  }
  return acls.length;
}

/** A kafkajs client as one program's own account (idsync-<program>, its KAFKA_<PROGRAM>_PASSWORD from the stack). */
export function programKafka(program: string, clientId: string, password?: string): Kafka {
  const env = stackEnv();
  const variable = `KAFKA_${program.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
  const secret = password ?? env[variable];
  if (!secret) throw new Error(`the local stack's settings have no ${variable}: run \`npm run stack -- up\` again`);
  return new Kafka({
    ...stackKafkaOptions(env),
    clientId,
    sasl: { mechanism: 'scram-sha-512', username: `idsync-${program}`, password: secret },
    retry: { retries: 1, initialRetryTime: 100 },
    logLevel: logLevel.NOTHING,
  });
}
