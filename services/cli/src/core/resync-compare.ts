import { type AttributeValue, type EntryChangeEvent, type EntryId, type SourceSystem, type WriteRequest } from '@idsync/contracts';
import { normalizeDn } from '@idsync/mapping';
import { type CurrentEntry, type PlannedStep, planWrite, type PlanOptions } from '@idsync/writer';

/**
 * The pure heart of a resync: source entries become snapshot events, the pipe's mapping turns them into the
 * writer's requests, and each request is planned against the destination entry read in bulk, with the writer's
 * own planWrite. An empty plan means the entry is already in line; a non-empty one lists exactly what the writer
 * would change.
 */

/** Destination entries read in bulk, found the way the writer finds them: by DN, then by correlation lists. */
export class DestinationIndex {
  private readonly dns = new Map<string, CurrentEntry>();
  private readonly lists: { readonly attributes: readonly string[]; readonly entries: Map<string, CurrentEntry[]> }[];
  private readonly matched = new Set<string>();

  constructor(entries: Iterable<CurrentEntry>, correlation: readonly (readonly string[])[]) {
    this.lists = correlation.filter((list) => list.length > 0).map((attributes) => ({ attributes, entries: new Map<string, CurrentEntry[]>() }));
    for (const entry of entries) {
      this.dns.set(dnKey(entry.dn), entry);
      for (const list of this.lists) {
        const key = correlationKey(list.attributes, (name) => entry.attributes.get(name.toLowerCase())?.values);
        if (key === null) continue;
        const same = list.entries.get(key);
        if (same) same.push(entry);
        else list.entries.set(key, [entry]);
      }
    }
  }

  get size(): number {
    return this.dns.size;
  }

  /** Like DirectoryWriter.find: the entry at the DN, else the one entry each usable correlation list finds. */
  find(request: WriteRequest): { entry: CurrentEntry | null; foundBy: 'dn' | 'correlation' | 'none'; ambiguous?: readonly string[] } {
    const byDn = this.dns.get(dnKey(request.dn));
    if (byDn) return { entry: byDn, foundBy: 'dn' };
    const stated = new Map<string, readonly AttributeValue[]>();
    for (const change of request.attributes) if (change.op === 'replace' && change.values.length > 0) stated.set(change.name.toLowerCase(), change.values);
    for (const list of this.lists) {
      const key = correlationKey(list.attributes, (name) => stated.get(name.toLowerCase()));
      if (key === null) continue;
      const found = list.entries.get(key) ?? [];
      if (found.length > 1) return { entry: null, foundBy: 'none', ambiguous: found.map((e) => e.dn) };
      if (found.length === 1) return { entry: found[0] as CurrentEntry, foundBy: 'correlation' };
    }
    return { entry: null, foundBy: 'none' };
  }

  /** Marks a destination entry as the counterpart of a source entry (it is not a deletion candidate). */
  claim(dn: string): void {
    this.matched.add(dnKey(dn));
  }

  /** Entries no source entry claimed, deepest first (children before their parents). */
  unclaimed(): CurrentEntry[] {
    return [...this.dns.entries()]
      .filter(([key]) => !this.matched.has(key))
      .map(([, entry]) => entry)
      .sort((a, b) => depth(b.dn) - depth(a.dn) || a.dn.localeCompare(b.dn));
  }
}

export const COMPARISON_KINDS = ['equal', 'create', 'update', 'error'] as const;
export type ComparisonKind = (typeof COMPARISON_KINDS)[number];

export interface Comparison {
  readonly kind: ComparisonKind;
  /** The destination DN the writer would work on. */
  readonly dn: string;
  readonly foundBy: 'dn' | 'correlation' | 'none';
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

/** Plans one request against the bulk-read destination: what the writer would do with it right now. */
export function compareRequest(request: WriteRequest, index: DestinationIndex, options: PlanOptions): Comparison {
  const found = index.find(request);
  if (found.ambiguous) {
    return { kind: 'error', dn: request.dn, foundBy: 'none', steps: [], differences: [], problem: `correlation finds ${found.ambiguous.length} destination entries (${found.ambiguous.slice(0, 3).join('; ')})` };
  }
  if (found.entry) index.claim(found.entry.dn);
  let plan;
  try {
    plan = planWrite(request, found.entry, options);
  } catch (error) {
    return { kind: 'error', dn: request.dn, foundBy: found.foundBy, steps: [], differences: [], problem: error instanceof Error ? error.message : String(error) };
  }
  const dn = plan.target ?? request.dn;
  if (plan.steps.length === 0) return { kind: 'equal', dn, foundBy: found.foundBy, steps: [], differences: [] };
  return {
    kind: found.entry === null ? 'create' : 'update',
    dn,
    foundBy: found.foundBy,
    steps: plan.steps,
    differences: differencesOf(plan.steps, found.entry),
  };
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

export interface SourceEntry {
  readonly dn: string;
  readonly entryId: EntryId;
  readonly objectClasses: readonly string[];
  /** Every attribute read, values as the server gave them (text, or bytes for binary syntaxes). */
  readonly attributes: ReadonlyMap<string, { readonly name: string; readonly values: readonly AttributeValue[] }>;
}

export interface SnapshotContext {
  readonly system: SourceSystem;
  readonly directory: string;
  readonly server: string;
  readonly runId: string;
  readonly detectedAt: number;
}

/** A full read of one entry as the pipeline's event: op `snapshot`, every attribute as a replace. */
export function snapshotEvent(entry: SourceEntry, index: number, context: SnapshotContext): EntryChangeEvent {
  return {
    eventId: `${context.directory}:snapshot:${context.runId}:${entry.entryId.value}`,
    source: { system: context.system, directory: context.directory, server: context.server, position: { kind: 'snapshot', runId: context.runId, index } },
    entryId: entry.entryId,
    op: 'snapshot',
    dn: entry.dn,
    previousDn: null,
    objectClasses: entry.objectClasses,
    attributes: [...entry.attributes.values()].map((a) => ({ name: a.name, op: 'replace' as const, values: a.values })),
    initiator: null,
    changeTime: null,
    detectedAt: context.detectedAt,
  };
}

function dnKey(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn.toLowerCase();
  }
}

function depth(dn: string): number {
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
