import { type AttributeValue, type ReceiptAttribute, type WriteReceipt } from '@idsync/contracts';
import { parseDn } from '@idsync/mapping';
import { PWD_LAST_SET, setsPwdLastSetNow } from './ad-values';
import { attributeKey } from './attributes';
import { type CurrentEntry, type EntryAttribute, type Modification } from './diff';
import { type PlannedStep } from './plan';

/**
 * Write receipts: before a writer changes or creates an entry of a directory that does not record who made a change
 * (Active Directory), it publishes what the change will leave in each attribute it touches (an entry being created
 * has no id yet: its receipts name it by DN). That directory's detector
 * reads the receipts and does not publish the change again when it reads it back: no echo, and no stale echo that
 * would undo a change made on the other side in between (set, then cleared: the echo of the set arrives after the
 * clear). Published before the change is sent, so it is on the topic before the change can be read back.
 */
export interface WriteReceiptSink {
  record(receipt: WriteReceipt): Promise<void>;
}

const valueKey = (value: AttributeValue): string => (typeof value === 'string' ? `s:${value}` : `b:${value.toString('hex')}`);

/** A set of values in insertion order, by value (text exactly, bytes by content). */
class ValueSet {
  private readonly byKey = new Map<string, AttributeValue>();

  constructor(values: readonly AttributeValue[] = []) {
    for (const value of values) this.add(value);
  }

  add(value: AttributeValue): void {
    this.byKey.set(valueKey(value), value);
  }

  delete(value: AttributeValue): void {
    this.byKey.delete(valueKey(value));
  }

  has(value: AttributeValue): boolean {
    return this.byKey.has(valueKey(value));
  }

  get values(): AttributeValue[] {
    return [...this.byKey.values()];
  }
}

interface AttributeOutcome {
  readonly name: string;
  readonly before: ValueSet;
  holds: ValueSet;
}

/**
 * What one modify leaves in each attribute it touches, from the entry as read just before (`current`, which holds
 * every attribute the writer modifies: it reads those it writes). Password attributes are never listed; a password
 * set in AD lists pwdLastSet as set to a value of the server's choosing.
 */
export function receiptAttributes(
  changes: readonly Modification[],
  current: CurrentEntry | null,
  options: { readonly isPassword: (name: string) => boolean; readonly activeDirectory: boolean },
): ReceiptAttribute[] {
  const outcomes = new Map<string, AttributeOutcome>();
  let passwordSet = false;
  for (const change of changes) {
    if (options.isPassword(change.name)) {
      passwordSet ||= change.op !== 'delete' || change.values.length > 0;
      continue;
    }
    const key = attributeKey(change.name);
    let outcome = outcomes.get(key);
    if (outcome === undefined) {
      const values = current?.attributes.get(key)?.values ?? [];
      outcome = { name: change.name, before: new ValueSet(values), holds: new ValueSet(values) };
      outcomes.set(key, outcome);
    }
    const { holds } = outcome;
    if (change.op === 'add') change.values.forEach((value) => holds.add(value));
    else if (change.op === 'delete' && change.values.length > 0) change.values.forEach((value) => holds.delete(value));
    else outcome.holds = new ValueSet(change.op === 'delete' ? [] : change.values);
  }
  const attributes: ReceiptAttribute[] = [...outcomes.values()].map(({ name, before, holds }) =>
    options.activeDirectory && setsPwdLastSetNow({ name, op: 'replace', values: holds.values })
      ? // AD turns pwdLastSet -1 ("not expired") into the current time: whatever it then shows is this change's.
        { name, values: null, added: [], removed: [], anyValue: true }
      : {
          name,
          values: holds.values,
          added: holds.values.filter((value) => !before.has(value)),
          removed: before.values.filter((value) => !holds.has(value)),
          anyValue: false,
        },
  );
  if (passwordSet && options.activeDirectory && !outcomes.has(attributeKey(PWD_LAST_SET))) {
    // AD sets pwdLastSet itself when a password is set: the echo of a password change is a pwdLastSet of its choosing.
    attributes.push({ name: PWD_LAST_SET, values: null, added: [], removed: [], anyValue: true });
  }
  return attributes;
}

/** The changes of a plan's add or modify step, as modifications (an add: every attribute replaced). */
export function stepChanges(step: PlannedStep): readonly Modification[] {
  if (step.kind === 'add') return step.attributes.map((attribute) => ({ op: 'replace', name: attribute.name, values: attribute.values }));
  return step.kind === 'modify' ? step.changes : [];
}

/**
 * The entry as a plan's step leaves it, from the entry before it (null: none yet), as far as the plan says: what a
 * later step's receipt starts from. Null after a delete.
 */
export function entryAfterStep(entry: CurrentEntry | null, step: PlannedStep): CurrentEntry | null {
  switch (step.kind) {
    case 'delete':
      return null;
    case 'modify-dn':
      return entry === null ? null : { ...entry, dn: step.newDn };
    case 'add':
    case 'modify': {
      const attributes = new Map<string, EntryAttribute>(step.kind === 'add' ? [] : (entry?.attributes ?? []));
      const start: CurrentEntry = { dn: step.dn, attributes };
      for (const changed of receiptAttributes(stepChanges(step), step.kind === 'add' ? null : entry, { isPassword: () => false, activeDirectory: false })) {
        const key = attributeKey(changed.name);
        if (changed.values === null || changed.values.length === 0) attributes.delete(key);
        else attributes.set(key, { name: changed.name, values: changed.values });
      }
      return start;
    }
  }
}

/**
 * Receipts name an entry's DN as this pseudo attribute (AD's own distinguishedName, which the detector never
 * publishes as a change): a rename or move of the writer's is recognized by the DN DirSync shows it at.
 */
export const DN_RECEIPT_ATTRIBUTE = 'distinguishedName';

/**
 * What moving an entry from `dn` to `newDn` leaves: the DN, and the naming attribute when its value changes (DirSync
 * shows a renamed entry's new cn with its new DN). Renames need receipts like modifies do: the intermediate DNs of
 * two entries swapping names, read back and published, would move the other side's entries after the fact.
 */
export function moveReceiptAttributes(dn: string, newDn: string): ReceiptAttribute[] {
  const attributes: ReceiptAttribute[] = [{ name: DN_RECEIPT_ATTRIBUTE, values: [newDn], added: [newDn], removed: [dn], anyValue: false }];
  const [before] = parseDn(dn)[0] ?? [];
  const [after] = parseDn(newDn)[0] ?? [];
  if (after !== undefined && (before === undefined || attributeKey(before.type) !== attributeKey(after.type) || before.value !== after.value)) {
    const removed = before !== undefined && attributeKey(before.type) === attributeKey(after.type) ? [before.value] : [];
    attributes.push({ name: after.type, values: [after.value], added: [after.value], removed, anyValue: false });
  }
  return attributes;
}
