import { type Kafka, type Message, Partitioners, type Producer, type RecordMetadata, type TopicMessages, type Transaction } from 'kafkajs';
import { type RecordLimits } from './record-size';

/** One record to produce. Header values are text. */
export interface KafkaRecord {
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Records for one topic. */
export interface TopicRecords {
  readonly topic: string;
  readonly messages: readonly KafkaRecord[];
}

/** Where a send put the records of one partition: the offset of the first of them. */
export interface SentBatch {
  readonly topic: string;
  readonly partition: number;
  readonly baseOffset: number;
}

export interface RecordProducerOptions {
  /** How often a failed request is retried. Default: without end (idempotence needs it); tools bound it. */
  readonly retries?: number;
  /** Longest wait between two retries. Default 30 000. */
  readonly maxRetryTimeMs?: number;
  /** Whether producing to a missing topic may create it (when the broker allows). Default: the client's (yes). */
  readonly allowAutoTopicCreation?: boolean;
}

export interface TransactionalProducerOptions extends RecordProducerOptions {
  /** Stable per writer of a position: a new producer with the same id fences the older one. */
  readonly transactionalId: string;
  /** How long an open transaction of a dead producer holds back read-committed consumers. Default: kafkajs' (60 s). */
  readonly transactionTimeoutMs?: number;
}

/**
 * Idempotent producer, acks from all replicas, Java-compatible partitioning (Partitioners.DefaultPartitioner: same
 * key, same partition as Java clients), one request in flight. Retries are unbounded unless bounded by the options
 * (idempotence needs them): a send waits out a Kafka outage instead of failing the batch.
 */
function kafkajsProducer(kafka: Kafka, options: RecordProducerOptions & { readonly transactionalId?: string; readonly transactionTimeoutMs?: number }): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: {
      retries: options.retries ?? Number.MAX_SAFE_INTEGER,
      maxRetryTime: options.maxRetryTimeMs ?? 30_000,
      // A transaction begun right after the previous one's commit meets CONCURRENT_TRANSACTIONS until the broker has
      // written the markers (milliseconds); Java retries that after 20 ms, kafkajs' default waits ~200 ms per chunk.
      ...(options.transactionalId === undefined ? {} : { initialRetryTime: 20 }),
    },
    ...(options.allowAutoTopicCreation === undefined ? {} : { allowAutoTopicCreation: options.allowAutoTopicCreation }),
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    ...(options.transactionTimeoutMs === undefined ? {} : { transactionTimeout: options.transactionTimeoutMs }),
  });
}

/**
 * Sends records at least once (made by KafkaClient.producer): `send` and `sendBatch` resolve once every in-sync
 * replica has them. `send` is one request; `sendBatch` with `limits` splits the records into requests under each
 * topic's record limit and throws RecordTooLargeError, sending nothing, when one record is over it.
 */
export class RecordProducer {
  private readonly producer: Producer;

  /** Made by KafkaClient.producer(). */
  constructor(kafka: Kafka, options: RecordProducerOptions = {}) {
    this.producer = kafkajsProducer(kafka, options);
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }

  async send(records: TopicRecords): Promise<SentBatch[]> {
    return sentBatches(await this.producer.send({ topic: records.topic, acks: -1, messages: plain(records.messages) }));
  }

  async sendBatch(batch: readonly TopicRecords[], limits?: RecordLimits): Promise<void> {
    for (const request of requests(batch, limits)) await this.producer.sendBatch({ acks: -1, topicMessages: request });
  }
}

/**
 * A producer with a transactional id (made by KafkaClient.transactionalProducer): records and consumer-group offsets
 * commit together in a KafkaTransaction, seen by read-committed consumers all at once or not at all.
 */
export class TransactionalProducer {
  private readonly producer: Producer;
  readonly transactionalId: string;

  /** Made by KafkaClient.transactionalProducer(). */
  constructor(kafka: Kafka, options: TransactionalProducerOptions) {
    this.transactionalId = options.transactionalId;
    this.producer = kafkajsProducer(kafka, options);
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /**
   * Takes the transactional id now: an older producer with the same id is fenced (its open transaction aborted, a
   * commit in flight completed first). kafkajs would otherwise register the id only at the first transaction.
   */
  async fence(): Promise<void> {
    const registration = await this.producer.transaction();
    await registration.abort();
  }

  async begin(): Promise<KafkaTransaction> {
    return new KafkaTransaction(await this.producer.transaction());
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** A consumer group's offset committed with a transaction; `metadata` is stored with it (read back by committedOffsets). */
export interface TransactionOffset {
  readonly partition: number;
  readonly offset: number;
  readonly metadata?: string;
}

/** One open transaction: what it sends and the offsets it commits become visible together, at `commit`. */
export class KafkaTransaction {
  /** Made by TransactionalProducer.begin(). */
  constructor(private readonly transaction: Transaction) {}

  async send(records: TopicRecords): Promise<SentBatch[]> {
    return sentBatches(await this.transaction.send({ topic: records.topic, acks: -1, messages: plain(records.messages) }));
  }

  /** As RecordProducer.sendBatch: with `limits`, requests under each topic's record limit. */
  async sendBatch(batch: readonly TopicRecords[], limits?: RecordLimits): Promise<void> {
    for (const request of requests(batch, limits)) await this.transaction.sendBatch({ acks: -1, topicMessages: request });
  }

  /** Commits `groupId`'s offsets on `topic` with the transaction (the next offset to read, per partition). */
  async commitOffsets(groupId: string, topic: string, partitions: readonly TransactionOffset[]): Promise<void> {
    await this.transaction.sendOffsets({
      consumerGroupId: groupId,
      topics: [
        {
          topic,
          // kafkajs sends a partition's metadata when it is there (its types leave it out).
          partitions: partitions.map((p) =>
            p.metadata === undefined ? { partition: p.partition, offset: String(p.offset) } : ({ partition: p.partition, offset: String(p.offset), metadata: p.metadata } as never),
          ),
        },
      ],
    });
  }

  async commit(): Promise<void> {
    await this.transaction.commit();
  }

  async abort(): Promise<void> {
    await this.transaction.abort();
  }

  /** False once committed or aborted. */
  isActive(): boolean {
    return this.transaction.isActive();
  }
}

function sentBatches(metadata: readonly RecordMetadata[]): SentBatch[] {
  return metadata.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: Number(m.baseOffset ?? m.offset ?? -1) }));
}

function plain(messages: readonly KafkaRecord[]): Message[] {
  return messages.map((m) => (m.headers === undefined ? { key: m.key, value: m.value } : { key: m.key, value: m.value, headers: { ...m.headers } }));
}

/**
 * The batch as produce requests. With `limits`: each request under every topic's limit, checked before anything is
 * sent; the usual case, every topic's records within one request, is a single request for all of them.
 */
function requests(batch: readonly TopicRecords[], limits: RecordLimits | undefined): TopicMessages[][] {
  const present = batch.filter((b) => b.messages.length > 0);
  if (limits === undefined) return present.length === 0 ? [] : [present.map((b) => ({ topic: b.topic, messages: plain(b.messages) }))];
  const perTopic = present.map((b) => ({ topic: b.topic, parts: limits.split(b.topic, b.messages) }));
  if (perTopic.every((t) => t.parts.length === 1)) {
    return perTopic.length === 0 ? [] : [perTopic.map((t) => ({ topic: t.topic, messages: plain(t.parts[0] ?? []) }))];
  }
  return perTopic.flatMap((t) => t.parts.map((part) => [{ topic: t.topic, messages: plain(part) }]));
}
