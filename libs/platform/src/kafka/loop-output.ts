import { type KafkaAdmin } from './admin';
import { type KafkaClient } from './client';
import { type KafkaTransaction, type RecordProducer, type TopicRecords, type TransactionalProducer } from './producer';
import { RecordLimits, DEFAULT_MAX_RECORD_BYTES } from './record-size';

/** Records for one topic, as a handler produces them. */
export type OutputMessages = TopicRecords;

/**
 * Where a handler call's output goes: sent records are acknowledged by every in-sync replica when `send` resolves.
 * `send` splits what it is given into requests under each topic's limit and throws RecordTooLargeError (sending
 * nothing) when one record is over it: handlers check their records with `limit` first to dead-letter only those.
 */
export interface LoopOutput {
  send(batch: readonly OutputMessages[]): Promise<void>;
  /** The largest record `topic` takes (see record-size.ts). */
  limit(topic: string): number;
}

/** One chunk's output and the input offset that goes with it. */
export interface ChunkOutput {
  readonly sink: LoopOutput;
  /**
   * Makes the chunk's output and its next input offset durable. Exactly-once: the output records and the offset commit
   * in one Kafka transaction (`'transaction'`). When there is nothing to bind the offset to — at least once, where the
   * output is already acknowledged, or a chunk that produced nothing — it says `'consumer'`: the loop commits the
   * offset through its consumer (fenced by the group's generation, as a transaction is by its producer's epoch).
   */
  commit(nextOffset: string): Promise<OffsetCommitBy>;
  /** Discards what the chunk produced, where that is possible (exactly-once). Never throws. */
  abort(): Promise<void>;
}

/** Who commits a chunk's input offset: its transaction, or the loop's consumer. */
export type OffsetCommitBy = 'transaction' | 'consumer';

/**
 * How a consumer loop produces: `claim` before a partition's records are handled (says from which offset on they are
 * still to be done), `begin` per chunk, `release` for partitions the group took away.
 */
export interface OutputMode {
  readonly exactlyOnce: boolean;
  /** Connects; `limits` are the record limits per topic, read by the loop at start. */
  start(limits: RecordLimits): Promise<void>;
  /**
   * Takes the partition for this instance. Returns the committed offset when it had to be read again (the records
   * before it were done by an earlier owner, whose last transaction the claim completed), undefined otherwise.
   */
  claim(topic: string, partition: number): Promise<bigint | undefined>;
  begin(topic: string, partition: number): Promise<ChunkOutput>;
  /** Forgets every partition not in `assignment`. */
  release(assignment: Readonly<Record<string, readonly number[]>>): Promise<void>;
  close(): Promise<void>;
}

/** Output through one idempotent producer; offsets are committed by the consumer after the output is acknowledged. */
export class AtLeastOnceOutput implements OutputMode {
  readonly exactlyOnce = false;
  private readonly sink: LoopOutput;
  private limits = new RecordLimits(DEFAULT_MAX_RECORD_BYTES);

  constructor(
    private readonly producer: RecordProducer,
    private readonly owned: boolean,
  ) {
    this.sink = {
      send: async (batch) => {
        await this.producer.sendBatch(batch, this.limits);
      },
      limit: (topic) => this.limits.of(topic),
    };
  }

  async start(limits: RecordLimits): Promise<void> {
    this.limits = limits;
    if (this.owned) await this.producer.connect();
  }

  async claim(): Promise<undefined> {
    return undefined;
  }

  async begin(): Promise<ChunkOutput> {
    return { sink: this.sink, commit: async () => 'consumer', abort: async () => undefined };
  }

  async release(): Promise<void> {}

  async close(): Promise<void> {
    if (this.owned) await this.producer.disconnect();
  }
}

export interface ExactlyOnceOptions {
  readonly kafka: KafkaClient;
  readonly groupId: string;
  /**
   * How long an open transaction of a killed instance may hold back its partition's read-committed consumers before
   * the broker aborts it (a new owner's claim aborts it at once). Default 30 000.
   */
  readonly transactionTimeoutMs?: number;
}

/**
 * Exactly-once between input and output (Kafka's transactions, in the per-partition form kafkajs can do): each input
 * partition has its own transactional producer, `<group>.<topic>.<partition>`. A chunk's output, its dead letters and
 * its input offset commit in one transaction; read-committed consumers see the output only with the offset.
 *
 * Claiming a partition initialises its transactional id, which fences an older owner (a killed instance, or one the
 * group moved on from): its open transaction is aborted, a commit in flight completes first. The committed offset is
 * read after that, so records an older owner committed are skipped even when the consumer fetched from an older
 * offset. Any failure after a chunk's transaction began, other than the handler's own, drops the producer: the next
 * attempt claims again and reads the committed offset, so an outcome the client never heard of is never repeated.
 */
