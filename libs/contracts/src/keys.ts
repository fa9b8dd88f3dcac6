import { type EntryId } from './types';

/** Kafka record key of everything about one entry: its stable identity, so renames keep per-entry order. */
export function entryKey(entryId: EntryId): string {
  return entryId.value;
}
