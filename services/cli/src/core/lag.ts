import { canonicalGuid } from '@idsync/contracts';
import { type OffsetRange, rangeKey } from '@idsync/platform';

export { type OffsetRange, rangeKey };

/**
 * Lag arithmetic for `idsync status`: consumer groups behind their topics, detectors behind their sources, and the
 * dead-letter summary. Pure: offsets, counts and positions in, numbers and flags out; the command does the reading.
 */

/** One partition's log: `low` is the first offset still kept, `high` the next offset to be written. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

/** A consumer group's committed offset on a partition (the next record it will read); null when it never committed. */
export interface CommittedPartition extends PartitionOffsets {
  readonly committed: number | null;
}

/** Why a partition's lag is not simply "records after the committed offset". */
export const LAG_NOTES = ['never-committed', 'behind-log-start', 'ahead-of-log'] as const;
export type LagNote = (typeof LAG_NOTES)[number];

const NOTE_TEXT: Record<LagNote, string> = {
  'never-committed': 'never committed: counted from the log start, where the service starts',
  'behind-log-start': 'the committed offset was deleted by retention: the service goes on from the log start, the records in between are lost',
  'ahead-of-log': 'the committed offset is past the end of the log (topic re-created?)',
};

export function describeLagNote(note: LagNote): string {
  return NOTE_TEXT[note];
}

/** Half-open offset range [from, to) of one partition whose records are to be counted. */

/**
 * Offset gaps larger than this are not counted record by record: their lag is reported as the offset difference,
 * marked approximate (an upper bound, see `partitionLag`).
 */
export const DEFAULT_COUNT_LIMIT = 10_000;

/** Where the group reads next on a partition, and why it is not the committed offset when it is not. */
export function consumerStart(p: CommittedPartition): { start: number; note: LagNote | null } {
  if (p.committed === null || p.committed < 0) return { start: p.low, note: 'never-committed' };
  if (p.committed < p.low) return { start: p.low, note: 'behind-log-start' };
  if (p.committed > p.high) return { start: p.high, note: 'ahead-of-log' };
  return { start: p.committed, note: null };
}

/** The ranges worth counting: a gap at all, and no larger than `limit` offsets. */
export function rangesToCount(topic: string, partitions: readonly CommittedPartition[], limit = DEFAULT_COUNT_LIMIT): OffsetRange[] {
  const out: OffsetRange[] = [];
  for (const p of partitions) {
    const { start } = consumerStart(p);
    const gap = p.high - start;
    if (gap > 0 && gap <= limit) out.push({ topic, partition: p.partition, from: start, to: p.high });
  }
  return out;
}

export interface PartitionLag {
  readonly partition: number;
  readonly committed: number | null;
  readonly low: number;
  readonly high: number;
  /** high - where the group reads next: what naive tools report; transaction markers make it too high. */
  readonly offsetGap: number;
  /** Records (not offsets) the group has still to read. */
  readonly lag: number;
  /** False when the records were not counted (gap too large, or counting ran out of time): `lag` is then the offset gap, an upper bound. */
  readonly exact: boolean;
  readonly note: LagNote | null;
}

/**
 * The lag of one partition. `counted` is the number of records read in [start, high) with read_committed (no
 * transaction markers, no aborted records), or undefined when they were not counted.
 */
export function partitionLag(p: CommittedPartition, counted: number | undefined): PartitionLag {
  const { start, note } = consumerStart(p);
  const offsetGap = Math.max(0, p.high - start);
  const base = { partition: p.partition, committed: p.committed !== null && p.committed >= 0 ? p.committed : null, low: p.low, high: p.high, offsetGap, note };
  if (offsetGap === 0) return { ...base, lag: 0, exact: true };
  if (counted === undefined) return { ...base, lag: offsetGap, exact: false };
  return { ...base, lag: Math.min(counted, offsetGap), exact: true };
}

