import { randomUUID } from 'node:crypto';
import { decodeWriteReceipt, UndecodableRecordError } from '@idsync/contracts';
import { type JsonLogger, type KafkaAdmin, type KafkaClient, ReadBarrier, TopicFollower } from '@idsync/platform';
import { AdDetectorError } from './errors';
import { OwnWrites } from './own-writes';

export interface ReceiptsViewOptions {
  readonly kafka: KafkaClient;
  /** The ad-writer's receipts topic (receiptsTopicOf its operations topic). */
  readonly topic: string;
  /** Prefix of the view's consumer groups (receiptsGroupPrefix); a random suffix each start, nothing committed. */
  readonly groupPrefix: string;
  /** How long after its receipt a change may still land (OwnWrites). */
  readonly settleMs: number;
  /** How long catchUp waits for the view to read the topic's end (default 15 s). */
  readonly catchUpTimeoutMs?: number;
  readonly logger?: JsonLogger;
}

/**
 * The ad-writer's receipts as the ad-detector follows them (I/O around OwnWrites): the topic read from its beginning
 * (a day at most; receipts older than the start point are ignored), then followed. `catchUp()` is the read barrier
 * the detector passes after each DirSync read: every receipt published before the read is then known, and a receipt
 * is published before its change is sent, so every change of the writer's that the read showed has its receipt.
 */
export class ReceiptsView {
  readonly ownWrites: OwnWrites;
  private readonly barrier: ReadBarrier;
  private follower: TopicFollower | undefined;
  private admin: KafkaAdmin | undefined;
  private crashed: Error | null = null;
  private skipped = 0;

  constructor(private readonly options: ReceiptsViewOptions) {
    this.ownWrites = new OwnWrites({ settleMs: options.settleMs });
    this.barrier = new ReadBarrier({
      ends: () => this.highWatermarks(),
      timeoutMs: options.catchUpTimeoutMs ?? 15_000,
      behind: (behind, waitedMs) =>
        new AdDetectorError(
          `the write receipts on ${options.topic} were not read to their end within ${waitedMs} ms (${behind.map((b) => `partition ${b.partition} at ${b.at} of ${b.target}`).join(', ')})`,
          true,
        ),
    });
  }

  get running(): boolean {
    return this.follower !== undefined;
  }

  /** Reads the topic from its beginning, keeping receipts written from `from` on, and follows it. */
  async start(from: number): Promise<void> {
    const { kafka, topic, groupPrefix, logger } = this.options;
    this.crashed = null;
    this.barrier.reset();
    this.ownWrites.forgetBefore(from);
    this.admin = kafka.admin();
    await this.admin.connect();
    const follower = new TopicFollower(kafka, {
      topic,
      groupId: `${groupPrefix}${randomUUID()}`,
      onCrash: (error) => {
        this.crashed = error;
        logger?.event('error', 'ad-detector.receipts.crashed', { topic, error: error.message });
      },
      onBatch: (batch) => {
        for (const record of batch.records) {
          if (record.value === null) continue;
          try {
            this.ownWrites.note(decodeWriteReceipt(record.value));
          } catch (error) {
            if (!(error instanceof UndecodableRecordError)) throw error;
            // Not a receipt (a forged or foreign record): it recognizes nothing, so nothing is lost by skipping it.
            this.skipped += 1;
            logger?.event('warn', 'ad-detector.receipts.skipped', { topic, partition: batch.partition, offset: record.offset, reason: error.message });
          }
        }
        if (batch.records.length > 0) this.barrier.advance(batch.partition, BigInt(batch.lastOffset) + 1n);
      },
    });
    this.follower = follower;
    await follower.start();
  }

  /** Resolves once every receipt on the topic now is known; throws (retriable) when the view is behind or crashed. */
  async catchUp(): Promise<void> {
    if (this.crashed !== null) throw new AdDetectorError(`the write receipts reader stopped: ${this.crashed.message}`, true, { cause: this.crashed });
    await this.barrier.catchUp();
  }

  status(): { readonly topic: string; readonly pending: number; readonly skipped: number } {
    return { topic: this.options.topic, pending: this.ownWrites.pending, skipped: this.skipped };
  }

  async stop(): Promise<void> {
    const { follower, admin } = this;
    this.follower = undefined;
    this.admin = undefined;
    await follower?.stop();
    await admin?.disconnect();
  }

  private async highWatermarks(): Promise<Map<number, bigint>> {
    if (this.admin === undefined) throw new AdDetectorError('the write receipts view is not started', true);
    const offsets = await this.admin.topicOffsets(this.options.topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }
}
