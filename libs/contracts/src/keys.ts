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
