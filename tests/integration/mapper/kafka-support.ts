import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { JsonLogger, type KafkaClient, SecretRedactor } from '@idsync/platform';
import { READER_MAX_WAIT_MS, testKafka } from '../support/kafka';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';

/**
 * Kafka of the local stack, fails loudly when it is not running: `client` for the code under test, `kafkajs` (the
 * same client's kafkajs) for the helpers below.
 */
export async function stackKafka(): Promise<{ client: KafkaClient; kafkajs: Kafka }> {
  const config = stackConfig();
  const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
  await requireServer('Kafka', host, port);
  return testKafka(config.kafka, `idsync-test-${uniqueSuffix()}`);
}

/** Topics used by one test file, deleted at the end. */
export class TestTopics {
  private readonly created: string[] = [];
  constructor(private readonly kafka: Kafka) {}

  async create(prefix: string, partitions = 1, configEntries: { name: string; value: string }[] = []): Promise<string> {
    const topic = `idsync.test.${prefix}.${uniqueSuffix()}`;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }] });
    } finally {
      await admin.disconnect();
    }
    this.created.push(topic);
    return topic;
  }

  async deleteAll(): Promise<void> {
    if (this.created.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: this.created });
    } finally {
      await admin.disconnect();
    }
  }
}

/** Produces as the product does (idempotent, Java-compatible partitioning), with explicit partitions where given. */
export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
  });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Number of records in a topic (sum of high watermarks; the test topics are never truncated). */
export async function recordCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/**
 * Reads every record of a topic (waits until `count` are there, then `settleMs` more for any beyond them), in offset
 * order per partition. Read committed unless `readUncommitted` (which also sees records of aborted transactions).
 */
export async function readAll(kafka: Kafka, topic: string, count: number, timeoutMs = 30_000, options: { readUncommitted?: boolean; settleMs?: number } = {}): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: `idsync-test-reader-${uniqueSuffix()}`, readUncommitted: options.readUncommitted ?? false, maxWaitTimeInMs: READER_MAX_WAIT_MS });
  const seen: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${seen.length} of ${count} records on ${topic} within ${timeoutMs} ms`)), timeoutMs);
      if (count === 0) {
        clearTimeout(timer);
        resolve();
        return;
      }
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push({ partition, offset: message.offset, key: message.key, value: message.value });
          if (seen.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    if (options.settleMs) await new Promise((resolve) => setTimeout(resolve, options.settleMs));
  } finally {
    await consumer.disconnect();
  }
  return seen.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}

/** Captured log lines of a test logger, parsed. */
export function testLogger(): { logger: JsonLogger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = new JsonLogger('test', 'debug', new SecretRedactor([]), (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { logger, lines };
}

/** Resolves when `condition` holds (polled), rejects after the timeout with what it was waiting for. */
export async function eventually(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A promise the test settles from outside. */
export function gate<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
