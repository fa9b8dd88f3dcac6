import { type EntryId } from './types';

/** Kafka record key of everything about one entry: its stable identity, so renames keep per-entry order. */
export function entryKey(entryId: EntryId): string {
  return entryId.value;
}

/**
 * Header naming the one sync pipe a change-topic record is for (a resync's snapshot events): the mapper routes the
 * record to that pipe only. Records without it go to every pipe reading their directory.
 */
export const PIPE_HEADER = 'idsync-pipe';

/**
 * Header set by a resync on the snapshot event of an entry it found missing at the destination (by DN and by the
 * correlation lists), carried by the mapper to the write request: the writer adds the entry without looking for it
 * again (an add that meets an entry after all falls back to find and compare). Value: the resync's run id.
 */
export const ABSENT_HEADER = 'idsync-absent-at-destination';
