import { type AttributeChange, type AttributeValue, type EntryChangeEvent, type WriteReceipt } from '@idsync/contracts';
import { normalizeDn, parseDn } from '@idsync/mapping';

/**
 * The ad-writer's own changes, told apart from everyone else's (pure core). AD records no initiator, so the writer
 * publishes a receipt before each change (libs/writer receipts.ts): what the change leaves in each attribute. When
 * DirSync then shows an attribute of that entry holding exactly that, the change is the writer's: not published again
 * — no echo, and no stale echo (a value set on the other side and cleared at once: the echo of the set, arriving after
 * the clear, would bring it back on both sides).
 *
 * - A change matches the latest pending receipt of its attribute that holds what it shows, and settles that receipt
 *   and the ones before it. Every pending receipt is tried, not just the last: the writer publishes a receipt before
 *   its change lands, so DirSync may still show the change before it (set, then cleared: the set is shown while the
 *   clear's receipt is already read). A change that matches none is someone else's, published as usual.
 * - Settled only once the batch is committed: a batch read again after a failure is recognized the same way.
 * - Linked attributes (member) come value by value: each value a receipt added or removed is the writer's.
 * - An entry the writer creates has no id before the add: its receipts are matched by DN. DirSync shows the new
 *   entry whole (an add, with what AD set itself); when every attribute the writer wrote shows what it wrote (or what
 *   a later receipt of the same DN left), the add is the writer's and is not published — a value changed at the
 *   source moments after the create would otherwise come back with the add's echo. Otherwise it is published whole.
 * - A receipt is forgotten once it cannot match any more: older, by `settleMs`, than the start of a committed DirSync
 *   read (its change had landed before that read, which showed it or a later state).
 */
export interface OwnWritesOptions {
  /** How long after its receipt a change may still land (longer than the writer's LDAP timeout). */
  readonly settleMs: number;
}

/** One receipt of one attribute, pending. */
interface Pending {
  /** The order it was read in (ties of writtenAt); the attributes of one receipt share it. */
  readonly serial: number;
  readonly requestId: string;
  readonly writtenAt: number;
  /** A move's: when it landed (its second receipt), null until that is read. */
  landedAt: number | null;
  /** Keys of every value the attribute holds after the change; null when the writer could not tell. */
  readonly holds: ReadonlySet<string> | null;
  /** Value by value (linked attributes): what the change did to each. */
  readonly valueOps: Map<string, 'add' | 'delete'>;
  readonly anyValue: boolean;
}

/** What a batch's recognition settles once committed: the receipts up to the one matched, whole or for some values. */
export interface Settlement {
  /** The entry's keys the receipts were found under (its id, its DN). */
  readonly entries: readonly string[];
  readonly attribute: string;
  /** The receipt matched: it and those written before it are settled. */
  readonly upTo: { readonly writtenAt: number; readonly serial: number };
  /** Values settled one by one (a linked attribute); undefined: the whole receipts. */
  readonly value?: string;
}

/**
 * A read showed the entry at a DN no pending move names: its moves that landed before that read are superseded
 * (someone moved it since), and so are those whose second receipt comes later with an earlier landing.
 */
export interface Superseded {
  readonly entry: string;
  /** The DN shown (receiptValueKey). */
  readonly shown: string;
}

export interface Recognized {
  /** The change without the writer's own part; null when all of it was the writer's. */
  readonly event: EntryChangeEvent | null;
  /** The writer's part (for the state topic and the counts); empty when none. */
  readonly own: readonly AttributeChange[];
  readonly settles: readonly Settlement[];
  /** Moves found superseded, applied with the settlements. */
  readonly superseded?: Superseded;
}

/**
 * A value as compared: a DN whatever its case and spacing (AD spells a DN value its own way), anything else by its
 * bytes (text and binary alike).
 */
export function receiptValueKey(value: AttributeValue): string {
  if (typeof value === 'string' && value.includes('=')) {
    try {
      return `dn:${normalizeDn(value)}`;
    } catch {
      // not a DN: compared by its bytes below
    }
  }
  return `b:${(typeof value === 'string' ? Buffer.from(value, 'utf8') : value).toString('hex')}`;
}

