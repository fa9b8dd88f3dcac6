import { type DirectoryKind } from '@idsync/config';
import { type AttributeValue, canonicalGuid, canonicalUuid, type EntryId } from '@idsync/contracts';
import { entryImage, type SearchEntry } from '@idsync/detector';
import { type AfterImageAttributes, afterImageAttributes, type CompiledPipe } from '@idsync/mapping';
import { type SourceEntry } from './resync-compare';
import { entryIdAttribute } from './resync-scope';

/**
 * The source side of a resync, pure: which detector reads the source directory (its after-image attribute set), what
 * the source search requests, and each entry read as the comparison sees it, with the after-image its detector would
 * read.
 */

type DetectorService = 'ad-detector' | 'ds-detector';

interface DetectorSettings {
  readonly source: string;
  readonly afterImage: { readonly enabled: boolean; readonly include: readonly string[]; readonly exclude: readonly string[] };
}

/** The part of the configuration this reads (SyncConfig has it). */
export interface DetectorsConfig {
  readonly services: { readonly 'ad-detector': DetectorSettings; readonly 'ds-detector': DetectorSettings };
}

/** The detector that reads a directory, as far as a resync publishes on its behalf. */
export interface SourceDetector {
  readonly service: DetectorService;
  /** Its after-image attribute set; null when services.<detector>.afterImage.enabled is false (its events carry none). */
  readonly set: AfterImageAttributes | null;
}

/** The detector whose source is `directory` (services.ad-detector.source or services.ds-detector.source); null for none. */
export function sourceDetector(config: DetectorsConfig, pipes: readonly CompiledPipe[], directory: string): SourceDetector | null {
  const service = (['ad-detector', 'ds-detector'] as const).find((name) => config.services[name].source === directory);
  if (service === undefined) return null;
  const settings = config.services[service];
  return { service, set: settings.afterImage.enabled ? afterImageAttributes(directory, pipes, settings.afterImage) : null };
}

/** How the source is read: the pipe's attributes for the comparison, and the after-image set's for the images. */
export interface SourceReading {
  readonly kind: DirectoryKind;
  /** What the source search requests. */
  readonly attributes: readonly string[];
  /** Lower-case names the comparison (and the snapshot's `attributes`) sees; null: every attribute read. */
  readonly compared: ReadonlySet<string> | null;
  /** The after-image set; null when the source's detector reads no images (events then carry `after: null`). */
  readonly set: AfterImageAttributes | null;
}

/**
 * The pipe's attributes (`pipeAttributes`, from the resync scope) and the set's (its names, or `*` when it is every
 * user attribute), as the detector requests them. The comparison keeps seeing only the pipe's: the extra attributes
 * read for the image do not change what is compared or what the snapshot event lists in `attributes`.
 */
export function sourceReading(kind: DirectoryKind, pipeAttributes: readonly string[], set: AfterImageAttributes | null): SourceReading {
  const imaged = set === null ? [] : set.allUserAttributes ? ['*'] : set.names;
  const requested = new Map<string, string>();
  for (const name of [...pipeAttributes, ...imaged, entryIdAttribute(kind)]) if (!requested.has(name.toLowerCase())) requested.set(name.toLowerCase(), name);
  const compared = pipeAttributes.includes('*') ? null : new Set(pipeAttributes.map((name) => name.toLowerCase()));
  return { kind, attributes: [...requested.values()], compared, set };
}

/** An ldapts entry as the comparison sees it, with its after-image; null when it has no stable id (nothing to key its events by). */
export function sourceEntry(raw: { readonly dn: string; readonly [name: string]: unknown }, reading: SourceReading): SourceEntry | null {
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