export interface TopicLag {
  readonly topic: string;
  readonly lag: number;
  readonly offsetGap: number;
  readonly exact: boolean;
  /** The group has no committed offset on any partition of the topic. */
  readonly neverCommitted: boolean;
  readonly partitions: readonly PartitionLag[];
}

/** Key of a counted range in the map `topicLag` reads. */

/** Sums a topic's partitions; `counts` holds complete counts by rangeKey (absent: not counted). */
export function topicLag(topic: string, partitions: readonly CommittedPartition[], counts: ReadonlyMap<string, number>): TopicLag {
  const rows = [...partitions].sort((a, b) => a.partition - b.partition).map((p) => partitionLag(p, counts.get(rangeKey(topic, p.partition))));
  return {
    topic,
    lag: rows.reduce((sum, r) => sum + r.lag, 0),
    offsetGap: rows.reduce((sum, r) => sum + r.offsetGap, 0),
    exact: rows.every((r) => r.exact),
    neverCommitted: rows.length > 0 && rows.every((r) => r.note === 'never-committed'),
    partitions: rows,
  };
}

/** A directory server's retro changelog window (root DSE firstChangeNumber/lastChangeNumber; 0/0 when empty). */
export interface ChangelogWindow {
  readonly first: number;
  readonly last: number;
}

export interface ChangelogLag {
  /** Changes in the changelog after the detector's position. */
  readonly lag: number;
  /** Set when the position does not fit the window: the detector will stop with a "resync needed" message. */
  readonly problem: string | null;
}

/** The ds-detector's position is the last change number it processed (published or ignored). */
export function changelogLag(position: number, window: ChangelogWindow): ChangelogLag {
  const lag = Math.max(0, window.last - position);
  const empty = window.last === 0;
  if (!empty && position > window.last) {
    return { lag: 0, problem: `position ${position} is ahead of the server's lastChangeNumber ${window.last} (checkpoint from another server, or the changelog was re-created): a resync is needed` };
  }
  if (!empty && position < window.first - 1) {
    return { lag, problem: `changes ${position + 1}..${window.first - 1} were purged from the changelog (firstChangeNumber ${window.first}): a resync is needed` };
  }
  return { lag, problem: null };
}

/** NTTIME (100 ns ticks since 1601-01-01) of 1970-01-01. */
const NTTIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/** What a DirSync cookie says about its position (Samba librpc/idl/drsblobs.idl: ldapControlDirSyncCookie). */
export interface DirSyncCookieInfo {
  /** When the DC issued the cookie, epoch ms. */
  readonly issuedAt: number;
  /** highwatermark.highest_usn: the DC's USN the cookie covers (the DC's highest committed USN at the search). */
  readonly highestUsn: bigint;
  /** highwatermark.tmp_highest_usn (Samba writes the same value). */
  readonly tmpHighestUsn: bigint;
  /** invocationId of the DC that issued it (guid1), canonical lower-case text. */
  readonly invocationId: string;
}

export class UnreadableCookieError extends Error {
  readonly retriable = false;
  constructor(problem: string) {
    super(`the DirSync cookie cannot be decoded: ${problem}`);
    this.name = 'UnreadableCookieError';
  }
}

/**
 * Decodes the fixed part of a DirSync cookie (NDR, little-endian):
 *
 * | offset | size | field                                   |
 * | ------ | ---- | --------------------------------------- |
 * | 0      | 4    | "MSDS"                                  |
 * | 4      | 4    | version (3)                             |
 * | 8      | 8    | NTTIME the cookie was issued            |
 * | 16     | 8    | reserved (u2, u3)                       |
 * | 24     | 4    | length of the up-to-dateness vector     |
 * | 28     | 8    | highwatermark.tmp_highest_usn           |
 * | 36     | 8    | highwatermark.reserved_usn              |
 * | 44     | 8    | highwatermark.highest_usn               |
 * | 52     | 16   | guid1: the issuing DC's invocationId    |
 * | 68     | ...  | up-to-dateness vector (extra)           |
 *
 * Same layout in MS-ADTS (Cookie: signature, version, creationTime, reserved, utdVectorSize, usnVector,
 * uuidSourceDsaInvocationID, utdVector); checked against cookies captured from the local Samba DC.
 */
