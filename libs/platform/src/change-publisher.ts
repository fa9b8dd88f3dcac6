import { type Admin, type Kafka, type Producer } from 'kafkajs';
import { encodeEntryChange, entryKey, type EntryChangeEvent } from '@idsync/contracts';
import { createProducer } from './kafka';

export interface ChangePublisherOptions {
  /** `ad-detector` or `ds-detector`. */
  readonly detector: string;
  /** Directory name in the configuration. */
  readonly source: string;
  readonly eventsTopic: string;
  readonly checkpointTopic: string;
}

/** The last committed position of a detector, as its value type formatted it, and the server it came from. */
export interface StoredCheckpoint {
  readonly position: string;
  readonly server: string;
  /**
   * What the source says is at the position, when the detector can tell (ds-detector: a fingerprint of the change at
   * the checkpoint's change number). Another server's changelog, or a re-created one, has something else there.
   */
  readonly anchor?: string;
}

/** Kafka's default offset.metadata.max.bytes is 4096; the JSON wrapper needs a little room. */
const MAX_POSITION_LENGTH = 3_900;

export class CheckpointTooLargeError extends Error {
  readonly retriable = false;
  constructor(length: number) {
    super(`position of ${length} characters does not fit Kafka's offset metadata (${MAX_POSITION_LENGTH}); raise offset.metadata.max.bytes on the brokers`);
    this.name = 'CheckpointTooLargeError';
  }
}

/**
 * Publishes a detector's events and its new position in one Kafka transaction, so a restart (or a new pod)
 * resumes exactly after the last committed batch and a crash mid-batch publishes nothing of it.
 * The position is stored as the offset metadata of a dedicated consumer group (read back with fetchOffsets),
 * and, for people and tools reading topics, as a record on the compacted checkpoint topic.
 */
export class ChangePublisher {
  private producer: Producer | undefined;
  private admin: Admin | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ChangePublisherOptions,
  ) {}

  /** Consumer group whose committed offset metadata holds the position. */
  get checkpointGroup(): string {
    return `idsync.checkpoint.${this.options.detector}.${this.options.source}`;
  }

  get checkpointKey(): string {
    return `${this.options.detector}/${this.options.source}`;
  }

  /** Connecting with the transactional id fences any older instance still writing for this detector. */
  async connect(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.producer = createProducer(this.kafka, { transactionalId: `idsync.${this.options.detector}.${this.options.source}` });
    await this.producer.connect();
    // kafkajs registers the transactional id lazily, at the first transaction: do it now, so connecting fences.
    const registration = await this.producer.transaction();
    await registration.abort();
  }

  async readCheckpoint(): Promise<StoredCheckpoint | null> {
    return fetchStoredCheckpoint(this.requireAdmin(), this.checkpointGroup, this.options.checkpointTopic);
  }

  /** Events (keyed by stable entry id) and the position after them, atomically. An empty batch moves the position only. */
  async publish(events: readonly EntryChangeEvent[], checkpoint: StoredCheckpoint): Promise<void> {
    if (checkpoint.position.length > MAX_POSITION_LENGTH) throw new CheckpointTooLargeError(checkpoint.position.length);
    const producer = this.requireProducer();
    const value = JSON.stringify(checkpoint);
    const transaction = await producer.transaction();
    try {
      if (events.length > 0) {
        await transaction.send({
          topic: this.options.eventsTopic,
          acks: -1,
          messages: events.map((event) => ({ key: entryKey(event.entryId), value: encodeEntryChange(event) })),
        });
      }
      await transaction.send({ topic: this.options.checkpointTopic, acks: -1, messages: [{ key: this.checkpointKey, value }] });
      await transaction.sendOffsets({
        consumerGroupId: this.checkpointGroup,
        topics: [{ topic: this.options.checkpointTopic, partitions: [{ partition: 0, offset: '0', metadata: value } as never] }],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  async disconnect(): Promise<void> {
    await this.producer?.disconnect();
    await this.admin?.disconnect();
  }

  private requireProducer(): Producer {
    if (!this.producer) throw new Error('ChangePublisher.connect() must be called first');
    return this.producer;
  }

  private requireAdmin(): Admin {
    if (!this.admin) throw new Error('ChangePublisher.connect() must be called first');
    return this.admin;
  }
}

/**
 * The committed checkpoint of a group, read with any admin client: unlike ChangePublisher.connect(), reading does
 * not fence the detector (tools show the position before deciding to move it).
 */
export async function fetchStoredCheckpoint(admin: Admin, group: string, checkpointTopic: string): Promise<StoredCheckpoint | null> {
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [checkpointTopic] });
  const metadata = offsets[0]?.partitions.find((p) => p.partition === 0)?.metadata;
  if (!metadata) return null;
  const parsed = JSON.parse(metadata) as Partial<StoredCheckpoint>;
  if (typeof parsed.position !== 'string' || typeof parsed.server !== 'string') {
    throw new Error(`checkpoint in group ${group} is unreadable: ${metadata.slice(0, 200)}`);
  }
  return { position: parsed.position, server: parsed.server, ...(typeof parsed.anchor === 'string' ? { anchor: parsed.anchor } : {}) };
}
