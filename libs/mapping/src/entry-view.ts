/**
 * What one event tells about its entry, indexed once per event by lower-case attribute name.
 *
 * add and snapshot events carry the whole entry, so an attribute they lack is known to be absent (`[]`).
 * modify and rename events carry what changed, plus (v2) `after`, the entry as the detector read it right after
 * the change: an attribute `after` lists is known (`[]`: absent). Other attributes fall back to the changes: one
 * the event lacks is unknown (undefined), and so is one it changes value by value (`add` / `delete` say nothing
 * about the values that stay); only a `replace` states the full new value set. A delete's `before` lists only
 * attributes with values, so it makes those known and leaves every other attribute unknown.
 */
import { type AttributeChange, type AttributeValue, type EntryChangeEvent, type EntryImage } from '@idsync/contracts';
import { type FilterEntry } from './filter';

const NONE: readonly AttributeValue[] = [];

export class EntryView implements FilterEntry {
  /** Whether the event carries the whole entry (add, snapshot). */
  readonly complete: boolean;
  private readonly byName = new Map<string, AttributeChange[]>();
  /** Full value sets the detector read from the entry (`after`; a delete's `before`), by lower-case name. */
  private readonly read = new Map<string, readonly AttributeValue[]>();

  constructor(readonly event: EntryChangeEvent) {
    this.complete = event.op === 'add' || event.op === 'snapshot';
    for (const change of event.attributes) {
      const key = change.name.toLowerCase();
      const list = this.byName.get(key);
      if (list) list.push(change);
      else this.byName.set(key, [change]);
    }
    // An add or snapshot is already the whole entry as of the change; a later read could disagree with the
    // values the requests copy from the event, so it is not mixed in.
    if (event.op === 'modify' || event.op === 'rename') this.index(event.after, true);
    else if (event.op === 'delete') this.index(event.before, false);
  }

  private index(image: EntryImage | null, emptyIsKnown: boolean): void {
    if (image === null) return;
    for (const { name, values } of image) if (emptyIsKnown || values.length > 0) this.read.set(name.toLowerCase(), values);
  }

  /** The event's changes of one attribute, in event order. */
  changes(key: string): readonly AttributeChange[] | undefined {
    return this.byName.get(key);
  }

  /** The attribute's full value set when the event states it; `[]` when known absent; undefined when unknown. */
  values(key: string): readonly AttributeValue[] | undefined {
    const read = this.read.get(key);
    if (read !== undefined) return read;
    if (key === 'objectclass' && this.event.objectClasses.length > 0) return this.event.objectClasses;
    const changes = this.byName.get(key);
    if (changes === undefined) return this.complete ? NONE : undefined;
    if (changes.length === 1) {
      const only = changes[0] as AttributeChange;
      if (only.op === 'replace' || (this.complete && only.op === 'add')) return only.values;
      return this.complete ? NONE : undefined;
    }
    if (this.complete) return changes.filter((change) => change.op !== 'delete').flatMap((change) => change.values);
    const last = changes[changes.length - 1] as AttributeChange;
    return changes.every((change) => change.op === 'replace') ? last.values : undefined;
  }

  /** The first value, when the full value set is known (for `{attr}` placeholders). */
  first(key: string): AttributeValue | undefined {
    return this.values(key)?.[0];
  }
}
