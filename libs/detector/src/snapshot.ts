import { type DirectoryKind } from '@idsync/config';
import { type AttributeValue, canonicalGuid, canonicalUuid, type EntryChangeEvent, type EntryId, type EntryImage, type SourceSystem } from '@idsync/contracts';
import { type AfterImageAttributes } from '@idsync/mapping';
import { entryImage, type SearchEntry } from './after-image';

/**
 * A directory read whole, as the detectors would publish it: each entry keyed by its stable id, its attributes, and
 * the after-image of the detector's set, as an op `snapshot` event. Pure; the reads are in snapshot-reader.ts.
 */

/** The stable id each kind of directory keys its entries by. */
const ID_ATTRIBUTE: Readonly<Record<DirectoryKind, string>> = { 'active-directory': 'objectGUID', ldap: 'entryUUID' };

export function entryIdAttribute(kind: DirectoryKind): string {
  return ID_ATTRIBUTE[kind];
}

/** One entry read from the source. */
export interface SnapshotEntry {
  readonly dn: string;
  readonly entryId: EntryId;
  readonly objectClasses: readonly string[];
  /** Every attribute compared, values as the server gave them (text, or bytes for binary syntaxes). */
  readonly attributes: ReadonlyMap<string, { readonly name: string; readonly values: readonly AttributeValue[] }>;
  /** The entry's after-image, as its detector would read it; null when the detector reads none. */
  readonly after: EntryImage | null;
}

/** How the source is read: the attributes compared, and the after-image set's for the images. */
export interface SnapshotReading {
  readonly kind: DirectoryKind;
  /** What the search requests. */
  readonly attributes: readonly string[];
  /** Lower-case names the comparison (and the snapshot's `attributes`) sees; null: every attribute read. */
  readonly compared: ReadonlySet<string> | null;
  /** The after-image set; null when the source's detector reads no images (events then carry `after: null`). */
  readonly set: AfterImageAttributes | null;
}

/**
 * The attributes compared (`comparedAttributes`, e.g. a pipe's) and the set's (its names, or `*` when it is every user
 * attribute), as the detector requests them. The comparison keeps seeing only its own: the extra attributes read for
 * the image do not change what is compared or what the snapshot event lists in `attributes`.
 */
export function snapshotReading(kind: DirectoryKind, comparedAttributes: readonly string[], set: AfterImageAttributes | null): SnapshotReading {
  const imaged = set === null ? [] : set.allUserAttributes ? ['*'] : set.names;
  const requested = new Map<string, string>();
  for (const name of [...comparedAttributes, ...imaged, entryIdAttribute(kind)]) if (!requested.has(name.toLowerCase())) requested.set(name.toLowerCase(), name);
  const compared = comparedAttributes.includes('*') ? null : new Set(comparedAttributes.map((name) => name.toLowerCase()));
  return { kind, attributes: [...requested.values()], compared, set };
}

/** An ldapts entry as the comparison sees it, with its after-image; null when it has no stable id (nothing to key its events by). */
export function snapshotEntry(raw: { readonly dn: string; readonly [name: string]: unknown }, reading: SnapshotReading): SnapshotEntry | null {
  const attributes = new Map<string, { name: string; values: AttributeValue[] }>();
  const read = new Map<string, { name: string; values: AttributeValue[] }>();
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'dn') continue;
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is AttributeValue => typeof v === 'string' || Buffer.isBuffer(v));
    if (values.length === 0) continue;
    const key = name.toLowerCase();
    read.set(key, { name, values });
    // By the name before any option: a server may answer `userCertificate` with `userCertificate;binary`.
    if (reading.compared === null || reading.compared.has(key.split(';')[0] ?? key)) attributes.set(key, { name, values });
  }
  const entryId = idOf(read, reading.kind);
  if (entryId === null) return null;
  const objectClasses = (read.get('objectclass')?.values ?? []).map((v) => v.toString());
  const after = reading.set === null ? null : entryImage(raw as unknown as SearchEntry, reading.set, new Set([entryIdAttribute(reading.kind).toLowerCase()]));
  return { dn: raw.dn, entryId, objectClasses, attributes, after };
}

function idOf(attributes: ReadonlyMap<string, { values: readonly AttributeValue[] }>, kind: DirectoryKind): EntryId | null {
  const value = attributes.get(entryIdAttribute(kind).toLowerCase())?.values[0];
  if (value === undefined) return null;
  try {
    if (kind === 'active-directory') return Buffer.isBuffer(value) ? { kind: 'objectGUID', value: canonicalGuid(value) } : null;
    return { kind: 'entryUUID', value: canonicalUuid(value.toString()) };
  } catch {
    return null;
  }
}

/** Where a snapshot's events say they come from. */
export interface SnapshotContext {
  readonly system: SourceSystem;
  readonly directory: string;
  readonly server: string;
  readonly runId: string;
  readonly detectedAt: number;
}

/**
 * A full read of one entry as the pipeline's event: op `snapshot`, every attribute as a replace, and the after-image
 * (as a detector's events carry it), so a subscriber of the change topic sees whole entries from resyncs too.
 */
export function snapshotEvent(entry: SnapshotEntry, index: number, context: SnapshotContext): EntryChangeEvent {
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
    after: entry.after,
    before: null,
  };
}
