/**
 * What one event tells about its entry, indexed once per event by lower-case attribute name.
 *
 * add and snapshot events carry the whole entry, so an attribute they lack is known to be absent (`[]`).
 * modify, rename and delete events carry part of it: an attribute they lack is unknown (undefined), and so is
 * one they change value by value (`add` / `delete` say nothing about the values that stay). Only a `replace`
 * states the full new value set.
 */
import { type AttributeChange, type AttributeValue, type EntryChangeEvent } from '@idsync/contracts';
import { type FilterEntry } from './filter';

const NONE: readonly AttributeValue[] = [];

export class EntryView implements FilterEntry {
  /** Whether the event carries the whole entry (add, snapshot). */
  readonly complete: boolean;
  private readonly byName = new Map<string, AttributeChange[]>();

  constructor(readonly event: EntryChangeEvent) {
    this.complete = event.op === 'add' || event.op === 'snapshot';
    for (const change of event.attributes) {
      const key = change.name.toLowerCase();
      const list = this.byName.get(key);
      if (list) list.push(change);
      else this.byName.set(key, [change]);
    }
  }

  /** The event's changes of one attribute, in event order. */
  changes(key: string): readonly AttributeChange[] | undefined {
    return this.byName.get(key);
  }

  /** The attribute's full value set when the event states it; `[]` when known absent; undefined when unknown. */
  values(key: string): readonly AttributeValue[] | undefined {
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
