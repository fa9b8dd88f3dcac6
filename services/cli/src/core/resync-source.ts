import { encodeEntryState, type EntryChangeEvent, entryKey, type EntryState, entryStateOf } from '@idsync/contracts';
import { type AfterImageAttributes, afterImageAttributes, type CompiledPipe, isInSubtree } from '@idsync/mapping';
import { recordBytes } from '@idsync/platform';
import { type SourceEntry } from './resync-compare';

/**
 * The source side of a resync, pure: which detector reads the source directory (its after-image attribute set, its
 * state topic, its scope), what the source search requests, and each entry read as the comparison sees it, with the
 * after-image its detector would read. The state record of an entry is what the detector would publish for it.
 */

type DetectorService = 'ad-detector' | 'ds-detector';

interface DetectorSettings {
  readonly source: string;
  readonly includeBaseDns: readonly string[];
  readonly includeObjectClasses: readonly string[];
  readonly afterImage: { readonly enabled: boolean; readonly include: readonly string[]; readonly exclude: readonly string[] };
}

/** The part of the configuration this reads (SyncConfig has it). */
export interface DetectorsConfig {
  readonly services: { readonly 'ad-detector': DetectorSettings; readonly 'ds-detector': DetectorSettings };
  readonly kafka: { readonly topics: { readonly adState?: { readonly name: string } | undefined; readonly dsState?: { readonly name: string } | undefined } };
  readonly directories: Readonly<Record<string, { readonly baseDn: string } | undefined>>;
}

/** The detector that reads a directory, as far as a resync publishes on its behalf. */
export interface SourceDetector {
  readonly service: DetectorService;
  /** Its after-image attribute set; null when services.<detector>.afterImage.enabled is false (no images, no states). */
  readonly set: AfterImageAttributes | null;
  /** Its state topic; null when kafka.topics.adState / dsState is not set. */
  readonly stateTopic: string | null;
  /** The configuration key of that topic, for messages. */
  readonly stateTopicKey: 'kafka.topics.adState' | 'kafka.topics.dsState';
  /** What it publishes: entries under these DNs (its includeBaseDns, else the directory's base)... */
  readonly includeBaseDns: readonly string[];
  /** ...with one of these object classes (any when empty). */
  readonly includeObjectClasses: readonly string[];
}

/** The detector whose source is `directory` (services.ad-detector.source or services.ds-detector.source); null for none. */
export function sourceDetector(config: DetectorsConfig, pipes: readonly CompiledPipe[], directory: string): SourceDetector | null {
  const service = (['ad-detector', 'ds-detector'] as const).find((name) => config.services[name].source === directory);
  if (service === undefined) return null;
  const settings = config.services[service];
  const stateTopicKey = service === 'ad-detector' ? 'kafka.topics.adState' : 'kafka.topics.dsState';
  const topic = service === 'ad-detector' ? config.kafka.topics.adState : config.kafka.topics.dsState;
  const baseDn = config.directories[directory]?.baseDn;
  return {
    service,
    set: settings.afterImage.enabled ? afterImageAttributes(directory, pipes, settings.afterImage) : null,
    stateTopic: topic?.name ?? null,
    stateTopicKey,
    includeBaseDns: settings.includeBaseDns.length > 0 ? settings.includeBaseDns : baseDn === undefined ? [] : [baseDn],
    includeObjectClasses: settings.includeObjectClasses,
  };
}

/** Where a resync publishes entry states of a directory, or why it cannot. */
export type StateTarget = { readonly kind: 'publish'; readonly topic: string; readonly detector: SourceDetector } | { readonly kind: 'refused'; readonly problem: string; readonly hint: string };

/**
 * The state topic of `directory`'s detector. Refused without one, and when the detector reads no after-images: it
 * would keep none of these records current, so they would only go stale.
 */
export function stateTarget(detector: SourceDetector | null, directory: string): StateTarget {
  if (detector === null) {
    return {
      kind: 'refused',
      problem: `no detector reads directory '${directory}' (services.ad-detector.source, services.ds-detector.source): it has no state topic`,
      hint: "publish the states of a pipe whose source is a detector's directory",
    };
  }
  if (detector.stateTopic === null) {
    return {
      kind: 'refused',
      problem: `directory '${directory}' has no state topic: ${detector.stateTopicKey} is not set in the configuration`,
      hint: `set ${detector.stateTopicKey} (a compacted topic the ${detector.service} publishes too; see libs/contracts/README.md, entry-state)`,
    };
  }
  if (detector.set === null) {
    return {
      kind: 'refused',
      problem: `services.${detector.service}.afterImage.enabled is false: the ${detector.service} keeps no entry states of directory '${directory}' current`,
      hint: `enable services.${detector.service}.afterImage (the default) first`,
    };
  }
  return { kind: 'publish', topic: detector.stateTopic, detector };
}

/**
 * Whether the detector publishes this entry's changes (under one of its base DNs, with one of its classes): only then
 * does it keep the entry's state current, so only then may a resync publish it.
 */
export function inDetectorScope(detector: SourceDetector, entry: Pick<SourceEntry, 'dn' | 'objectClasses'>): boolean {
  try {
    if (!detector.includeBaseDns.some((base) => isInSubtree(entry.dn, base))) return false;
  } catch {
    return false; // a DN that does not parse lies in no subtree
  }
  if (detector.includeObjectClasses.length === 0) return true;
  const classes = new Set(detector.includeObjectClasses.map((c) => c.toLowerCase()));
  return entry.objectClasses.some((c) => classes.has(c.toLowerCase()));
}

/**
 * The entry-state record of a snapshot event, exactly as a detector builds it from its events (entryStateOf): the
 * after-image, the event's DN, object classes and id, the snapshot's event id. Null when the event carries no image.
 */
export function snapshotState(event: EntryChangeEvent): EntryState | null {
  const state = entryStateOf(event);
  return state === 'deleted' ? null : state;
}

export type StateRecord =
  | { readonly kind: 'record'; readonly key: string; readonly value: Buffer }
  /** The detector does not publish this entry (outside its base DNs or classes, or no image): nothing to keep current. */
  | { readonly kind: 'outside-detector-scope' }
  /** Over the topic's record limit: left out, as the detector leaves out a state too large for its topic. */
  | { readonly kind: 'too-large'; readonly bytes: number; readonly limit: number };

/** The state-topic record of a snapshot event (keyed like the change topic), if the detector would publish one. */
export function stateRecord(event: EntryChangeEvent, detector: SourceDetector, limit: number): StateRecord {
  const state = inDetectorScope(detector, event) ? snapshotState(event) : null;
  if (state === null) return { kind: 'outside-detector-scope' };
  const message = { key: entryKey(event.entryId), value: encodeEntryState(state) };
  const bytes = recordBytes(message);
  return bytes > limit ? { kind: 'too-large', bytes, limit } : { kind: 'record', ...message };
}