export function decodeDirSyncCookie(bytes: Buffer): DirSyncCookieInfo {
  if (bytes.length < 68) throw new UnreadableCookieError(`${bytes.length} bytes, shorter than the 68-byte fixed part`);
  if (bytes.toString('latin1', 0, 4) !== 'MSDS') throw new UnreadableCookieError(`signature is 0x${bytes.subarray(0, 4).toString('hex')}, not "MSDS"`);
  const version = bytes.readUInt32LE(4);
  if (version !== 3) throw new UnreadableCookieError(`version ${version}, only version 3 is known`);
  const nttime = bytes.readBigUInt64LE(8);
  return {
    issuedAt: Number((nttime - NTTIME_UNIX_EPOCH) / 10_000n),
    tmpHighestUsn: bytes.readBigUInt64LE(28),
    highestUsn: bytes.readBigUInt64LE(44),
    invocationId: canonicalGuid(bytes.subarray(52, 68)),
  };
}

export interface UsnLag {
  /** DC's highestCommittedUSN minus the cookie's USN (0 when the cookie is at or past it). */
  readonly usnBehind: number;
  readonly problem: string | null;
}

/**
 * How far the committed cookie is behind the DC. A USN counts every committed change of the DC's database, not only
 * those the detector publishes: a gap is "changes the DC made since", an upper bound of what the detector will read.
 * The ad-detector commits a cookie when a page had entries (or every few minutes when idle), so a quiet detector
 * can show a small gap that is not backlog.
 */
export function usnLag(cookie: DirSyncCookieInfo, dc: { invocationId: string; highestCommittedUsn: bigint }): UsnLag {
  if (cookie.invocationId !== dc.invocationId.toLowerCase()) {
    return { usnBehind: 0, problem: `the cookie was issued by DC invocationId ${cookie.invocationId}, not by the DC that answered (${dc.invocationId}): USNs cannot be compared` };
  }
  const behind = dc.highestCommittedUsn - cookie.highestUsn;
  if (behind < 0n) return { usnBehind: 0, problem: `the cookie's USN ${cookie.highestUsn} is ahead of the DC's highestCommittedUSN ${dc.highestCommittedUsn} (DC restored from backup?)` };
  return { usnBehind: Number(behind), problem: null };
}

/** One dead letter as the summary needs it. */
export interface DeadLetterSample {
  readonly stage: string;
  readonly reason: string;
  readonly failedAt: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface DeadLetterSummary {
  /** Records on the dead-letter topic (offsets; the topic is written without transactions). */
  readonly total: number;
  /** Counted from the records read; complete when `exact`. */
  readonly byStage: Readonly<Record<string, number>>;
  /** False when only the newest records were read (the topic was too large to read whole). */
  readonly exact: boolean;
  readonly last: DeadLetterSample | null;
}

export function summarizeDeadLetters(letters: readonly DeadLetterSample[], total: number, exact: boolean): DeadLetterSummary {
  const byStage: Record<string, number> = {};
  let last: DeadLetterSample | null = null;
  for (const letter of letters) {
    byStage[letter.stage] = (byStage[letter.stage] ?? 0) + 1;
    if (last === null || letter.failedAt > last.failedAt) last = letter;
  }
  return { total: Math.max(total, letters.length), byStage, exact, last };
}

/** The newest `limit` offsets of each partition: what is read of a dead-letter topic too large to read whole. */
export function tailRanges(topic: string, partitions: readonly PartitionOffsets[], limit: number): OffsetRange[] {
  return partitions.filter((p) => p.high > p.low).map((p) => ({ topic, partition: p.partition, from: Math.max(p.low, p.high - limit), to: p.high }));
}