export class ExactlyOnceOutput implements OutputMode {
  readonly exactlyOnce = true;
  private readonly producers = new Map<string, TransactionalProducer>();
  private admin: KafkaAdmin | undefined;
  private limits = new RecordLimits(DEFAULT_MAX_RECORD_BYTES);

  constructor(private readonly options: ExactlyOnceOptions) {}

  async start(limits: RecordLimits): Promise<void> {
    this.limits = limits;
    this.admin = this.options.kafka.admin();
    await this.admin.connect();
  }

  transactionalId(topic: string, partition: number): string {
    return `${this.options.groupId}.${topic}.${partition}`;
  }

  async claim(topic: string, partition: number): Promise<bigint | undefined> {
    const key = partitionKey(topic, partition);
    if (this.producers.has(key)) return undefined;
    const producer = this.options.kafka.transactionalProducer({
      transactionalId: this.transactionalId(topic, partition),
      transactionTimeoutMs: this.options.transactionTimeoutMs ?? 30_000,
    });
    await producer.connect();
    try {
      await producer.fence();
      const committed = await this.committedOffset(topic, partition);
      this.producers.set(key, producer);
      return committed;
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async begin(topic: string, partition: number): Promise<ChunkOutput> {
    const key = partitionKey(topic, partition);
    const producer = this.producers.get(key);
    if (!producer) throw new PartitionNotClaimedError(topic, partition);
    // Begun at the chunk's first record out: a chunk that produces nothing (the mapper's echoes of the writers' own
    // changes, dropped by ignoreChangesBy) costs no transaction (AddOffsetsToTxn, TxnOffsetCommit, EndTxn and the
    // broker's markers), and its offset is committed by the loop's consumer. The broker keeps whichever of a
    // transactional and a plain commit of a partition was written last, so the two mix without going backwards.
    let transaction: KafkaTransaction | undefined;
    const open = async (): Promise<KafkaTransaction> => {
      if (transaction) return transaction;
      try {
        transaction = await producer.begin();
      } catch (error) {
        await this.drop(key);
        throw error;
      }
      return transaction;
    };
    return {
      sink: {
        send: async (batch) => {
          if (batch.every((records) => records.messages.length === 0)) return;
          await (await open()).sendBatch(batch, this.limits);
        },
        limit: (topic) => this.limits.of(topic),
      },
      commit: async (nextOffset) => {
        if (!transaction) return 'consumer';
        try {
          await transaction.commitOffsets(this.options.groupId, topic, [{ partition, offset: Number(nextOffset) }]);
          await transaction.commit();
          return 'transaction';
        } catch (error) {
          // The outcome may be unknown (a commit whose answer was lost): claim again and read what was committed.
          await transaction.abort().catch(() => undefined);
          await this.drop(key);
          throw error;
        }
      },
      abort: async () => {
        if (!transaction?.isActive()) return;
        try {
          await transaction.abort();
        } catch {
          await this.drop(key);
        }
      },
    };
  }

  async release(assignment: Readonly<Record<string, readonly number[]>>): Promise<void> {
    const owned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => partitionKey(topic, p))));
    await Promise.all([...this.producers.keys()].filter((key) => !owned.has(key)).map((key) => this.drop(key)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((key) => this.drop(key)));
    await this.admin?.disconnect();
    this.admin = undefined;
  }

  private async drop(key: string): Promise<void> {
    const producer = this.producers.get(key);
    this.producers.delete(key);
    await producer?.disconnect().catch(() => undefined);
  }

  private async committedOffset(topic: string, partition: number): Promise<bigint | undefined> {
    if (!this.admin) throw new Error('ExactlyOnceOutput.start() must be called first');
    const [offsets] = await this.admin.committedOffsets(this.options.groupId, [topic]);
    const offset = offsets?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || offset === null ? undefined : BigInt(offset);
  }
}

/** A chunk began on a partition this instance does not hold (its producer was dropped after a failure): retried. */
export class PartitionNotClaimedError extends Error {
  readonly retriable = true;
  constructor(topic: string, partition: number) {
    super(`${topic}[${partition}] is not claimed by this instance`);
    this.name = 'PartitionNotClaimedError';
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}|${partition}`;
}
