import { type KafkaAdmin, type RangeRecord, readRanges } from '@idsync/platform';
import { type CommandContext, kafkaCall, kafkaUnreachable } from './context';
import { CliError } from './io';

/* Reading whole topics, or their tail since a time, up to their end now (dlq, log). */

/** A range of offsets [from, to) of one partition to read. */
export interface Window {
  readonly topic: string;
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
}

/** A read gives up when no fetch has returned anything for this long (an open transaction holds it back). */
export const READ_STALL_MS = 30_000;

/**
 * Reads every committed record of the windows, in offset order per partition, then stops (the shared range reader,
 * without an overall time limit); a window not read to its end is an error naming it.
 */
export async function readWindows(ctx: CommandContext, windows: readonly Window[], onRecord: (record: RangeRecord) => void): Promise<void> {
  const ranges = windows.filter((w) => w.from < w.to).map((w) => ({ topic: w.topic, partition: w.partition, from: Number(w.from), to: Number(w.to) }));
  if (ranges.length === 0) return;
  let failure: unknown = null;
  const read = await readRanges(ctx.kafka, await ctx.admin(), ctx.config.kafka.clientId, ranges, {
    timeoutMs: Number.POSITIVE_INFINITY,
    stallMs: READ_STALL_MS,
    onRecord,
    onFailure: (error) => (failure = error),
  });
  if (failure !== null) throw failure instanceof CliError ? failure : kafkaUnreachable(ctx.config, failure);
  const unfinished = ranges.filter((r) => read.get(r)?.complete !== true);
  if (unfinished.length > 0) {
    throw new CliError(`could not read ${unfinished.map((r) => `${r.topic}/${r.partition} up to offset ${r.to}`).join(', ')}: nothing came for ${READ_STALL_MS / 1_000} s`, {
      retriable: true,
      hint: 'the brokers may be slow or a transaction may still be open on that partition: try again',
    });
  }
}

/** Windows covering each partition of a topic from `low` (or the first offset at `since`) to its current end. */
export async function topicWindows(ctx: CommandContext, admin: KafkaAdmin, topic: string, since?: number): Promise<Window[]> {
  const offsets = await kafkaCall(ctx, () => admin.topicOffsets(topic));
  // Records are timestamped when produced, after the time they carry: none since `since` is left out.
  const starts = since === undefined ? undefined : new Map((await kafkaCall(ctx, () => admin.offsetsAtTime(topic, since))).map((p) => [p.partition, BigInt(p.offset)]));
  return offsets.map((p) => {
    const low = BigInt(p.low);
    const at = starts?.get(p.partition);
    return { topic, partition: p.partition, from: at !== undefined && at > low ? at : low, to: BigInt(p.high) };
  });
}
