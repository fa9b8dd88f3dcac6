import { type Consumer } from 'kafkajs';
import { fetchLimitsOf, type KafkaClient, kafkajsOf } from './client';

/** Longest wait of an idle fetch: a new record ends it at once, so this bounds only how long `stop` can wait. */
const FOLLOWER_MAX_WAIT_MS = 500;

/** A record as a TopicFollower hands it over. */
export interface FollowedRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/** The records of one fetch from one partition, in offset order. */
export interface FollowedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly FollowedRecord[];
  /** Offset of the batch's last record (meaningful when `records` is not empty). */
  readonly lastOffset: string;
}

export interface TopicFollowerOptions {
  readonly topic: string;
  /**
   * The reader's consumer group. Nothing is ever committed to it: give each reader a group of its own (a random
   * suffix) and it reads every partition from the beginning.
   */
  readonly groupId: string;
  /** Largest fetch per partition (the client's kafka.fetchMaxBytesPerPartition otherwise); the fetch's total is the client's. */
  readonly maxBytesPerPartition?: number;
  /** Called for each fetched batch, one partition at a time; the next fetch of that partition waits for it. */
  readonly onBatch: (batch: FollowedBatch) => Promise<void> | void;
  /** The client gave up on the reader and will not restart it: nothing more comes. */
  onCrash?(error: Error): void;
}

/**
 * Reads a whole topic from its beginning, then follows it (read_committed, never commits): the links view's reader.
 * `start` resolves once the reader has joined its group and runs; `stop` leaves and disconnects.
 */
export class TopicFollower {
  private readonly consumer: Consumer;

  constructor(
    kafka: KafkaClient,
    private readonly options: TopicFollowerOptions,
  ) {
    const limits = fetchLimitsOf(kafka);
    this.consumer = kafkajsOf(kafka).consumer({
      groupId: options.groupId,
      // disconnect waits for the fetch in flight: kafkajs' 5 s default made every service's stop take 5 s.
      maxWaitTimeInMs: FOLLOWER_MAX_WAIT_MS,
      ...limits,
      ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition, maxBytes: Math.max(limits.maxBytes ?? 0, options.maxBytesPerPartition) }),
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      if (!restart) options.onCrash?.(error);
    });
  }

  async start(): Promise<void> {
    const { topic, onBatch } = this.options;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        await onBatch({
          topic: batch.topic,
          partition: batch.partition,
          records: batch.messages.map((m) => ({ offset: m.offset, key: m.key ?? null, value: m.value ?? null })),
          lastOffset: batch.lastOffset(),
        });
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
