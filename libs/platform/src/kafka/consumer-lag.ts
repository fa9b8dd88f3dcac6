import { type KafkaClient } from './client';
import { type KafkaAdmin } from './admin';

/** One partition's lag: end offset minus the group's committed offset (the log start when nothing is committed). */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly records: number;
}

/**
 * A consumer group's lag as the broker sees it, so that a consumer that stopped still shows its lag growing (its own
 * position would not move). Read at most every `maxAgeMs` (a scrape costs two admin requests per topic, not more);
 * when the broker does not answer, the last reading stays.
 */
export class ConsumerLag {
  private admin: KafkaAdmin | undefined;
  private readingAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<readonly PartitionLag[]> = Promise.resolve([]);
  private last: readonly PartitionLag[] = [];

  constructor(
    private readonly kafka: KafkaClient,
    private readonly groupId: string,
    private readonly topics: readonly string[],
    private readonly maxAgeMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The lag now, or the last reading when the broker takes longer than `waitMs` (a scrape must not hang). */
  async read(waitMs = 3_000): Promise<readonly PartitionLag[]> {
    if (this.now() - this.readingAt >= this.maxAgeMs) {
      this.readingAt = this.now();
      this.reading = this.fetch().then(
        (lags) => (this.last = lags),
        () => this.last,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<readonly PartitionLag[]>((resolve) => {
      timer = setTimeout(() => resolve(this.last), waitMs);
    });
    try {
      return await Promise.race([this.reading, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  private async fetch(): Promise<readonly PartitionLag[]> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    const lags: PartitionLag[] = [];
    const committed = await this.admin.committedOffsets(this.groupId, this.topics);
    for (const topic of this.topics) {
      const offsets = committed.find((t) => t.topic === topic)?.partitions ?? [];
      for (const end of await this.admin.topicOffsets(topic)) {
        const at = offsets.find((p) => p.partition === end.partition)?.offset ?? end.low;
        lags.push({ topic, partition: end.partition, records: Math.max(0, end.high - at) });
      }
    }
    return lags;
  }
}
