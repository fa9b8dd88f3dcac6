import { detectorCheckpointGroup, detectorTransactionalId } from '@idsync/config';
import { encodeDeadLetter, encodeEntryChange, encodeEntryState, entryKey, entryStateOf, type EntryChangeEvent } from '@idsync/contracts';
import { eventTraceContext, formatTraceparent, type TraceContext, TRACEPARENT_HEADER } from './trace-context';
import {
  DEFAULT_MAX_RECORD_BYTES,
  type KafkaAdmin,
  type KafkaClient,
  RecordLimits,
  recordBytes,
  RecordTooLargeError,
  splitByBytes,
  topicRecordLimits,
  type TransactionalProducer,
} from './kafka/index';

export interface ChangePublisherOptions {
  /** `ad-detector` or `ds-detector`. */
  readonly detector: string;
  /** Directory name in the configuration. */
  readonly source: string;
  readonly eventsTopic: string;
  readonly checkpointTopic: string;
  /**
   * The source's state topic (compacted): in the same transaction as the events, each entry's latest after-image
   * (entry-state record, keyed like the events) or a tombstone when it was deleted. None: no state is published.
   */
  readonly stateTopic?: string;
  /**
   * Where an event too large for the events topic goes, as a dead letter with a reference (event id, entry, DN, size)
   * instead of its value. Without it, such an event stops the detector (RecordTooLargeError).
   */
  readonly deadLetterTopic?: string;
  /** kafka.maxRecordBytes; a topic whose max.message.bytes is smaller wins (read at connect). */
  readonly maxRecordBytes?: number;
  /**
   * Largest sum of event bytes in one transaction (default 16 MiB). A bigger batch (a large DirSync page) is published
   * in several transactions, the checkpoint with the last one: a crash in between publishes the batch's first part
   * again (same event ids), never skips it.
   */
  readonly maxTransactionBytes?: number;
  /** Clock for dead letters' failedAt. */
  readonly now?: () => number;
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
  /** When the read that reached the position started (epoch ms): the ad-detector's write receipts are kept from shortly before it. */
  readonly readAt?: number;
}

