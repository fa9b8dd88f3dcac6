import { CONSUMER_SERVICES, type ConsumerService, serviceGroupId, type SyncConfig } from '@idsync/config';
import { type CommittedPartition, consumerStart, type OffsetRange } from './lag';

/**
 * What `idsync replay` would do to a consumer group: per partition, where the group is, where it would be, and how
 * many records that processes again (a rewind) or skips (a forward). Pure: offsets in, plan out; the command reads
 * the offsets, counts the records in the ranges this module names, and applies the plan.
 */

export type ReplayTarget = { readonly kind: 'time'; readonly at: number } | { readonly kind: 'offset'; readonly offset: number } | { readonly kind: 'beginning' } | { readonly kind: 'end' };

export function describeTarget(target: ReplayTarget): string {
  switch (target.kind) {
    case 'time':
      return `the first record at or after ${new Date(target.at).toISOString()}`;
    case 'offset':
      return `offset ${target.offset}`;
    case 'beginning':
      return 'the log start';
    case 'end':
      return 'the log end';
  }
}

/** A partition the plan covers: the group's committed offset, the log, and (for a time target) the offset of that time. */
export interface ReplayPartitionInput extends CommittedPartition {
  readonly topic: string;
  /** admin.fetchTopicOffsetsByTimestamp: the first offset whose timestamp is >= the time (high when none is). */
  readonly timeOffset?: number;
}

/** `replay`: records are processed again; `skip`: records are jumped over, never processed; `unchanged`: already there. */
export const REPLAY_DIRECTIONS = ['replay', 'skip', 'unchanged'] as const;
export type ReplayDirection = (typeof REPLAY_DIRECTIONS)[number];

export interface ReplayRow {
  readonly topic: string;
  readonly partition: number;
  /** Committed offset (null: never committed). */
  readonly committed: number | null;
  /** Where the group reads next today (the committed offset, or the log start when there is none). */
  readonly from: number;
  readonly target: number;
  readonly direction: ReplayDirection;
  /** |target - from| in offsets (transaction markers included; the record count comes from counting). */
  readonly offsets: number;
  /** Set when the requested offset was outside the log and was moved to its edge. */
  readonly adjusted: string | null;
  readonly low: number;
  readonly high: number;
}

export class ReplayPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayPlanError';
  }
}

/** The offset the target names on one partition, kept inside [low, high]. */
export function targetOffset(p: ReplayPartitionInput, target: ReplayTarget): { offset: number; adjusted: string | null } {
  switch (target.kind) {
    case 'beginning':
      return { offset: p.low, adjusted: null };
    case 'end':
      return { offset: p.high, adjusted: null };
    case 'time': {
      if (p.timeOffset === undefined) throw new ReplayPlanError(`no offset for ${new Date(target.at).toISOString()} on ${p.topic}[${p.partition}]`);
      const offset = p.timeOffset < 0 ? p.high : p.timeOffset;
      if (offset < p.low) return { offset: p.low, adjusted: `records before offset ${p.low} were deleted (retention): from the log start` };
      return { offset: Math.min(offset, p.high), adjusted: null };
    }
    case 'offset':
      if (target.offset < p.low) return { offset: p.low, adjusted: `offset ${target.offset} was deleted (retention); the log starts at ${p.low}` };
      if (target.offset > p.high) return { offset: p.high, adjusted: `offset ${target.offset} is past the log end ${p.high}` };
      return { offset: target.offset, adjusted: null };
  }
}

export function planReplay(partitions: readonly ReplayPartitionInput[], target: ReplayTarget): ReplayRow[] {
  return [...partitions]
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map((p) => {
      const { start } = consumerStart(p);
      const { offset, adjusted } = targetOffset(p, target);
      const direction: ReplayDirection = offset < start ? 'replay' : offset > start ? 'skip' : 'unchanged';
      return {
        topic: p.topic,
        partition: p.partition,
        committed: p.committed !== null && p.committed >= 0 ? p.committed : null,
        from: start,
        target: offset,
        direction,
        offsets: Math.abs(offset - start),
        adjusted,
        low: p.low,
        high: p.high,
      };
    });
}

/** The records a row touches: [target, from) for a replay, [from, target) for a skip; null when unchanged. */
export function affectedRange(row: ReplayRow): OffsetRange | null {
  if (row.direction === 'replay') return { topic: row.topic, partition: row.partition, from: row.target, to: row.from };
  if (row.direction === 'skip') return { topic: row.topic, partition: row.partition, from: row.from, to: row.target };
  return null;
}

/** Records counted in a row's affected range, and the timestamps of the first and last of them. */
export interface RangeCount {
  readonly records: number;
  /** False when counting stopped early (too large, or out of time): `records` is then the offset span, an upper bound. */
  readonly exact: boolean;
  readonly firstTimestamp: number | null;
  readonly lastTimestamp: number | null;
}

