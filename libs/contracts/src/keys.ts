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

/** What a links-topic key names: enough to drop a link whose value compaction already removed. */
export interface LinkKey {
  readonly pipe: string;
  readonly source: string;
  readonly destination: string;
}

const LINK_KEY = /^([a-z][a-z0-9-]*)\/([0-9a-f-]{36})\/([0-9a-f-]{36})$/;

/**
 * Key of a link on the links topic: `<pipe>/<source id>/<destination id>` (pipe names are lower-case words, ids
 * lower-case UUIDs, so `/` never occurs inside a part). One key per linked pair: replacing a link is a new key and a
 * tombstone for the old one, and a tombstone alone still says which two entries were unlinked.
 */
export function linkKey(link: { readonly pipe: string; readonly source: EntryId; readonly destination: EntryId }): string {
  return `${link.pipe}/${link.source.value}/${link.destination.value}`;
}

/** The parts of a links-topic key; null when the text is not one. */
export function parseLinkKey(key: string): LinkKey | null {
  const match = LINK_KEY.exec(key);
  if (match === null) return null;
  return { pipe: match[1] as string, source: match[2] as string, destination: match[3] as string };
}

/**
 * Header on a delete request for an entry that left the pipe's scope (moved out of every sync class): the writer
 * acts on the linked entry only, never on what a DN finds. Value: `delete` (delete it and its link) or `unlink`
 * (keep the entry, drop the link), the pipe's `onLeaveScope`.
 */
export const LEAVE_SCOPE_HEADER = 'idsync-leave-scope';
export const LEAVE_SCOPE_ACTIONS = ['delete', 'unlink'] as const;
export type LeaveScopeAction = (typeof LEAVE_SCOPE_ACTIONS)[number];

/**
 * Header on an upsert mapped from a full read of the source entry (a resync's snapshot, an entry moved into scope, an
 * entry modified into scope, read from the modify's after-image): the request states the whole entry as it is now, its
 * DN included, so the writer moves the linked entry to that DN if it is elsewhere. Other requests never move an entry
 * found by link except a rename from where it is.
 */
export const SNAPSHOT_HEADER = 'idsync-snapshot';
