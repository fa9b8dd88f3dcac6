import { type KafkaAdmin } from './admin';

/**
 * Record sizes against the brokers' limits. A broker refuses a record batch larger than the topic's
 * `max.message.bytes` (MESSAGE_TOO_LARGE), and retrying cannot help, so every producer here splits what it sends into
 * requests under the limit, and a single record over it is turned into a dead letter with a reference, never retried.
 */

/** Framing of one record in a v2 record batch (length, attributes, deltas as varints), rounded up. */
const RECORD_OVERHEAD_BYTES = 32;
/** Framing of a record batch (base offset, length, epoch, magic, CRC, producer id...), rounded up. */
export const BATCH_OVERHEAD_BYTES = 80;
/** Kafka's default `max.message.bytes` (1 MiB + the batch header). */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

export interface SizedMessage {
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Bytes one message takes in a record batch (uncompressed; an upper bound of what the broker counts). */
export function recordBytes(message: SizedMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) bytes += 8 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

/**
 * Consecutive groups, in order, whose records add up to at most `maxBytes` (batch framing included). A record that
 * alone exceeds it gets a group of its own: callers check with `recordBytes` first.
 */
export function splitByBytes<T extends SizedMessage>(messages: readonly T[], maxBytes: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = BATCH_OVERHEAD_BYTES;
  for (const message of messages) {
    const size = recordBytes(message);
    if (current.length > 0 && bytes + size > maxBytes) {
      groups.push(current);
      current = [];
      bytes = BATCH_OVERHEAD_BYTES;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The largest record a producer may send to a topic whose limit is `maxMessageBytes`. */
export function recordLimit(maxMessageBytes: number): number {
  return maxMessageBytes - BATCH_OVERHEAD_BYTES;
}

/** A record over its topic's limit: it cannot be sent, however often it is tried. */
export class RecordTooLargeError extends Error {
  readonly retriable = false;
  constructor(
    readonly topic: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a record of ${bytes} bytes for ${topic} is over the limit of ${limit} bytes (kafka.maxRecordBytes, the topic's max.message.bytes)`);
    this.name = 'RecordTooLargeError';
  }
}

/** Kafka's refusals of a record or batch by size (kafkajs protocol error types), along the error's causes. */
export const BROKER_SIZE_ERRORS = ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'] as const;

/** Says whether `error` is a refusal by size: ours (RecordTooLargeError) or the broker's. */
export function isRecordTooLarge(error: unknown): boolean {
  const types: readonly string[] = BROKER_SIZE_ERRORS;
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 8; depth++) {
    if (current instanceof RecordTooLargeError) return true;
    if ('type' in current && typeof current.type === 'string' && types.includes(current.type)) return true;
    current = 'cause' in current ? current.cause : 'originalError' in current ? current.originalError : undefined;
  }
  return false;
}

/**
 * Per topic, the largest record to send: the smaller of `configured` (kafka.maxRecordBytes) and what the broker
 * says the topic accepts (`max.message.bytes`, its own or the broker's default), read once at start.
 */
export async function topicRecordLimits(admin: KafkaAdmin, topics: readonly string[], configured: number): Promise<Map<string, number>> {
  const limits = new Map<string, number>();
  if (topics.length === 0) return limits;
  for (const [topic, given] of await admin.maxMessageBytes(topics)) {
    const broker = given ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
    limits.set(topic, Math.min(configured, recordLimit(Number.isFinite(broker) ? broker : KAFKA_DEFAULT_MAX_MESSAGE_BYTES)));
  }
  for (const topic of topics) if (!limits.has(topic)) limits.set(topic, configured);
  return limits;
}

/** The largest record per topic: what the broker said at start, else the configured limit. */
export class RecordLimits {
  constructor(
    readonly configured: number,
    private readonly perTopic: ReadonlyMap<string, number> = new Map(),
  ) {}

  of(topic: string): number {
    return this.perTopic.get(topic) ?? this.configured;
  }

  /** Throws RecordTooLargeError for the first message over its topic's limit. */
  check(topic: string, messages: readonly SizedMessage[]): void {
    const limit = this.of(topic);
    for (const message of messages) {
      const bytes = recordBytes(message);
      if (bytes > limit) throw new RecordTooLargeError(topic, bytes, limit);
    }
  }

  /** The messages for `topic` in groups that each fit one request under its limit; throws for a record over it. */
  split<T extends SizedMessage>(topic: string, messages: readonly T[]): T[][] {
    this.check(topic, messages);
    return splitByBytes(messages, this.of(topic) + BATCH_OVERHEAD_BYTES);
  }
}

/** kafka.maxRecordBytes when the configuration says nothing (under Kafka's default max.message.bytes). */
export const DEFAULT_MAX_RECORD_BYTES = 1_000_000;

function byteLength(data: Buffer | string | null): number {
  if (data === null) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}