/** Default maxTransactionBytes: a DirSync page of 1,000 large entries fits; a page of 100,000-member groups does not. */
const DEFAULT_MAX_TRANSACTION_BYTES = 16 * 1024 * 1024;

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
  private producer: TransactionalProducer | undefined;
  private admin: KafkaAdmin | undefined;
  private limits: RecordLimits;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly options: ChangePublisherOptions,
  ) {
    this.limits = new RecordLimits(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
  }

  /** Consumer group whose committed offset metadata holds the position. */
  get checkpointGroup(): string {
    return detectorCheckpointGroup(this.options.detector, this.options.source);
  }

  get checkpointKey(): string {
    return `${this.options.detector}/${this.options.source}`;
  }

  /** Connecting with the transactional id fences any older instance still writing for this detector. */
  async connect(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    const { eventsTopic, deadLetterTopic, stateTopic } = this.options;
    const configured = this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const topics = [eventsTopic, ...(deadLetterTopic ? [deadLetterTopic] : []), ...(stateTopic ? [stateTopic] : [])];
    this.limits = new RecordLimits(configured, await topicRecordLimits(this.admin, topics, configured));
    this.producer = this.kafka.transactionalProducer({ transactionalId: detectorTransactionalId(this.options.detector, this.options.source) });
    await this.producer.connect();
    // The transactional id is taken now (not at the first transaction), so connecting fences.
    await this.producer.fence();
  }

  async readCheckpoint(): Promise<StoredCheckpoint | null> {
    return fetchStoredCheckpoint(this.requireAdmin(), this.checkpointGroup, this.options.checkpointTopic);
  }

  /**
   * Events (keyed by stable entry id) and the position after them, atomically, with each entry's latest state (see
   * stateTopic). An empty batch moves the position only. Requests stay under the topics' record limits; an event over
   * the limit is dead-lettered with a reference (see deadLetterTopic); a batch over maxTransactionBytes goes in several
   * transactions (see there), each with the states of its own events. `stateOnly`: changes not published as events
   * (the writers' own, which loop prevention drops) whose entries' states still change: with the last transaction.
   */
  async publish(events: readonly EntryChangeEvent[], checkpoint: StoredCheckpoint, stateOnly: readonly EntryChangeEvent[] = [], traces?: ReadonlyMap<string, TraceContext>): Promise<void> {
    if (checkpoint.position.length > MAX_POSITION_LENGTH) throw new CheckpointTooLargeError(checkpoint.position.length);
    const producer = this.requireProducer();
    const { eventsTopic, checkpointTopic, deadLetterTopic } = this.options;
    const limit = this.limits.of(eventsTopic);
    const fitting: { key: string; value: Buffer; headers: Record<string, string>; event: EntryChangeEvent }[] = [];
    const letters: { key: string; value: Buffer }[] = [];
    for (const event of events) {
      // The change's trace context (W3C traceparent): the mapper and the writer continue its trace.
      const trace = traces?.get(event.eventId) ?? eventTraceContext(this.options.detector, event.eventId);
      const message = { key: entryKey(event.entryId), value: encodeEntryChange(event), headers: { [TRACEPARENT_HEADER]: formatTraceparent(trace) } };
      const bytes = recordBytes(message);
      if (bytes <= limit) {
        fitting.push({ ...message, event });
        continue;
      }
      if (deadLetterTopic === undefined) throw new RecordTooLargeError(eventsTopic, bytes, limit);
      letters.push({ key: message.key, value: this.tooLargeLetter(event, message.key, bytes, limit) });
    }
    const value = JSON.stringify(checkpoint);
    const parts = fitting.length === 0 ? [[]] : splitByBytes(fitting, this.options.maxTransactionBytes ?? DEFAULT_MAX_TRANSACTION_BYTES);
    for (const [index, part] of parts.entries()) {
      const last = index === parts.length - 1;
      const transaction = await producer.begin();
      try {
        for (const request of part.length === 0
          ? []
          : this.limits.split(
              eventsTopic,
              part.map(({ key, value, headers }) => ({ key, value, headers })),
            )) {
          await transaction.send({ topic: eventsTopic, messages: request });
        }
        const states = this.stateRecords(last ? [...part.map(({ event }) => event), ...stateOnly] : part.map(({ event }) => event));
        if (states.length > 0 && this.options.stateTopic !== undefined) {
          for (const request of this.limits.split(this.options.stateTopic, states)) await transaction.send({ topic: this.options.stateTopic, messages: request });
        }
        if (last) {
          if (letters.length > 0 && deadLetterTopic !== undefined) await transaction.send({ topic: deadLetterTopic, messages: letters });
          await transaction.send({ topic: checkpointTopic, messages: [{ key: this.checkpointKey, value: Buffer.from(value) }] });
          // The position is the offset's metadata (the offset itself means nothing).
          await transaction.commitOffsets(this.checkpointGroup, checkpointTopic, [{ partition: 0, offset: 0, metadata: value }]);
        }
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    }
  }

  /**
   * The latest state of each entry the events are about, in the order of their last event: an entry-state record, or a
   * tombstone for a deleted one. Events that do not carry their entry leave its state as it was. A state over the
   * topic's limit is left out (the event itself was published; the next change of the entry publishes its state).
   */
  private stateRecords(events: readonly EntryChangeEvent[]): { key: string; value: Buffer | null }[] {
    const { stateTopic } = this.options;
    if (stateTopic === undefined) return [];
    // Only each entry's last state is encoded: a batch often changes one entry several times.
    const latest = new Map<string, NonNullable<ReturnType<typeof entryStateOf>>>();
    for (const event of events) {
      const state = entryStateOf(event);
      if (state === null) continue;
      const key = entryKey(event.entryId);
      latest.delete(key); // re-inserted last: the batch's order of last changes
      latest.set(key, state);
    }
    const limit = this.limits.of(stateTopic);
    return [...latest].map(([key, state]) => ({ key, value: state === 'deleted' ? null : encodeEntryState(state) })).filter((record) => recordBytes(record) <= limit);
  }

  /** A dead letter naming an event that cannot be published (no value: it would not fit either). */
  private tooLargeLetter(event: EntryChangeEvent, key: string, bytes: number, limit: number): Buffer {
    return encodeDeadLetter({
      stage: this.options.detector,
      reason:
        `event ${event.eventId} (${event.op} of ${event.dn}, entry ${event.entryId.value}) is ${bytes} bytes, over the limit of ${limit} bytes ` +
        `for ${this.options.eventsTopic} (kafka.maxRecordBytes, the topic's max.message.bytes): not published; raise the limits, then resync the entry`,
      topic: this.options.eventsTopic,
      partition: -1,
      offset: '-1',
      key: Buffer.from(key),
      value: null,
      failedAt: (this.options.now ?? Date.now)(),
    });
  }

  async disconnect(): Promise<void> {
    await this.producer?.disconnect();
    await this.admin?.disconnect();
  }

  private requireProducer(): TransactionalProducer {
    if (!this.producer) throw new Error('ChangePublisher.connect() must be called first');
    return this.producer;
  }

  private requireAdmin(): KafkaAdmin {
    if (!this.admin) throw new Error('ChangePublisher.connect() must be called first');
    return this.admin;
  }
}

/**
 * The committed checkpoint of a group, read with any admin client: unlike ChangePublisher.connect(), reading does
 * not fence the detector (tools show the position before deciding to move it). Just after a commit it may still show
 * the position before it, until the transaction coordinator has completed that transaction (kafkajs' offset fetch
 * cannot ask for stable offsets only); a ChangePublisher reads after connect(), which waits for that.
 */
export async function fetchStoredCheckpoint(admin: KafkaAdmin, group: string, checkpointTopic: string): Promise<StoredCheckpoint | null> {
  const offsets = await admin.committedOffsets(group, [checkpointTopic]);
  const metadata = offsets[0]?.partitions.find((p) => p.partition === 0)?.metadata;
  if (!metadata) return null;
  const parsed = JSON.parse(metadata) as Partial<StoredCheckpoint>;
  if (typeof parsed.position !== 'string' || typeof parsed.server !== 'string') {
    throw new Error(`checkpoint in group ${group} is unreadable: ${metadata.slice(0, 200)}`);
  }
  return {
    position: parsed.position,
    server: parsed.server,
    ...(typeof parsed.anchor === 'string' ? { anchor: parsed.anchor } : {}),
    ...(typeof parsed.readAt === 'number' && Number.isFinite(parsed.readAt) ? { readAt: parsed.readAt } : {}),
  };
}
