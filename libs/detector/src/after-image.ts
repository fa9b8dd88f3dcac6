/**
 * After-images, the pure part: an entry as read by id turned into the image events carry (every attribute of the set
 * listed, `[]` when the entry has none), and images put on the events they belong to.
 */
import { type AttributeValue, type EntryChangeEvent, type EntryImage } from '@idsync/contracts';
import { type AfterImageAttributes, isImagedAttribute } from '@idsync/mapping';

/** A search result entry as ldapts gives it: one value unwrapped, several as an array. */
export interface SearchEntry {
  readonly dn: string;
  readonly [description: string]: string | Buffer | readonly (string | Buffer)[];
}

/** An entry read by its id: where it is now, its object classes (read whatever the set holds), and its image. */
export interface ReadImage {
  readonly dn: string;
  readonly objectClasses: readonly string[];
  readonly image: EntryImage;
}

/** Events that describe an entry that exists after them; deletes carry what the source kept (`before`) instead. */
const IMAGED_OPERATIONS: ReadonlySet<EntryChangeEvent['op']> = new Set(['add', 'modify', 'rename', 'snapshot']);

export function needsAfterImage(event: EntryChangeEvent): boolean {
  return IMAGED_OPERATIONS.has(event.op);
}

const asArray = (value: string | Buffer | readonly (string | Buffer)[]): readonly AttributeValue[] => (Array.isArray(value) ? (value as readonly AttributeValue[]) : [value as AttributeValue]);

/**
 * The image of a read entry: each attribute of the set in the set's spelling (`[]` when the entry has none), then,
 * when the set is every user attribute, the others the server returned, sorted, minus denied and secret ones.
 * `skip` holds lower-case names that never go in (the id attribute, which the event's entryId already is).
 */
export function entryImage(entry: SearchEntry, set: AfterImageAttributes, skip: ReadonlySet<string>): EntryImage {
  const returned = new Map<string, { name: string; values: readonly AttributeValue[] }>();
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn') continue;
    returned.set(name.toLowerCase(), { name, values: asArray(value) });
  }
  const image: { name: string; values: readonly AttributeValue[] }[] = [];
  const listed = new Set<string>();
  for (const name of set.names) {
    const key = name.toLowerCase();
    listed.add(key);
    if (!skip.has(key)) image.push({ name, values: returned.get(key)?.values ?? [] });
  }
  if (set.allUserAttributes) {
    const others = [...returned]
      .filter(([key, { name }]) => !listed.has(key) && !skip.has(key) && isImagedAttribute(set, name))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, attribute]) => attribute);
    image.push(...others);
  }
  return image;
}

/**
 * The events with their after-images: each add, modify, rename and snapshot gets the image of its entry as read (by
 * entry id); one not read (deleted since, out of the read's reach) keeps `after: null`, and the mapper falls back to
 * what the event itself says.
 */
export function withAfterImages(events: readonly EntryChangeEvent[], images: ReadonlyMap<string, ReadImage>): EntryChangeEvent[] {
  return events.map((event) => {
    if (!needsAfterImage(event)) return event;
    const read = images.get(event.entryId.value);
    return read === undefined ? event : { ...event, after: read.image };
  });
}

/**
 * What a source kept of a deleted entry (an AD tombstone's attributes, the entry 389-ds's retro changelog records with
 * a delete), limited to the set: only attributes with values, as `before` says. Null when nothing of the set is kept.
 */
export function lastKnownImage(kept: readonly { readonly name: string; readonly values: readonly AttributeValue[] }[], set: AfterImageAttributes, skip: ReadonlySet<string>): EntryImage | null {
  const entry: Record<string, readonly AttributeValue[]> = {};
  for (const { name, values } of kept) if (values.length > 0) entry[name] = values;
  const image = entryImage({ dn: '', ...entry }, set, skip).filter((attribute) => attribute.values.length > 0);
  return image.length > 0 ? image : null;
}

/** The events with the last known state of their deleted entries, by entry id (`before`). */
export function withLastKnownImages(events: readonly EntryChangeEvent[], images: ReadonlyMap<string, EntryImage>): EntryChangeEvent[] {
  return events.map((event) => {
    if (event.op !== 'delete') return event;
    const before = images.get(event.entryId.value);
    return before === undefined ? event : { ...event, before };
  });
}

/** The entry ids to read for a batch of events, each once. */
export function afterImageIds(events: readonly EntryChangeEvent[]): string[] {
  return [...new Set(events.filter(needsAfterImage).map((event) => event.entryId.value))];
}
