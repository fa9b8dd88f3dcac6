import { type DirectoryConfig } from '@idsync/config';
import { type EntryChangeEvent } from '@idsync/contracts';
import { afterImageDns, afterImageIds, lastKnownImage, withAfterImages } from '@idsync/detector';
import { type AfterImageAttributes, PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { backoffDelay, ChangePublisher, type JsonLogger, type KafkaClient, type Metrics } from '@idsync/platform';
import { type Keyring, sealPassword } from '@idsync/secrets';
import {
  ChangeNumber,
  ChangelogReader,
  changeNumberOf,
  changelogAnchor,
  checkAnchor,
  EntryIdUnknownError,
  IncludeRules,
  MalformedChangelogEntryError,
  ObjectClassMemory,
  classifyFailure,
  decidePosition,
  enteredScopeSnapshot,
  nextRange,
  readChangelogRecord,
  settleBatch,
  toEntryChangeEvent,
  type ChangelogRecord,
  type ChangelogWindow,
  type DecryptChangelogPassword,
  type EntryFacts,
  type PasswordSealer,
  type IgnoreReason,
  type PendingGap,
} from '@idsync/detector/ds';
import { DetectorMetrics } from './detector-metrics';

/** The id attribute, never in an image (the event's entryId is it). */
const ENTRY_UUID_ONLY: ReadonlySet<string> = new Set(['entryuuid']);

/** Attempts in a row for an unknown failure before the detector stops (about 2 minutes with the default backoff). */
const UNKNOWN_FAILURE_ATTEMPTS = 8;

export interface DsDetectorOptions {
  /** Directory name in the configuration (events' source.directory, eventId prefix). */
  readonly directoryName: string;
  readonly directory: DirectoryConfig;
  readonly kafka: KafkaClient;
  readonly eventsTopic: string;
  readonly checkpointTopic: string;
  /** The source's state topic (compacted): each entry's latest after-image, published with the events. */
  readonly stateTopic?: string;
  /** The attributes read into each event's after-image; none: events carry only what changed (after: null). */
  readonly afterImage?: AfterImageAttributes;
  /** Where an event too large to publish goes, as a dead letter with a reference (ChangePublisherOptions). */
  readonly deadLetterTopic?: string;
  /** kafka.maxRecordBytes. */
  readonly maxRecordBytes?: number;
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
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Attempts in a row for a failure the product does not know (a TLS error, a missing file) before it stops. Default 8. */
  readonly unknownFailureAttempts?: number;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  readonly clock?: () => number;
  /** Run before the first connection succeeds (creating missing topics); retried like any connection failure. */
  readonly prepare?: () => Promise<void>;
  /**
   * Password keys: with them, the clear password of a userPassword change (389-ds unhashed#user#password, or
   * PingDirectory's decrypted ds-changelog-encrypted-password) is sealed into the event as idsyncPassword under the
   * current key. Without them it is left out and counted (idsync_detector_password_values_excluded_total).
   */
  readonly keyring?: Keyring;
  /** PingDirectory only: decrypts ds-changelog-encrypted-password values (the server's key lives here). */
  readonly decryptChangelogPassword?: DecryptChangelogPassword;
  /** Test seam: called after a batch was read and before it is published. */
  readonly afterRead?: (batch: { readonly reader: ChangelogReader; readonly publisher: ChangePublisher; readonly entries: number }) => Promise<void>;
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
  readonly state: 'starting' | 'running' | 'retrying' | 'stopped' | 'failed';
  /** Last change number committed (the checkpoint). */
  readonly checkpoint: string | null;
  /** Highest change number of a published event. */
  readonly lastPublishedChangeNumber: string | null;
  readonly lastChangeNumber: string | null;
  /** lastChangeNumber - checkpoint, as of the last poll. */
  readonly lag: number | null;
  readonly error?: string;
}

/** Outcome of one poll. `more`: the changelog holds further changes right now, poll again without waiting. */
export interface PollResult {
  readonly read: number;
  readonly published: number;
  readonly ignored: number;
  readonly more: boolean;
}

const DETECTOR = 'ds-detector';
/** Fenced again within this time after the last fencing: another instance is running, back off further. */
const FENCED_AGAIN_WITHIN_MS = 60_000;

/**
 * Polls cn=changelog by change number and publishes entry-change events with the checkpoint in one Kafka transaction.
 * Everything it decides comes from the pure core; this class only reads, re-fetches, publishes and retries.
 */
export class DsDetector {
  private readonly detector: string;
  private readonly rules: IncludeRules;
  private readonly counters: DetectorMetrics;
  private readonly clock: () => number;
  private reader: ChangelogReader | null = null;
  private publisher: ChangePublisher | null = null;
  private position: ChangeNumber | null = null;
  private pendingGap: PendingGap | null = null;
  private window: ChangelogWindow | null = null;
  private lastPublished: ChangeNumber | null = null;
  private state: DetectorStatus['state'] = 'starting';
  private failure: string | undefined;
  private stopping = false;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private prepared = false;
  private fencedInARow = 0;
  private lastFencedAt = Number.NEGATIVE_INFINITY;
  private readonly classMemory = new ObjectClassMemory();

  constructor(private readonly options: DsDetectorOptions) {
    this.detector = options.detectorName ?? DETECTOR;
    this.rules = new IncludeRules({
      includeBaseDns: options.includeBaseDns?.length ? options.includeBaseDns : [options.directory.baseDn],
      includeObjectClasses: options.includeObjectClasses ?? [],
      ignoreInitiators: options.ignoreInitiators ?? [],
    });
    this.counters = new DetectorMetrics(options.metrics);
    this.clock = options.clock ?? Date.now;
    const keyring = options.keyring;
    this.seal = keyring === undefined ? undefined : (clear, entryId) => sealPassword(clear, keyring.current, { entryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE });
    this.readOptions = options.decryptChangelogPassword === undefined ? {} : { decryptPassword: options.decryptChangelogPassword };
  }

  private readonly seal: PasswordSealer | undefined;
  private readonly readOptions: { readonly decryptPassword?: DecryptChangelogPassword };

  /** Counts what became of a published change's password, and says why one could not travel (never the value). */
  private notePassword(record: ChangelogRecord, event: EntryChangeEvent, tally: { sealed: number; hashOnly: number; undecryptable: number }): void {
    const { password } = record;
    const fields = { changeNumber: record.changeNumber.format(), dn: record.dn, entryId: event.entryId.value };
    if (password.clear !== null) {
      if (this.seal !== undefined) tally.sealed += 1;
      else this.options.logger.event('warn', 'ds-detector.password-not-sealed', { ...fields, reason: 'no password keys configured (secrets.passwordKeys): the password change is left out of the event' });
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

  status(): DetectorStatus {
    const lag = this.window && this.position ? this.window.last.distanceFrom(this.position) : null;
    return {
      state: this.state,
      checkpoint: this.position?.format() ?? null,
      lastPublishedChangeNumber: this.lastPublished?.format() ?? null,
      lastChangeNumber: this.window?.last.format() ?? null,
      lag,
      ...(this.failure ? { error: this.failure } : {}),
    };
  }

  /** Runs until stop() (resolves) or a failure no retry can fix (rejects with DetectorStoppedError). */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Graceful: the batch in flight is finished and committed, then connections close. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running?.catch(() => undefined);
  }

  /** Abrupt, like a killed process: connections dropped at once, whatever is in flight is lost (and never committed). */
  async kill(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const reader = this.reader;
    const publisher = this.publisher;
    this.reader = null;
    this.publisher = null;
    await Promise.allSettled([reader?.close(), publisher?.disconnect()]);
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    /** Unknown failures in a row: retried a limited number of times, then the detector stops. */
    let unknownInARow = 0;
    while (!this.stopping) {
      try {
        await this.connect();
        const result = await this.pollOnce();
        attempt = 0;
        unknownInARow = 0;
        this.state = 'running';
        if (!result.more) await this.sleep(this.options.pollIntervalMs);
      } catch (error) {
        if (this.stopping) break;
        const failure = error instanceof DetectorStoppedError ? { action: 'stop' as const, kind: error.kind } : classifyFailure(error);
        this.counters.errors.inc({ detector: this.detector, kind: failure.kind, action: failure.action });
        await this.disconnect();
        // An unknown failure is retried a few times in a row (it may pass), then the detector stops for an operator.
        unknownInARow = 'limited' in failure && failure.limited === true ? unknownInARow + 1 : 0;
        const givenUp = unknownInARow >= (this.options.unknownFailureAttempts ?? UNKNOWN_FAILURE_ATTEMPTS);
        if (failure.action === 'stop' || givenUp) {
          this.state = 'failed';
          const why = givenUp ? `still failing after ${unknownInARow} attempts: ${describe(error)}` : describe(error);
          const stopped = error instanceof DetectorStoppedError ? error : new DetectorStoppedError(`${this.detector} stopped: ${why}`, failure.kind, false, { cause: error });
          this.failure = stopped.message;
          this.options.logger.event('error', 'ds-detector.stopped', { kind: failure.kind, resyncNeeded: stopped.resyncNeeded, error: stopped.message });
          throw stopped;
        }
        attempt += 1;
        this.state = 'retrying';
        if (failure.kind === 'kafka-fenced') {
          await this.sleep(this.noteFenced(error));
          continue;
        }
        const delay = backoffDelay(attempt, { initialMs: this.options.retryInitialMs ?? 500, maxMs: this.options.retryMaxMs ?? 30_000, factor: 2, jitter: 0.5 });
        this.options.logger.event('warn', 'ds-detector.retry', { kind: failure.kind, attempt, delayMs: delay, error: describe(error) });
        await this.sleep(delay);
      }
    }
    await this.disconnect();
    this.state = 'stopped';
  }

  /**
   * Another producer took over the transactional id: `idsync set-startpoint` moved the start point, or a second
   * instance runs for the same source. The batch in flight was aborted; the next connect() re-reads the committed
   * checkpoint, never the in-memory position. Fenced again soon after means two instances take turns: each time
   * the pause doubles, so they do not spin. Returns the pause.
   */
  private noteFenced(error: unknown): number {
    const now = this.clock();
    const max = this.options.retryMaxMs ?? 30_000;
    this.fencedInARow = now - this.lastFencedAt < FENCED_AGAIN_WITHIN_MS ? this.fencedInARow + 1 : 1;
    this.lastFencedAt = now;
    const delay = backoffDelay(this.fencedInARow, { initialMs: Math.min(max, Math.max(1_000, this.options.retryInitialMs ?? 500)), maxMs: max, factor: 2, jitter: 0.5 });
    this.options.logger.event('warn', 'ds-detector.fenced', {
      transactionalId: `idsync.${this.detector}.${this.options.checkpointSource ?? this.options.directoryName}`,
      position: this.position?.format() ?? null,
      fencedInARow: this.fencedInARow,
      delayMs: delay,
      error: describe(error),
      note: 'another producer took over this detector: `idsync set-startpoint` moved its start point, or another instance runs for the same source. The batch in flight was not published; reconnecting and continuing from the committed checkpoint',
    });
    return delay;
  }

  /** Opens LDAP and Kafka when needed; the position always comes back from the committed checkpoint. */
  private async connect(): Promise<void> {
    if (this.reader && this.publisher) return;
    await this.disconnect();
    if (!this.prepared && this.options.prepare) {
      await this.options.prepare();
      this.prepared = true;
    }
    this.reader = await ChangelogReader.open(this.options.directoryName, this.options.directory);
    this.publisher = new ChangePublisher(this.options.kafka, {
      detector: this.detector,
      source: this.options.checkpointSource ?? this.options.directoryName,
      eventsTopic: this.options.eventsTopic,
      checkpointTopic: this.options.checkpointTopic,
      ...(this.options.stateTopic === undefined ? {} : { stateTopic: this.options.stateTopic }),
      ...(this.options.deadLetterTopic === undefined ? {} : { deadLetterTopic: this.options.deadLetterTopic }),
      ...(this.options.maxRecordBytes === undefined ? {} : { maxRecordBytes: this.options.maxRecordBytes }),
    });
    await this.publisher.connect();
    const stored = await this.publisher.readCheckpoint();
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
      await this.publisher.publish([], { position: decision.after.format(), server: this.reader.url });
      this.options.logger.event('info', 'ds-detector.first-start', {
        after: decision.after.format(),
        note: 'no checkpoint: publishing changes made from now on; a full load of existing entries is a resync',
      });
    } else {
      this.options.logger.event('info', 'ds-detector.resumed', { after: decision.after.format(), server: this.reader.url, lastChangeNumber: this.window.last.format() });
    }
  }

  private async disconnect(): Promise<void> {
    const reader = this.reader;
    const publisher = this.publisher;
    this.reader = null;
    this.publisher = null;
    await Promise.allSettled([reader?.close(), publisher?.disconnect()]);
  }

  /** One batch: read, parse, filter, re-fetch what is missing, publish with the new checkpoint. */
  async pollOnce(): Promise<PollResult> {
    const reader = this.reader;
    const publisher = this.publisher;
    const position = this.position;
    if (!reader || !publisher || !position) throw new Error('DsDetector.pollOnce() before connect');
    const window = await reader.window();
    this.window = window;
    const decision = decidePosition(position, window);
    if (decision.kind === 'resync-needed') throw new DetectorStoppedError(decision.message, 'resync-needed', true);
    const range = nextRange(position, window, this.options.batchSize);
    if (!range) return { read: 0, published: 0, ignored: 0, more: false };

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

    const tally = { ignored: new Map<IgnoreReason, number>(), deadEnded: new Map<string, number>(), passwords: 0, sealed: 0, hashOnly: 0, undecryptable: 0 };
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

    // Re-fetch what the changelog left out: entryUUID by DN (old servers), object classes by entryUUID (batched).
    const byDn = new Map<string, EntryFacts | null>();
    for (const record of candidates) {
      if (record.entryUuid === null && record.op !== 'delete' && !byDn.has(record.dn)) byDn.set(record.dn, await reader.lookupByDn(record.dn));
    }
    const needClasses = candidates.filter((r) => r.objectClasses === null && r.entryUuid !== null).map((r) => r.entryUuid as string);
    const byUuid = needClasses.length > 0 ? await reader.lookupByUuid(needClasses) : new Map<string, EntryFacts>();

    const events: EntryChangeEvent[] = [];
    const context = { directory: this.options.directoryName, server: reader.url, detectedAt: now };
    for (const record of candidates) {
      const fetched = record.entryUuid !== null ? byUuid.get(record.entryUuid) : byDn.get(record.dn);
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
      const set = this.options.afterImage;
      events.push(set !== undefined && record.lastState !== null ? { ...event, before: lastKnownImage(record.lastState, set, ENTRY_UUID_ONLY) } : event);
      this.notePassword(record, event, tally);
    }

    // Moved in from outside the watched subtrees: the entry follows its rename whole (the destination may lack it).
    const entering = events.filter((event) => this.rules.entersScope(event));
    if (entering.length > 0) {
      const read = await reader.readEntries(entering.map((event) => event.entryId.value));
      const byUuid = new Map(read.map((entry) => [String(entry['entryUUID'] ?? entry['entryuuid'] ?? '').toLowerCase(), entry]));
      const withSnapshots = events.flatMap((event) => {
        const entry = this.rules.entersScope(event) ? byUuid.get(event.entryId.value) : undefined;
        return entry === undefined ? [event] : [event, enteredScopeSnapshot(event, entry)];
      });
      this.counters.enteredScope.inc({ detector: this.detector }, withSnapshots.length - events.length);
      events.splice(0, events.length, ...withSnapshots);
    }

    // The entry after each change, read by entryUUID now (it may already show later changes of the batch); the
    // writers' own changes only for the state topic.
    let stateOnly: EntryChangeEvent[] = [];
    if (this.options.afterImage !== undefined && (events.length > 0 || ownWrites.length > 0)) {
      const own = this.options.stateTopic === undefined ? [] : ownWrites.map((record) => toEntryChangeEvent(record, context, { entryUuid: null, objectClasses: null }, undefined));
      const imaged = [...events, ...own];
      const images = await reader.readAfterImages(afterImageIds(imaged), this.options.afterImage, afterImageDns(imaged));
      events.splice(0, events.length, ...withAfterImages(events, images));
      stateOnly = withAfterImages(own, images);
    }

    await this.options.afterRead?.({ reader, publisher, entries: inBatch.length });
    if (settled.through.equals(position)) {
      this.pendingGap = settled.pendingGap;
      return { read: 0, published: 0, ignored: 0, more: false };
    }
    // The change at the new checkpoint, fingerprinted: a restart checks the server still has it there.
    const atThrough = inBatch.find((entry) => changeNumberOf(entry)?.equals(settled.through) === true);
    const anchor = atThrough === undefined ? undefined : (changelogAnchor(atThrough) ?? undefined);
    await publisher.publish(events, { position: settled.through.format(), server: reader.url, ...(anchor === undefined ? {} : { anchor }) }, stateOnly);

    // Committed: only now do the position and the counters move.
    this.position = settled.through;
    this.pendingGap = settled.pendingGap;
    const last = events.at(-1);
    if (last && last.source.position.kind === 'change-number') this.lastPublished = ChangeNumber.parse(last.source.position.changeNumber);
    const labels = { detector: this.detector };
    this.counters.read.inc(labels, inBatch.length);
    this.counters.published.inc(labels, events.length);
    this.counters.batches.inc(labels);
    this.counters.passwordValuesExcluded.inc(labels, tally.passwords);
    this.counters.passwordsSealed.inc(labels, tally.sealed);
    this.counters.passwordHashOnly.inc(labels, tally.hashOnly);
    this.counters.passwordsUndecryptable.inc(labels, tally.undecryptable);
    for (const [reason, count] of tally.ignored) this.counters.ignoredBy(this.detector, reason, count);
    for (const [reason, count] of tally.deadEnded) this.counters.deadEnded.inc({ ...labels, reason }, count);
    if (settled.skipped.length > 0) {
      this.counters.gaps.inc(labels, settled.skipped.length);
      this.options.logger.event('warn', 'ds-detector.changelog-gap', { skipped: settled.skipped.map((c) => c.format()), graceMs: this.options.gapGraceMs ?? 10_000 });
    }
    const ignored = [...tally.ignored.values()].reduce((a, b) => a + b, 0);
    this.options.logger.event('debug', 'ds-detector.batch', { through: settled.through.format(), read: inBatch.length, published: events.length, ignored });
    return { read: inBatch.length, published: events.length, ignored, more: settled.through.equals(range.to) && range.to.isBefore(window.last) };
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return code === undefined ? `${error.name}: ${error.message}` : `${error.name}: ${error.message} (code ${String(code)})`;
}
