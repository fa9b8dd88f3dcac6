import { type DirectoryConfig } from '@idsync/config';
import { type EntryChangeEvent } from '@idsync/contracts';
import { type AfterImageAttributes, PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { type JsonLogger, type Metrics, type StoredCheckpoint } from '@idsync/platform';
import { type Keyring, sealPassword } from '@idsync/secrets';
import { lastKnownImage, type ReadImage, withAfterImages } from '../after-image';
import { readsAnything } from '../after-image-reader';
import { type ChangeSource, type CheckpointedPublisher, DetectorCoordinator, type DetectorState, type FailureVerdict, type PublishingOptions, type SourceBatch } from '../coordinator';
import { changelogAnchor, checkAnchor } from './changelog-anchor';
import { EntryIdUnknownError, MalformedChangelogEntryError, readChangelogRecord, toEntryChangeEvent, type ChangelogRecord } from './changelog-entry';
import { ChangelogReader, changeNumberOf, type EntryFacts } from './changelog-reader';
import { ChangeNumber } from './change-number';
import { enteredScopeSnapshot, type ReadEntry } from './entered-scope';
import { classifyFailure } from './failures';
import { IncludeRules, type IgnoreReason } from './include-rules';
import { DetectorMetrics } from '../metrics';
import { ObjectClassMemory } from './object-class-memory';
import { type DecryptChangelogPassword, type PasswordSealer } from './passwords';
import { decidePosition, nextRange, settleBatch, type ChangelogWindow, type PendingGap, type SettledBatch } from './position';

/** The id attribute, never in an image (the event's entryId is it). */
const ENTRY_UUID_ONLY: ReadonlySet<string> = new Set(['entryuuid']);

export interface DsDetectorOptions extends PublishingOptions {
  /** Directory name in the configuration (events' source.directory, eventId prefix). */
  readonly directoryName: string;
  readonly directory: DirectoryConfig;
  /** The attributes read into each event's after-image; none: events carry only what changed (after: null). */
  readonly afterImage?: AfterImageAttributes;
  /** Checkpoint identity (consumer group idsync.checkpoint.<detector>.<checkpointSource>); default: directoryName. */
  readonly checkpointSource?: string;
  readonly detectorName?: string;
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  /** Default: the directory's baseDn. */
  readonly includeBaseDns?: readonly string[];
  readonly includeObjectClasses?: readonly string[];
  readonly ignoreInitiators?: readonly string[];
  /** How long a missing change number may stay missing before it is skipped as a gap (default 10 s). */
  readonly gapGraceMs?: number;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  readonly clock?: () => number;
  /**
   * Password keys: with them, the clear password of a userPassword change (389-ds unhashed#user#password, or
   * PingDirectory's decrypted ds-changelog-encrypted-password) is sealed into the event as idsyncPassword under the
   * current key. Without them it is left out and counted (idsync_detector_password_values_excluded_total).
   */
  readonly keyring?: Keyring;
  /** PingDirectory only: decrypts ds-changelog-encrypted-password values (the server's key lives here). */
  readonly decryptChangelogPassword?: DecryptChangelogPassword;
  /** Test seam: called after a batch was read and before it is published. */
  readonly afterRead?: (batch: { readonly reader: ChangelogReader; readonly publisher: CheckpointedPublisher; readonly entries: number }) => Promise<void>;
}

/** The detector cannot go on without someone acting; `resyncNeeded` when its position is gone from the changelog. */
export class DetectorStoppedError extends Error {
  readonly retriable = false;
  constructor(
    message: string,
    readonly kind: string,
    readonly resyncNeeded: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DetectorStoppedError';
  }
}

export interface DetectorStatus {
  readonly state: DetectorState;
  /** Last change number committed (the checkpoint). */
  readonly checkpoint: string | null;
  /** Highest change number of a published event. */
  readonly lastPublishedChangeNumber: string | null;
  readonly lastChangeNumber: string | null;
  /** lastChangeNumber - checkpoint, as of the last poll. */
  readonly lag: number | null;
  readonly error?: string;
}

const DETECTOR = 'ds-detector';

/** What a batch ignored, dead-ended and did with passwords, counted once it commits. */
interface BatchTally {
  readonly ignored: Map<IgnoreReason, number>;
  readonly deadEnded: Map<string, number>;
  passwords: number;
  sealed: number;
  hashOnly: number;
  undecryptable: number;
}
/**
 * The ds-detector: the changelog source below, driven by the shared coordinator (connect, resume, transactional
 * publish, backoff, fencing, status).
 */
export class DsDetector {
  private readonly source: ChangelogSource;
  private readonly coordinator: DetectorCoordinator;

  constructor(options: DsDetectorOptions) {
    const detector = options.detectorName ?? DETECTOR;
    const counters = new DetectorMetrics(options.metrics, options.directoryName);
    this.source = new ChangelogSource(options, detector, counters);
    this.coordinator = new DetectorCoordinator(this.source, {
      ...options,
      detector,
      checkpointSource: options.checkpointSource ?? options.directoryName,
      onFailure: (verdict, givenUp) => counters.errors.inc({ kind: verdict.kind, action: verdict.action === 'stop' || givenUp ? 'stop' : verdict.action }),
    });
    DetectorMetrics.watch(options.metrics, () => this.coordinator.status());
  }

  status(): DetectorStatus {
    const { state, lastError } = this.coordinator.status();
    return { state, ...this.source.status(), ...(state === 'failed' && lastError !== null ? { error: lastError } : {}) };
  }

  /** Runs until stop() (resolves) or a failure no retry can fix (rejects with DetectorStoppedError). */
  run(): Promise<void> {
    return this.coordinator.run();
  }

  /** Graceful: the batch in flight is finished and committed, then connections close. */
  stop(): Promise<void> {
    return this.coordinator.stop();
  }

  /** Abrupt, like a killed process: connections dropped at once, whatever is in flight is lost (and never committed). */
  kill(): Promise<void> {
    return this.coordinator.kill();
  }
}

/**
 * Polls cn=changelog by change number; each batch is published with the checkpoint after it in one Kafka transaction.
 * Everything it decides comes from the pure core; this class only reads and re-fetches.
 */
export class ChangelogSource implements ChangeSource {
  private readonly rules: IncludeRules;
  private readonly clock: () => number;
  private reader: ChangelogReader | null = null;
  private position: ChangeNumber | null = null;
  private pendingGap: PendingGap | null = null;
  private window: ChangelogWindow | null = null;
  private lastPublished: ChangeNumber | null = null;
  private readonly classMemory = new ObjectClassMemory();

  constructor(
    private readonly options: DsDetectorOptions,
    private readonly detector: string,
    private readonly counters: DetectorMetrics,
  ) {
    this.rules = new IncludeRules({
      includeBaseDns: options.includeBaseDns?.length ? options.includeBaseDns : [options.directory.baseDn],
      includeObjectClasses: options.includeObjectClasses ?? [],
      ignoreInitiators: options.ignoreInitiators ?? [],
    });
    this.clock = options.clock ?? Date.now;
    const keyring = options.keyring;
    this.seal = keyring === undefined ? undefined : (clear, entryId) => sealPassword(clear, keyring.current, { entryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE });
    this.readOptions = options.decryptChangelogPassword === undefined ? {} : { decryptPassword: options.decryptChangelogPassword };
  }

  private readonly seal: PasswordSealer | undefined;
  private readonly readOptions: { readonly decryptPassword?: DecryptChangelogPassword };

  get url(): string | null {
    return this.reader?.url ?? null;
  }

  /** Counts what became of a published change's password, and says why one could not travel (never the value). */
  private notePassword(record: ChangelogRecord, event: EntryChangeEvent, tally: { sealed: number; hashOnly: number; undecryptable: number }): void {
    const { password } = record;
    const fields = { changeNumber: record.changeNumber.format(), dn: record.dn, entryId: event.entryId.value };
    if (password.clear !== null) {
      if (this.seal !== undefined) tally.sealed += 1;
      else
        this.options.logger.event('warn', 'ds-detector.password-not-sealed', { ...fields, reason: 'no password keys configured (secrets.passwordKeys): the password change is left out of the event' });
      password.clear.wipe();
    } else if (password.hashOnly) {
      tally.hashOnly += 1;
      this.options.logger.event('warn', 'ds-detector.password-hash-only', {
        ...fields,
        reason: 'the changelog recorded only a hashed userPassword (pre-hashed write, an add, or nsslapd-unhashed-pw-switch off): it cannot be pushed to AD',
      });
    } else if (password.undecryptable > 0) {
      tally.undecryptable += password.undecryptable;
      this.options.logger.event('error', 'ds-detector.password-undecryptable', { ...fields, reason: 'ds-changelog-encrypted-password could not be decrypted (no or failing decryption hook)' });
    }
  }

  status(): Omit<DetectorStatus, 'state' | 'error'> {
    const lag = this.window && this.position ? this.window.last.distanceFrom(this.position) : null;
    return {
      checkpoint: this.position?.format() ?? null,
      lastPublishedChangeNumber: this.lastPublished?.format() ?? null,
      lastChangeNumber: this.window?.last.format() ?? null,
      lag,
    };
  }

  describePosition(): string | null {
    return this.position?.format() ?? null;
  }

  classify(error: unknown): FailureVerdict {
    if (error instanceof DetectorStoppedError) return { action: 'stop', kind: error.kind };
    const failure = classifyFailure(error);
    const action = failure.action === 'stop' ? 'stop' : failure.kind === 'kafka-fenced' ? 'fenced' : 'retry';
    return { action, kind: failure.kind, ...('limited' in failure && failure.limited === true ? { limited: true } : {}) };
  }

  stoppedError(error: unknown, verdict: FailureVerdict, why: string): Error {
    const stopped = error instanceof DetectorStoppedError ? error : new DetectorStoppedError(`${this.detector} stopped: ${why}`, verdict.kind, false, { cause: error });
    this.options.logger.event('error', 'ds-detector.stopped', { kind: verdict.kind, resyncNeeded: stopped.resyncNeeded, error: stopped.message });
    return stopped;
  }

  /** Opens LDAP; the position always comes back from the committed checkpoint. */
  async connect(stored: StoredCheckpoint | null, publisher: CheckpointedPublisher): Promise<boolean> {
    this.reader = await ChangelogReader.open(this.options.directoryName, this.options.directory, this.counters.ldap);
    const checkpoint = stored ? ChangeNumber.parse(stored.position) : null;
    this.window = await this.reader.window();
    const decision = decidePosition(checkpoint, this.window);
    if (decision.kind === 'resync-needed') throw new DetectorStoppedError(decision.message, 'resync-needed', true);
    if (decision.kind === 'resume' && stored?.anchor !== undefined) {
      // The same change at the checkpoint's number, or this is another server's (or a re-created) changelog.
      const [atCheckpoint] = await this.reader.read(decision.after, decision.after);
      const check = checkAnchor(stored.anchor, atCheckpoint ?? null, this.reader.url);
      if (check.kind === 'different') throw new DetectorStoppedError(check.message, 'foreign-changelog', true);
    }
    this.position = decision.after;
    this.pendingGap = null;
    if (decision.kind === 'start-at-end') {
      // Commit the starting point at once, so a restart before the first change does not skip changes made meanwhile.
      await publisher.publish([], { position: decision.after.format(), server: this.reader.url });
      this.options.logger.event('info', 'ds-detector.first-start', {
        after: decision.after.format(),
        note: 'no checkpoint: publishing changes made from now on; a full load of existing entries is a resync',
      });
    } else {
      this.options.logger.event('info', 'ds-detector.resumed', { after: decision.after.format(), server: this.reader.url, lastChangeNumber: this.window.last.format() });
    }
    return true;
  }

  async disconnect(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await reader?.close();
  }

  /** One batch: read, parse, filter, re-fetch what is missing, publish with the new checkpoint. */
  async read(publisher: CheckpointedPublisher): Promise<SourceBatch> {
    const reader = this.reader;
    const position = this.position;
    if (!reader || !position) throw new Error('ChangelogSource.read() before connect');
    const window = await reader.window();
    this.window = window;
    const decision = decidePosition(position, window);
    if (decision.kind === 'resync-needed') throw new DetectorStoppedError(decision.message, 'resync-needed', true);
    const range = nextRange(position, window, this.options.batchSize);
    const idle = (): number => this.options.pollIntervalMs;
    if (!range) return { events: [], checkpoint: null, committed: () => undefined, pauseMs: idle, caughtUp: true };

    const entries = await reader.read(range.from, range.to);
    const now = this.clock();
    const settled = settleBatch({
      after: position,
      to: range.to,
      found: entries.map(changeNumberOf).filter((c): c is ChangeNumber => c !== null),
      pendingGap: this.pendingGap,
      now,
      graceMs: this.options.gapGraceMs ?? 10_000,
    });
    const inBatch = entries.filter((entry) => {
      const number = changeNumberOf(entry);
      return number !== null && !number.isAfter(settled.through);
    });

    const tally: BatchTally = { ignored: new Map<IgnoreReason, number>(), deadEnded: new Map<string, number>(), passwords: 0, sealed: 0, hashOnly: 0, undecryptable: 0 };
    const deadEnd = (reason: string, fields: Record<string, unknown>): void => {
      tally.deadEnded.set(reason, (tally.deadEnded.get(reason) ?? 0) + 1);
      this.options.logger.event('error', 'ds-detector.change-dead-ended', { reason, ...fields });
    };
    const ignore = (reason: IgnoreReason): void => {
      tally.ignored.set(reason, (tally.ignored.get(reason) ?? 0) + 1);
    };

    // Parse, and apply the rules that need no re-fetch.
    const records: ChangelogRecord[] = [];
    for (const entry of inBatch) {
      let record: ChangelogRecord;
      try {
        record = readChangelogRecord(entry, this.readOptions);
      } catch (error) {
        if (!(error instanceof MalformedChangelogEntryError)) throw error;
        deadEnd('malformed-entry', { changeNumber: error.changeNumber, error: error.message });
        continue;
      }
      records.push(record);
    }
    const remembered = this.classMemory.learn(records);
    const candidates: ChangelogRecord[] = [];
    /** The writers' own changes: not published again (loop prevention), but their entries' states did change. */
    const ownWrites: ChangelogRecord[] = [];
    for (const record of records) {
      if (this.seal === undefined || record.password.clear === null) tally.passwords += record.passwordValuesExcluded;
      const reason = this.rules.ignoreReason({ ...record, objectClasses: remembered.get(record) ?? null, attributeCount: record.attributes.length });
      if (reason) ignore(reason);
      else candidates.push(record);
      if (reason === 'initiator' && record.entryUuid !== null) ownWrites.push(record);
    }

    // Re-fetch what the changelog left out: entryUUID by DN (old servers); object classes by entryUUID, from the
    // after-images when they are on (one read per entry: the entry after the change and its classes), else batched.
    const byDn = new Map<string, EntryFacts | null>();
    for (const record of candidates) {
      if (record.entryUuid === null && record.op !== 'delete' && !byDn.has(record.dn)) byDn.set(record.dn, await reader.lookupByDn(record.dn));
    }
    const set = this.options.afterImage;
    const imaging = set !== undefined && readsAnything(set);
    const imagedOwnWrites = imaging && this.options.stateTopic !== undefined ? ownWrites : [];
    const images = imaging ? await reader.readAfterImages(imageIdsOf([...candidates, ...imagedOwnWrites], byDn), set) : new Map<string, ReadImage>();
    const needClasses = imaging ? [] : candidates.filter((r) => r.objectClasses === null && r.entryUuid !== null).map((r) => r.entryUuid as string);
    const byUuid = needClasses.length > 0 ? await reader.lookupByUuid(needClasses) : new Map<string, EntryFacts>();
    const factsOf = (uuid: string): EntryFacts | undefined => {
      const image = images.get(uuid);
      return image === undefined ? byUuid.get(uuid) : { entryUuid: uuid, objectClasses: image.objectClasses };
    };

    const events: EntryChangeEvent[] = [];
    const context = { directory: this.options.directoryName, server: reader.url, detectedAt: now };
    for (const record of candidates) {
      const fetched = record.entryUuid !== null ? factsOf(record.entryUuid) : byDn.get(record.dn);
      if (fetched) this.classMemory.remember(fetched.entryUuid, fetched.objectClasses);
      let event: EntryChangeEvent;
      try {
        // Classes: the record's own (add, delete), else the entry as read now, else what was last seen of it.
        const objectClasses = fetched?.objectClasses ?? (record.entryUuid !== null ? this.classMemory.recall(record.entryUuid) : null);
        event = toEntryChangeEvent(record, context, { entryUuid: fetched?.entryUuid ?? null, objectClasses }, this.seal);
      } catch (error) {
        if (!(error instanceof EntryIdUnknownError)) throw error;
        deadEnd('entry-id-unknown', { changeNumber: record.changeNumber.format(), dn: record.dn, error: error.message });
        continue;
      }
      const reason = this.rules.ignoreReason({ ...event, attributeCount: event.attributes.length, passwordValuesExcluded: record.passwordValuesExcluded });
      if (reason) {
        ignore(reason);
        continue;
      }
      // A delete carries what 389-ds recorded of the entry (its last state), limited to the after-image set.
      events.push(set !== undefined && record.lastState !== null ? { ...event, before: lastKnownImage(record.lastState, set, ENTRY_UUID_ONLY) } : event);
      this.notePassword(record, event, tally);
    }

    // Moved in from outside the watched subtrees: the entry follows its rename whole (the destination may lack it).
    const entering = events.filter((event) => this.rules.entersScope(event));
    if (entering.length > 0) {
      const read = await reader.readEntries(entering.map((event) => event.entryId.value));
      const byUuid = new Map(read.map((entry) => [uuidOf(entry), entry]));
      const withSnapshots = events.flatMap((event) => {
        const entry = this.rules.entersScope(event) ? byUuid.get(event.entryId.value) : undefined;
        return entry === undefined ? [event] : [event, enteredScopeSnapshot(event, entry)];
      });
      this.counters.enteredScope.inc(withSnapshots.length - events.length);
      events.splice(0, events.length, ...withSnapshots);
    }

    // The entry after each change, as read above by entryUUID (it may already show later changes of the batch); the
    // writers' own changes only for the state topic.
    let stateOnly: EntryChangeEvent[] = [];
    if (imaging) {
      events.splice(0, events.length, ...withAfterImages(events, images));
      stateOnly = withAfterImages(
        imagedOwnWrites.map((record) => toEntryChangeEvent(record, context, { entryUuid: null, objectClasses: null }, undefined)),
        images,
      );
    }

    await this.options.afterRead?.({ reader, publisher, entries: inBatch.length });
    if (settled.through.equals(position)) {
      return { events: [], checkpoint: null, committed: () => void (this.pendingGap = settled.pendingGap), pauseMs: idle, caughtUp: settled.pendingGap === undefined };
    }
    // The change at the new checkpoint, fingerprinted: a restart checks the server still has it there.
    const atThrough = inBatch.find((entry) => changeNumberOf(entry)?.equals(settled.through) === true);
    const anchor = atThrough === undefined ? undefined : (changelogAnchor(atThrough) ?? undefined);
    const more = settled.through.equals(range.to) && range.to.isBefore(window.last);
    return {
      events,
      stateOnly,
      checkpoint: { position: settled.through.format(), server: reader.url, ...(anchor === undefined ? {} : { anchor }) },
      committed: () => this.committed(settled, events, inBatch.length, tally),
      pauseMs: () => (more ? 0 : this.options.pollIntervalMs),
      caughtUp: !more,
    };
  }

  /** The batch's transaction committed: only now do the position and the counters move. */
  private committed(settled: SettledBatch, events: readonly EntryChangeEvent[], read: number, tally: BatchTally): void {
    this.position = settled.through;
    this.pendingGap = settled.pendingGap;
    const last = events.at(-1);
    if (last && last.source.position.kind === 'change-number') this.lastPublished = ChangeNumber.parse(last.source.position.changeNumber);
    this.counters.read.inc(read);
    for (const event of events) this.counters.published.inc({ operation: event.op });
    this.counters.batches.inc();
    this.counters.passwordValuesExcluded.inc(tally.passwords);
    this.counters.passwordsSealed.inc(tally.sealed);
    this.counters.passwordHashOnly.inc(tally.hashOnly);
    this.counters.passwordsUndecryptable.inc(tally.undecryptable);
    for (const [reason, count] of tally.ignored) this.counters.skipped.inc({ reason }, count);
    for (const [reason, count] of tally.deadEnded) this.counters.deadEnded.inc({ reason }, count);
    if (settled.skipped.length > 0) {
      this.counters.gaps.inc(settled.skipped.length);
      this.options.logger.event('warn', 'ds-detector.changelog-gap', { skipped: settled.skipped.map((c) => c.format()), graceMs: this.options.gapGraceMs ?? 10_000 });
    }
    const ignored = [...tally.ignored.values()].reduce((a, b) => a + b, 0);
    this.options.logger.event('debug', 'ds-detector.batch', { through: settled.through.format(), read, published: events.length, ignored });
  }
}

/** The entryUUID of a read entry, lower case (single-valued: ldapts gives it as a string); '' when it has none. */
function uuidOf(entry: ReadEntry): string {
  const value = entry['entryUUID'] ?? entry['entryuuid'];
  return typeof value === 'string' ? value.toLowerCase() : '';
}

/** The entries to read after a batch's changes: each one that still exists after its change, once. */
function imageIdsOf(records: readonly ChangelogRecord[], byDn: ReadonlyMap<string, EntryFacts | null>): string[] {
  const ids = records.filter((r) => r.op !== 'delete').map((r) => r.entryUuid ?? byDn.get(r.dn)?.entryUuid ?? null);
  return [...new Set(ids.filter((id): id is string => id !== null))];
}
