import { type EntryChangeEvent } from '@idsync/contracts';

/**
 * A DirSync page holds each object once, in no useful order: an account deleted and re-created under the same name
 * can come as the new one's add before the old one's delete. Deletes go first (they are other objects, so no
 * entry's own order changes), so a writer meeting both on one partition frees the name before the create needs it.
 */
export function deletesFirst(events: readonly EntryChangeEvent[]): EntryChangeEvent[] {
  return [...events.filter((e) => e.op === 'delete'), ...events.filter((e) => e.op !== 'delete')];
}