/**
 * Receipts in the order they were written: by the writer's clock (an entry's requests go through one writer at a time),
 * then as read. Receipts of one entry may come from two partitions (by id, by DN while it was being created).
 */
const written = (a: { readonly writtenAt: number; readonly serial: number }, b: { readonly writtenAt: number; readonly serial: number }): number => a.writtenAt - b.writtenAt || a.serial - b.serial;

/** The pseudo attribute a move's receipt names the entry's new DN by (the ad-writer's DN_RECEIPT_ATTRIBUTE). */
const DN_ATTRIBUTE = 'distinguishedname';

const idKey = (id: string): string => `id:${id.toLowerCase()}`;

/** A DN as receipts of entries being created are keyed (null when it does not parse). */
function dnKey(dn: string): string | null {
  try {
    return `dn:${normalizeDn(dn)}`;
  } catch {
    return null;
  }
}

/** The naming attribute (lower case) and value of a DN; null when it does not parse or is multi-valued. */
function namingValue(dn: string): { readonly type: string; readonly value: string } | null {
  try {
    const rdn = parseDn(dn)[0] ?? [];
    const [ava] = rdn;
    return ava === undefined || rdn.length > 1 ? null : { type: ava.type.toLowerCase(), value: ava.value };
  } catch {
    return null;
  }
}

const keysOf = (values: readonly AttributeValue[]): Set<string> => new Set(values.map(receiptValueKey));

function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const key of a) if (!b.has(key)) return false;
  return true;
}

