import { type DirectoryKind } from '@idsync/config';
import { type AttributeValue, type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import { type CompiledPipe, mapChange, MappingError, type MapResult, normalizeDn } from '@idsync/mapping';
import { type SnapshotEntry } from '@idsync/detector';
import { type CurrentEntry, entryIdOf, type PlannedStep, planWrite, type PlanOptions } from '@idsync/writer';
import { linkedDestination, linkedSource, type PipeLinks, type UnclaimedEntry } from './resync-links';

/**
 * The pure heart of a resync: source entries become snapshot events, the pipe's mapping turns them into the
 * writer's requests, and each request is planned against the destination entry read in bulk, with the writer's
 * own planWrite, found as the writer finds it (by link, then DN, then correlation). An empty plan means the entry
 * is already in line; a non-empty one lists exactly what the writer would change.
 */

/** How the destination entry of a request was found (as DirectoryWriter.find: by link first). */
export type FoundBy = 'link' | 'dn' | 'correlation' | 'none';

/**
 * The keys a destination entry is found by, as an index stores them: its normalized DN, its id (lower-case; null
 * when the read did not return it) and one key per correlation list it has every attribute of (`listKey`).
 */
export interface DestinationKeys {
  readonly dn: string;
  readonly id: string | null;
  readonly correlation: readonly string[];
}

/** The keys a request looks its destination entry up by: the id it is linked to, its DN, its correlation lists. */
export interface RequestKeys {
  readonly linkedId: string | null;
  readonly dn: string;
  readonly correlation: readonly string[];
}

/** The correlation lists that can find anything (an empty list finds nothing). */
function usableLists(correlation: readonly (readonly string[])[]): (readonly string[])[] {
  return correlation.filter((list) => list.length > 0);
}

/** A correlation key qualified by its list (the n-th usable list), so keys of two lists never meet. */
function listKey(list: number, key: string): string {
  return `${list}\u0002${key}`;
}

export function destinationKeys(entry: CurrentEntry, correlation: readonly (readonly string[])[], kind?: DirectoryKind): DestinationKeys {
  const id = kind === undefined ? null : entryIdOf(entry, kind);
  return { dn: dnKey(entry.dn), id: id === null ? null : id.value.toLowerCase(), correlation: correlationKeysOf(entry, correlation) };
}

function correlationKeysOf(entry: CurrentEntry, correlation: readonly (readonly string[])[]): string[] {
  const keys: string[] = [];
  usableLists(correlation).forEach((attributes, list) => {
    const key = correlationKey(attributes, (name) => entry.attributes.get(name.toLowerCase())?.values);
    if (key !== null) keys.push(listKey(list, key));
  });
  return keys;
}

/** An entry with its normalized DN and id (lower-case) already known, as a DestinationStore gives them back. */
export interface KeyedEntry {
  readonly entry: CurrentEntry;
  readonly dn: string;
  readonly id: string | null;
}

export function requestKeys(request: WriteRequest, linkedId: string | null, correlation: readonly (readonly string[])[]): RequestKeys {
  const stated = statedValues(request);
  const keys: string[] = [];
  usableLists(correlation).forEach((attributes, list) => {
    const key = correlationKey(attributes, (name) => stated.get(name.toLowerCase()));
    if (key !== null) keys.push(listKey(list, key));
  });
  return { linkedId: linkedId === null ? null : linkedId.toLowerCase(), dn: dnKey(request.dn), correlation: keys };
}

/** Values a request states in full (a replace with values): what correlation compares. */
function statedValues(request: WriteRequest): Map<string, readonly AttributeValue[]> {
  const stated = new Map<string, readonly AttributeValue[]>();
  for (const change of request.attributes) if (change.op === 'replace' && change.values.length > 0) stated.set(change.name.toLowerCase(), change.values);
  return stated;
}

/** What a comparison asks of the destination: the index of every entry, or the part of it a batch of requests can find. */
export interface DestinationLookup {
  find(request: WriteRequest, linkedId?: string | null): { entry: CurrentEntry | null; foundBy: FoundBy; ambiguous?: readonly string[] };
  idOf(entry: CurrentEntry): string | null;
  claim(dn: string): void;
}

/**
 * Destination entries held in memory, found the way the writer finds them: by the id the source entry is linked to,
 * then by DN, then by correlation lists. A large run holds only the entries a batch of requests can find (every entry
 * with one of their keys, in read order: see DestinationStore), which gives the same answers as the whole index.
 */
export class DestinationIndex implements DestinationLookup {
  private readonly dns = new Map<string, CurrentEntry>();
  private readonly ids = new Map<string, CurrentEntry>();
  private readonly idOfDn = new Map<string, string>();
  private readonly lists = new Map<string, CurrentEntry[]>();
  private readonly matched = new Set<string>();
  /** Normalized DNs of the entries, by their DN as read: normalizing is the costly part of a lookup. */
  private readonly dnKeys = new Map<string, string>();

  /** `kind`: the destination's, to index entries by their id (objectGUID, entryUUID) when the read returned it. */
  constructor(
    entries: Iterable<CurrentEntry>,
    private readonly correlation: readonly (readonly string[])[],
    kind?: DirectoryKind,
  ) {
    for (const entry of entries) {
      const id = kind === undefined ? null : entryIdOf(entry, kind);
      this.add({ entry, dn: dnKey(entry.dn), id: id === null ? null : id.value.toLowerCase() });
    }
  }

  /** An index of entries whose keys are known already. */
  static ofKeyed(entries: Iterable<KeyedEntry>, correlation: readonly (readonly string[])[]): DestinationIndex {
    const index = new DestinationIndex([], correlation);
    for (const keyed of entries) index.add(keyed);
    return index;
  }

  private add({ entry, dn, id }: KeyedEntry): void {
    this.dns.set(dn, entry);
    this.dnKeys.set(entry.dn, dn);
    if (id !== null) {
      this.ids.set(id, entry);
      this.idOfDn.set(dn, id);
    }
    for (const key of correlationKeysOf(entry, this.correlation)) {
      const same = this.lists.get(key);
      if (same) same.push(entry);
      else this.lists.set(key, [entry]);
    }
  }

  private keyOf(dn: string): string {
    return this.dnKeys.get(dn) ?? dnKey(dn);
  }

  get size(): number {
    return this.dns.size;
  }

  /** The id of an entry of the index (lower-case), null when the read did not return it. */
  idOf(entry: CurrentEntry): string | null {
    return this.idOfDn.get(this.keyOf(entry.dn)) ?? null;
  }

  /**
   * Like DirectoryWriter.find: the entry with the linked id (`linkedId`, wherever it is), else the entry at the DN,
   * else the one entry each usable correlation list finds.
   */
  find(request: WriteRequest, linkedId: string | null = null): { entry: CurrentEntry | null; foundBy: FoundBy; ambiguous?: readonly string[] } {
    return this.findByKeys(requestKeys(request, linkedId, this.correlation));
  }

  /** find() with the request's keys computed already (requestKeys, with this index's correlation lists). */
  findByKeys(keys: RequestKeys): { entry: CurrentEntry | null; foundBy: FoundBy; ambiguous?: readonly string[] } {
    const byLink = keys.linkedId === null ? undefined : this.ids.get(keys.linkedId);
    if (byLink) return { entry: byLink, foundBy: 'link' };
    const byDn = this.dns.get(keys.dn);
    if (byDn) return { entry: byDn, foundBy: 'dn' };
    for (const key of keys.correlation) {
      const found = this.lists.get(key) ?? [];
      if (found.length > 1) return { entry: null, foundBy: 'none', ambiguous: found.map((e) => e.dn) };
      if (found.length === 1) return { entry: found[0] as CurrentEntry, foundBy: 'correlation' };
    }
    return { entry: null, foundBy: 'none' };
  }

  /** Marks a destination entry as the counterpart of a source entry (it is not a deletion candidate). */
  claim(dn: string): void {
    this.matched.add(this.keyOf(dn));
  }

  /** The normalized DNs of the entries claimed so far. */
  claimedDns(): ReadonlySet<string> {
    return this.matched;
  }

  /** Entries no source entry claimed, with their ids, deepest first (children before their parents). */
  unclaimed(): UnclaimedEntry[] {
    return [...this.dns.entries()]
      .filter(([key]) => !this.matched.has(key))
      .map(([key, entry]) => ({ entry, id: this.idOfDn.get(key) ?? null }))
      .sort((a, b) => dnDepth(b.entry.dn) - dnDepth(a.entry.dn) || a.entry.dn.localeCompare(b.entry.dn));
  }
}

export const COMPARISON_KINDS = ['equal', 'create', 'update', 'error'] as const;
export type ComparisonKind = (typeof COMPARISON_KINDS)[number];

/**
 * The link side of a comparison, as the writer will see it:
 * - `linked`: found by its link;
 * - `unlinked`: found by DN or correlation and linked to nothing: the writer links what it finds, so the entry is
 *   published even when equal;
 * - `dangling`: the source entry is linked to a destination id the destination read did not return (deleted there,
 *   or not of the pipe's classes): the writer looks it up by id, and links anew what it finds or creates;
 * - `none`: no link, nothing found (a create links the new entry), or an error.
 */
export const LINK_STATES = ['linked', 'unlinked', 'dangling', 'none'] as const;
export type LinkState = (typeof LINK_STATES)[number];

export interface Comparison {
  readonly kind: ComparisonKind;
  /** The destination DN the writer would work on (where the entry is now). */
  readonly dn: string;
  readonly foundBy: FoundBy;
  readonly link: LinkState;
  /** A linked entry at another DN than the mapped one: the writer moves it (`from` where it is, `to` the mapped DN). */
  readonly move: { readonly from: string; readonly to: string } | null;
  readonly steps: readonly PlannedStep[];
  /** Per attribute, what the destination has and what the resync would make it. */
  readonly differences: readonly AttributeDifference[];
  /** For `error`: why the writer would refuse this entry (never holds attribute values). */
  readonly problem?: string;
}

export interface AttributeDifference {
  readonly attribute: string;
  /** Values at the destination now (empty: absent). */
  readonly current: readonly AttributeValue[];
  /** Values added and removed (value-level changes), or the whole new list for a replace. */
  readonly add: readonly AttributeValue[];
  readonly remove: readonly AttributeValue[];
  /** True when the whole attribute is replaced by `add`. */
  readonly replace: boolean;
}

/**
 * Plans one request against the bulk-read destination: what the writer would do with it right now. With `links`,
 * the destination entry is found by link first and a linked entry at another DN is moved (as DirectoryWriter does);
 * an entry found by DN or correlation that is linked to another source entry is a conflict the writer refuses.
 */
export function compareRequest(request: WriteRequest, index: DestinationLookup, options: PlanOptions, links?: PipeLinks): Comparison {
  const sourceId = request.sourceEntryId.value;
  const linkedId = links === undefined ? null : linkedDestination(links, sourceId);
  const found = index.find(request, linkedId);
  const error = (problem: string, foundBy: FoundBy, dn = request.dn): Comparison => ({ kind: 'error', dn, foundBy, link: 'none', move: null, steps: [], differences: [], problem });
  if (found.ambiguous) return error(`correlation finds ${found.ambiguous.length} destination entries (${found.ambiguous.slice(0, 3).join('; ')})`, 'none');
  let link: LinkState = 'none';
  if (found.foundBy === 'link') link = 'linked';
  else if (linkedId !== null) link = 'dangling';
  else if (found.entry !== null) link = 'unlinked';
  if (found.entry !== null && found.foundBy !== 'link' && links !== undefined) {
    const id = index.idOf(found.entry);
    const owner = id === null ? null : linkedSource(links, id);
    if (owner !== null && owner.toLowerCase() !== sourceId.toLowerCase()) {
      return error(`link conflict: ${found.entry.dn} is linked to source entry ${owner}, not to ${sourceId}; the writer leaves it alone`, found.foundBy, found.entry.dn);
    }
  }
  if (found.entry) index.claim(found.entry.dn);
  // The linked entry is the one, wherever it is: a DN that differs is a rename this side has not seen; the writer
  // moves it while making it equal.
  const moves = found.foundBy === 'link' && found.entry !== null && (request.op === 'upsert' || request.op === 'modify') && dnKey(found.entry.dn) !== dnKey(request.dn);
  let plan;
  try {
    plan = planWrite(moves ? { ...request, op: 'rename', previousDn: found.entry?.dn ?? null } : request, found.entry, options);
  } catch (caught) {
    return { ...error(caught instanceof Error ? caught.message : String(caught), found.foundBy), link };
  }
  const dn = plan.target ?? request.dn;
  const renamed = plan.steps.find((step) => step.kind === 'modify-dn');
  const move = renamed === undefined ? null : { from: renamed.dn, to: renamed.newDn };
  if (plan.steps.length === 0) return { kind: 'equal', dn, foundBy: found.foundBy, link, move: null, steps: [], differences: [] };
  return {
    kind: found.entry === null ? 'create' : 'update',
    dn,
    foundBy: found.foundBy,
    link,
    move,
    steps: plan.steps,
    differences: differencesOf(plan.steps, found.entry),
  };
}

/** Whether the writer has something to do for this comparison: a write, or a link to record. */
export function needsPublishing(comparison: Comparison): boolean {
  if (comparison.kind === 'error') return false;
  if (comparison.kind !== 'equal') return true;
  return comparison.link === 'unlinked' || comparison.link === 'dangling';
}

/**
 * The source entry's event mapped through the pipe, or why it cannot be: a MappingError (no DN map matches, a
 * template lacks a value...) is one entry's problem, reported, not a reason to stop the resync.
 */
export function mapSnapshot(event: EntryChangeEvent, pipe: CompiledPipe): MapResult | { readonly kind: 'unmappable'; readonly problem: string } {
  try {
    return mapChange(event, pipe);
  } catch (error) {
    if (error instanceof MappingError) return { kind: 'unmappable', problem: error.problem };
    throw error;
  }
}

function differencesOf(steps: readonly PlannedStep[], current: CurrentEntry | null): AttributeDifference[] {
  const out: AttributeDifference[] = [];
  const now = (name: string): readonly AttributeValue[] => current?.attributes.get(name.toLowerCase())?.values ?? [];
  for (const step of steps) {
    if (step.kind === 'add') {
      for (const a of step.attributes) out.push({ attribute: a.name, current: [], add: a.values, remove: [], replace: true });
    } else if (step.kind === 'modify') {
      for (const c of step.changes) {
        if (c.op === 'replace') out.push({ attribute: c.name, current: now(c.name), add: c.values, remove: [], replace: true });
        else if (c.op === 'add') out.push({ attribute: c.name, current: now(c.name), add: c.values, remove: [], replace: false });
        else out.push({ attribute: c.name, current: now(c.name), add: [], remove: c.values.length > 0 ? c.values : now(c.name), replace: false });
      }
    }
  }
  return out;
}

/** One line per difference for people; password values never shown, bytes as a length. */
export function describeDifference(d: AttributeDifference, isPassword: (name: string) => boolean): string {
  const show = (values: readonly AttributeValue[]): string =>
    values.length === 0 ? '(none)' : values.map((v) => (isPassword(d.attribute) ? '***' : Buffer.isBuffer(v) ? `<${v.length} bytes>` : JSON.stringify(v))).join(', ');
  if (d.replace) return `${d.attribute}: ${show(d.current)} -> ${show(d.add)}`;
  const parts = [...d.add.map((v) => `+${show([v])}`), ...d.remove.map((v) => `-${show([v])}`)];
  return `${d.attribute}: ${parts.join(' ')}`;
}

/** One source entry as the comparison sees it: the snapshot source's entry. */
export type SourceEntry = SnapshotEntry;

/** A DN as indexes key it: normalized (case, spacing, escapes), or lower-cased when it does not parse. */
export function dnKey(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn.toLowerCase();
  }
}

/** The number of RDNs of a DN (escaped commas do not count): deeper entries are deleted before their parents. */
export function dnDepth(dn: string): number {
  let n = 1;
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') i++;
    else if (dn[i] === ',') n++;
  }
  return n;
}

/** Equality on each value, case-insensitively (uid, mail, sAMAccountName match ignoring case); null when a value is missing. */
function correlationKey(attributes: readonly string[], valuesOf: (name: string) => readonly AttributeValue[] | undefined): string | null {
  const parts: string[] = [];
  for (const name of attributes) {
    const values = valuesOf(name);
    if (values === undefined || values.length === 0) return null;
    parts.push(
      values
        .map((v) => (Buffer.isBuffer(v) ? `b:${v.toString('hex')}` : `s:${v.trim().toLowerCase()}`))
        .sort()
        .join('\u0000'),
    );
  }
  return parts.join('\u0001');
}
