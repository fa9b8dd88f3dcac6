import { type EntryChangeEvent, type EntryState } from './types';

/**
 * What a change event says about its entry's latest state (state topics): the after-image with the event's DN and
 * object classes; `deleted` for a delete (a tombstone); null when the event does not carry the entry (no after-image:
 * a v1 event, or an entry deleted before the detector read it, whose delete follows).
 */
export function entryStateOf(event: EntryChangeEvent): EntryState | 'deleted' | null {
  if (event.op === 'delete') return 'deleted';
  if (event.after === null) return null;
  const classes = event.after.find((attribute) => attribute.name.toLowerCase() === 'objectclass')?.values;
  return {
    entryId: event.entryId,
    directory: event.source.directory,
    dn: event.dn,
    objectClasses: classes?.every((value) => typeof value === 'string') ? classes : event.objectClasses,
    attributes: event.after,
    eventId: event.eventId,
    changeTime: event.changeTime,
    detectedAt: event.detectedAt,
  };
}