export interface ReplaySummary {
  readonly replay: number;
  readonly skip: number;
  readonly exact: boolean;
  /** Partitions whose position changes (where the group reads next). */
  readonly changed: number;
  readonly firstTimestamp: number | null;
  readonly lastTimestamp: number | null;
}

export function summarizePlan(rows: readonly ReplayRow[], counts: ReadonlyMap<ReplayRow, RangeCount>): ReplaySummary {
  let replay = 0;
  let skip = 0;
  let exact = true;
  let changed = 0;
  let firstTimestamp: number | null = null;
  let lastTimestamp: number | null = null;
  for (const row of rows) {
    if (row.direction === 'unchanged') continue;
    changed += 1;
    const count = counts.get(row) ?? { records: row.offsets, exact: false, firstTimestamp: null, lastTimestamp: null };
    if (row.direction === 'replay') replay += count.records;
    else skip += count.records;
    exact &&= count.exact;
    if (count.firstTimestamp !== null && (firstTimestamp === null || count.firstTimestamp < firstTimestamp)) firstTimestamp = count.firstTimestamp;
    if (count.lastTimestamp !== null && (lastTimestamp === null || count.lastTimestamp > lastTimestamp)) lastTimestamp = count.lastTimestamp;
  }
  return { replay, skip, exact, changed, firstTimestamp, lastTimestamp };
}

/** A consumer group `idsync replay` may move: a stage's own group (with its input topics), or any group by id. */
export interface ReplayGroup {
  readonly groupId: string;
  /** Set when the group was named by its stage. */
  readonly service: ConsumerService | null;
  /** The stage's input topics; null for a group given by id (its committed topics are used). */
  readonly topics: readonly string[] | null;
}

/** The input topics of a stage, as the services subscribe them. */
export function serviceTopics(config: Pick<SyncConfig, 'kafka'>, service: ConsumerService): string[] {
  const { topics } = config.kafka;
  switch (service) {
    case 'mapper':
      return [topics.adChanges.name, topics.dsChanges.name];
    case 'ad-writer':
      return [topics.adOperations.name];
    case 'ds-writer':
      return [topics.dsOperations.name];
  }
}

export function isConsumerService(name: string): name is ConsumerService {
  return (CONSUMER_SERVICES as readonly string[]).includes(name);
}

/** The detectors' checkpoint groups: their offsets carry the position as metadata, which moving them would erase. */
export const CHECKPOINT_GROUP_PREFIX = 'idsync.checkpoint.';

/** A stage name resolves to its group; anything else is taken as a group id (the command checks that it exists). */
export function resolveReplayGroup(config: Pick<SyncConfig, 'kafka'>, name: string): ReplayGroup {
  if (isConsumerService(name)) return { groupId: serviceGroupId(config, name), service: name, topics: serviceTopics(config, name) };
  const service = CONSUMER_SERVICES.find((s) => serviceGroupId(config, s) === name) ?? null;
  if (service !== null) return { groupId: name, service, topics: serviceTopics(config, service) };
  if (name.startsWith(CHECKPOINT_GROUP_PREFIX)) {
    throw new ReplayPlanError(`'${name}' is a detector's checkpoint, not a consumer group: its position lives in the offset metadata, which replay would erase; use idsync set-startpoint`);
  }
  return { groupId: name, service: null, topics: null };
}

/** Narrows the plan's partitions to --topic / --partition; wrong names are errors listing what there is. */
export function selectPartitions<P extends { readonly topic: string; readonly partition: number }>(
  partitions: readonly P[],
  selection: { readonly topic?: string | undefined; readonly partition?: number | undefined },
): P[] {
  const topics = [...new Set(partitions.map((p) => p.topic))].sort();
  if (selection.partition !== undefined && selection.topic === undefined && topics.length > 1) {
    throw new ReplayPlanError(`--partition needs --topic: the group reads ${topics.join(', ')}`);
  }
  let out = [...partitions];
  if (selection.topic !== undefined) {
    out = out.filter((p) => p.topic === selection.topic);
    if (out.length === 0) throw new ReplayPlanError(`the group does not read topic '${selection.topic}' (it reads: ${topics.join(', ') || 'nothing'})`);
  }
  if (selection.partition !== undefined) {
    const available = out.map((p) => p.partition).sort((a, b) => a - b);
    out = out.filter((p) => p.partition === selection.partition);
    if (out.length === 0) throw new ReplayPlanError(`topic '${selection.topic ?? topics[0] ?? ''}' has no partition ${selection.partition} (partitions: ${available.join(', ')})`);
  }
  return out;
}