export class OwnWrites {
  /** entry id -> attribute -> its pending receipts, oldest first. */
  private readonly byEntry = new Map<string, Map<string, Pending[]>>();
  private serial = 0;
  /** Per entry key: the latest committed read that showed it at a DN no pending move named. */
  private readonly seenElsewhere = new Map<string, { readonly at: number; readonly shown: string }>();
  /** Receipts written before this cannot match a change still to come. */
  private cutoff = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: OwnWritesOptions) {}

  /** Attribute receipts pending, for the status. */
  get pending(): number {
    let count = 0;
    for (const attributes of this.byEntry.values()) for (const list of attributes.values()) count += list.length;
    return count;
  }

  /** A receipt read from the topic. One older than the cutoff is ignored. */
  note(receipt: WriteReceipt): void {
    if (receipt.writtenAt < this.cutoff) return;
    const entry = receipt.entryId === null ? dnKey(receipt.dn) : idKey(receipt.entryId.value);
    if (entry === null) return;
    if (receipt.landedAt !== null) {
      this.landed(entry, receipt.requestId, receipt.landedAt, receipt.attributes);
      return;
    }
    let attributes = this.byEntry.get(entry);
    if (attributes === undefined) {
      attributes = new Map();
      this.byEntry.set(entry, attributes);
    }
    this.serial += 1;
    for (const attribute of receipt.attributes) {
      const key = attribute.name.toLowerCase();
      const valueOps = new Map<string, 'add' | 'delete'>();
      for (const value of attribute.added) valueOps.set(receiptValueKey(value), 'add');
      for (const value of attribute.removed) valueOps.set(receiptValueKey(value), 'delete');
      const pending: Pending = {
        serial: this.serial,
        requestId: receipt.requestId,
        writtenAt: receipt.writtenAt,
        landedAt: null,
        holds: attribute.values === null ? null : keysOf(attribute.values),
        valueOps,
        anyValue: attribute.anyValue,
      };
      const list = attributes.get(key);
      if (list === undefined) attributes.set(key, [pending]);
      else list.push(pending);
    }
  }

  /**
   * A change as DirSync showed it, without the writer's own part: a modify value by value, an add whole (above), a
   * rename by the DN it shows (the writer's receipt of a move names the entry's new DN as `distinguishedName`): the
   * writer's rename is not published, its other changes are, as a modify. A delete is published as it is.
   */
  recognize(event: EntryChangeEvent): Recognized {
    if (event.op === 'rename') return this.recognizeRename(event);
    const recognized = this.recognizeValues(event);
    // A modify shows where the entry is too: a move of the writer's that it does not show may be superseded.
    if (event.op !== 'modify') return recognized;
    const { entry, moves, shown, match } = this.moveShowing(event);
    return moves === undefined || match !== undefined ? recognized : { ...recognized, superseded: { entry, shown } };
  }

  /** The entry's pending moves, and the latest one naming the DN the event shows (undefined: none does). */
  private moveShowing(event: EntryChangeEvent): { entry: string; moves: Pending[] | undefined; shown: string; match: Pending | undefined } {
    const entry = idKey(event.entryId.value);
    const moves = this.byEntry.get(entry)?.get(DN_ATTRIBUTE);
    const shown = receiptValueKey(event.dn);
    return { entry, moves, shown, match: moves?.findLast((p) => p.holds !== null && p.holds.size === 1 && p.holds.has(shown)) };
  }

  private recognizeValues(event: EntryChangeEvent): Recognized {
    if (event.op !== 'modify' && event.op !== 'add') return { event, own: [], settles: [] };
    const entries = [idKey(event.entryId.value), dnKey(event.dn)].filter((key): key is string => key !== null && this.byEntry.has(key));
    if (entries.length === 0) return { event, own: [], settles: [] };
    const pendingOf = (attribute: string): Pending[] => entries.flatMap((entry) => this.byEntry.get(entry)?.get(attribute) ?? []).toSorted(written);
    const own: AttributeChange[] = [];
    const rest: AttributeChange[] = [];
    const settles: Settlement[] = [];
    let unmatched = false;
    for (const change of event.attributes) {
      const attribute = change.name.toLowerCase();
      const list = pendingOf(attribute);
      if (list.length === 0) {
        rest.push(change);
        continue;
      }
      if (change.op === 'replace') {
        const shown = keysOf(change.values);
        const match = list.findLast((p) => p.anyValue || (p.holds !== null && sameKeys(shown, p.holds)));
        if (match === undefined) {
          rest.push(change);
          unmatched = true;
        } else {
          own.push(change);
          settles.push({ entries, attribute, upTo: match });
        }
        continue;
      }
      const mine: AttributeValue[] = [];
      const others: AttributeValue[] = [];
      for (const value of change.values) {
        const key = receiptValueKey(value);
        const match = list.findLast((p) => p.valueOps.get(key) === change.op);
        if (match === undefined) others.push(value);
        else {
          mine.push(value);
          settles.push({ entries, attribute, upTo: match, value: key });
        }
      }
      if (mine.length > 0) own.push({ ...change, values: mine });
      if (others.length > 0) rest.push({ ...change, values: others });
    }
    if (own.length === 0) return { event, own, settles: [] };
    if (event.op === 'add') {
      // Whole or not at all: what AD set itself comes with the writer's add; a value someone else changed since does not.
      return unmatched ? { event, own: [], settles: [] } : { event: null, own: event.attributes, settles };
    }
    return { event: rest.length === 0 ? null : { ...event, attributes: rest }, own, settles };
  }

  /**
   * A rename is the writer's when a pending move receipt of the entry names the DN DirSync shows; otherwise it is
   * someone else's and published whole (what else it carries with it included).
   */
  private recognizeRename(event: EntryChangeEvent): Recognized {
    const { entry, moves, shown, match } = this.moveShowing(event);
    if (moves === undefined) return { event, own: [], settles: [] };
    if (match === undefined) return { event, own: [], settles: [], superseded: { entry, shown } };
    const dnChange: AttributeChange = { name: 'distinguishedName', op: 'replace', values: [event.dn] };
    // The new naming value DirSync shows with the rename (cn, ou) is the rename's.
    const naming = namingValue(event.dn);
    const named = (change: AttributeChange): boolean =>
      naming !== null && change.op === 'replace' && change.name.toLowerCase() === naming.type && change.values.length === 1 && change.values[0] === naming.value;
    const rest = this.recognizeValues({ ...event, op: 'modify', previousDn: null, attributes: event.attributes.filter((change) => !named(change)) });
    const settles: Settlement[] = [{ entries: [entry], attribute: DN_ATTRIBUTE, upTo: match }, ...rest.settles];
    const left = rest.event !== null && rest.event.attributes.length > 0 ? rest.event : null;
    return { event: left, own: [dnChange, ...rest.own], settles };
  }

  /** A move's second receipt: its first is marked landed, and dropped at once if a read since showed the entry elsewhere. */
  private landed(entry: string, requestId: string, landedAt: number, attributes: WriteReceipt['attributes']): void {
    const moves = this.byEntry.get(entry)?.get(DN_ATTRIBUTE);
    const to = attributes.find((a) => a.name.toLowerCase() === DN_ATTRIBUTE)?.values;
    if (moves === undefined || to === null || to === undefined) return;
    const shown = keysOf(to);
    const first = moves.findLast((p) => p.requestId === requestId && p.landedAt === null && p.holds !== null && sameKeys(p.holds, shown));
    if (first === undefined) return; // matched already, or forgotten
    for (const list of this.byEntry.get(entry)?.values() ?? []) for (const p of list) if (p.serial === first.serial) p.landedAt = landedAt;
    const seen = this.seenElsewhere.get(entry);
    if (seen !== undefined && seen.at > landedAt && !shown.has(seen.shown)) this.dropMove(entry, first.serial);
  }

  /** Drops every attribute of one receipt of the entry (a move superseded). */
  private dropMove(entry: string, serial: number): void {
    const attributes = this.byEntry.get(entry);
    if (attributes === undefined) return;
    for (const [name, list] of attributes) {
      const left = list.filter((p) => p.serial !== serial);
      if (left.length === 0) attributes.delete(name);
      else attributes.set(name, left);
    }
    if (attributes.size === 0) this.byEntry.delete(entry);
  }

  /** A read started at `readStartedAt` showed the entry at `shown`, which no pending move names (committed). */
  private supersede({ entry, shown }: Superseded, readStartedAt: number): void {
    const seen = this.seenElsewhere.get(entry);
    if (seen === undefined || seen.at < readStartedAt) this.seenElsewhere.set(entry, { at: readStartedAt, shown });
    for (const p of this.byEntry.get(entry)?.get(DN_ATTRIBUTE) ?? []) {
      if (p.landedAt !== null && p.landedAt < readStartedAt && p.holds?.has(shown) !== true) this.dropMove(entry, p.serial);
    }
  }

  /** After the batch's commit: what it recognized is settled, and receipts too old to match are forgotten. */
  settle(settles: readonly Settlement[], readStartedAt: number, superseded: readonly Superseded[] = []): void {
    for (const moved of superseded) this.supersede(moved, readStartedAt);
    for (const settled of settles) {
      for (const entry of settled.entries) {
        const attributes = this.byEntry.get(entry);
        const list = attributes?.get(settled.attribute);
        if (attributes === undefined || list === undefined) continue;
        const { value } = settled;
        // The receipts up to the matched one are done with (a later one still waits for its own change).
        const left = value === undefined ? list.filter((p) => written(p, settled.upTo) > 0) : list.filter((p) => written(p, settled.upTo) > 0 || (p.valueOps.delete(value), p.valueOps.size > 0));
        if (left.length === 0) attributes.delete(settled.attribute);
        else attributes.set(settled.attribute, left);
        if (attributes.size === 0) this.byEntry.delete(entry);
      }
    }
    this.forgetBefore(readStartedAt - this.options.settleMs);
  }

  /** Receipts written before `time` are dropped, and later ones older than it ignored. */
  forgetBefore(time: number): void {
    if (time <= this.cutoff) return;
    this.cutoff = time;
    for (const [entry, seen] of this.seenElsewhere) if (seen.at < time) this.seenElsewhere.delete(entry);
    for (const [entry, attributes] of this.byEntry) {
      for (const [name, list] of attributes) {
        const left = list.filter((p) => p.writtenAt >= time);
        if (left.length === 0) attributes.delete(name);
        else attributes.set(name, left);
      }
      if (attributes.size === 0) this.byEntry.delete(entry);
    }
  }
}
