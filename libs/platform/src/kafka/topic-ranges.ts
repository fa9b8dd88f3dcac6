import { randomBytes } from 'node:crypto';
import { type IHeaders } from 'kafkajs';
import { type KafkaAdmin } from './admin';
import { fetchLimitsOf, type KafkaClient, kafkajsOf } from './client';

/** Offsets [from, to) of one partition. */
export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** A map key for one partition of a topic. */
export function rangeKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** How long a read may take in all, unless the caller says otherwise. */
const DEFAULT_TIMEOUT_MS = 20_000;

export interface ReadRangesOptions {
  /** Give up after this long in all (default 20 s). */
  readonly timeoutMs?: number;
  /** Give up when no fetch has returned anything for this long (default: never; an open transaction holds back). */
  readonly stallMs?: number;
  /** Every record inside a range's partition window, in offset order per partition. */
  readonly onRecord?: (record: RangeRecord) => void;
  /** The reader failed (connection, authorization): what was not read is incomplete. */
  readonly onFailure?: (error: unknown) => void;
}

/** A record met while reading ranges. */
export interface RangeRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Record headers as text (the last value of a repeated header). */
  readonly headers: Readonly<Record<string, string>>;
}

/** What reading found in one requested range. */
export interface RangeResult {
  readonly records: number;
  /** Every offset of the range was reached before the time ran out. */
  readonly complete: boolean;
  readonly firstTimestamp: number | null;
  readonly lastTimestamp: number | null;
}

/**
 * Reads offset ranges [from, to) with a throwaway consumer (read_committed, never commits, own random group deleted
 * afterwards), and says per range how many records it holds: transaction markers and aborted records are not
 * records. A partition is finished once a fetched batch reaches `to - 1`, whether that offset is a record or a
 * marker. Partitions of the topics outside the ranges are paused (not read at all). Ranges not finished within
 * `timeoutMs`, or when no fetch brought anything for `stallMs`, or when the reader fails (`onFailure` hears why), come
 * back with `complete: false`.
 */
export async function readRanges(kafka: KafkaClient, admin: KafkaAdmin, clientId: string, ranges: readonly OffsetRange[], options: ReadRangesOptions = {}): Promise<Map<OffsetRange, RangeResult>> {
  const results = new Map<OffsetRange, { records: number; firstTimestamp: number | null; lastTimestamp: number | null }>();
  const byPartition = new Map<string, { ranges: OffsetRange[]; from: number; to: number; reached: number }>();
  for (const range of ranges) {
    if (range.to <= range.from) continue;
    results.set(range, { records: 0, firstTimestamp: null, lastTimestamp: null });
    const key = rangeKey(range.topic, range.partition);
    const entry = byPartition.get(key);
    if (entry) {
      entry.ranges.push(range);
      entry.from = Math.min(entry.from, range.from);
      entry.to = Math.max(entry.to, range.to);
    } else {
      byPartition.set(key, { ranges: [range], from: range.from, to: range.to, reached: range.from - 1 });
    }
  }
  const finish = (): Map<OffsetRange, RangeResult> => {
    const out = new Map<OffsetRange, RangeResult>();
    for (const range of ranges) {
      const found = results.get(range);
      const partition = byPartition.get(rangeKey(range.topic, range.partition));
      if (!found || !partition) out.set(range, { records: 0, complete: true, firstTimestamp: null, lastTimestamp: null });
      else out.set(range, { ...found, complete: partition.reached >= range.to - 1 });
    }
    return out;
  };
  const pending = (): boolean => [...byPartition.values()].some((p) => p.reached < p.to - 1);
  if (!pending()) return finish();

  const groupId = `${clientId}-reader-${randomBytes(6).toString('hex')}`;
  const consumer = kafkajsOf(kafka).consumer({ groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false, readUncommitted: false, ...fetchLimitsOf(kafka) });
  let lastFetchAt: number;
  const advance = (topic: string, partition: number, offset: number): void => {
    lastFetchAt = Date.now();
    const entry = byPartition.get(rangeKey(topic, partition));
    if (entry && offset > entry.reached) entry.reached = offset;
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => advance(payload.topic, payload.partition, Number(payload.lastOffset)));
  let crashed = false;
  consumer.on(consumer.events.CRASH, () => {
    crashed = true;
  });
  try {
    await consumer.connect();
    const topics = [...new Set(ranges.map((r) => r.topic))];
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const entry = byPartition.get(rangeKey(batch.topic, batch.partition));
        if (!entry) return;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          for (const range of entry.ranges) {
            if (offset < range.from || offset >= range.to) continue;
            const result = results.get(range);
            if (!result) continue;
            const timestamp = Number(message.timestamp);
            result.records += 1;
            if (result.firstTimestamp === null || timestamp < result.firstTimestamp) result.firstTimestamp = timestamp;
            if (result.lastTimestamp === null || timestamp > result.lastTimestamp) result.lastTimestamp = timestamp;
          }
          if (offset >= entry.from && offset < entry.to) {
            options.onRecord?.({
              topic: batch.topic,
              partition: batch.partition,
              offset,
              timestamp: Number(message.timestamp),
              key: message.key,
              value: message.value,
              headers: headerText(message.headers),
            });
          }
        }
      },
    });
    for (const topic of topics) {
      const idle = (await admin.topicOffsets(topic)).map((p) => p.partition).filter((p) => !byPartition.has(rangeKey(topic, p)));
      if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    }
    for (const [key, entry] of byPartition) {
      const [topic, partition] = key.split('\u0000') as [string, string];
      consumer.seek({ topic, partition: Number(partition), offset: String(entry.from) });
    }
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const stallMs = options.stallMs ?? Number.POSITIVE_INFINITY;
    lastFetchAt = Date.now();
    while (pending() && !crashed && Date.now() < deadline && Date.now() - lastFetchAt < stallMs) await new Promise((resolve) => setTimeout(resolve, 50));
  } catch (error) {
    // What was not read comes back incomplete; the caller decides whether that is an error.
    options.onFailure?.(error);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    // The group never committed anything; without this it would linger, empty, until the broker expires it.
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return finish();
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}
