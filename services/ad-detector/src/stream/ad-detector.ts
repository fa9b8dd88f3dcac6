import { setTimeout as sleep } from 'node:timers/promises';
import { type DirectoryConfig } from '@idsync/config';
import { type EntryChangeEvent } from '@idsync/contracts';
import { afterImageIds, withAfterImages, withLastKnownImages } from '@idsync/detector';
import { type AfterImageAttributes } from '@idsync/mapping';
import { backoffDelay, ChangePublisher, classifyKafkaFailure, isKafkaError, Metrics, type JsonLogger, type KafkaClient, type StoredCheckpoint } from '@idsync/platform';
import {
  DcIdentity,
  DirSyncCookie,
  AdDetectorError,
  CookieRejectedError,
  DirectoryError,
  ForeignCookieError,
  describeError,
  isProducerFenced,
  classifyLdapError,
  entryGuid,
  isSkip,
  needsRefetch,
  parseDirSyncEntry,
  deletesFirst,
  DEFAULT_STREAMING_POLL_SHARE,
  nextPollDelayMs,
  type PollPace,
  Scope,
  type RawEntry,
  DIRSYNC_FLAGS,
  DirSyncReader,
  type DirSyncPage,
} from '@idsync/detector/ad';
import { DetectorMetrics } from './detector-metrics';

/** Fenced again within this time after the last fencing: another instance is running, back off further. */
const FENCED_AGAIN_WITHIN_MS = 60_000;
/** Attempts in a row for an unknown failure before the detector stops (about 2 minutes with the default backoff). */
const UNKNOWN_FAILURE_ATTEMPTS = 8;

/** Where events and the checkpoint go: ChangePublisher, or a wrapper of it in tests. */
export interface CheckpointedPublisher {
  readonly checkpointGroup: string;
  connect(): Promise<void>;
  readCheckpoint(): Promise<StoredCheckpoint | null>;
  publish(events: readonly EntryChangeEvent[], checkpoint: StoredCheckpoint): Promise<void>;
  disconnect(): Promise<void>;
}

export interface AdDetectorOptions {
  /** Directory name in the configuration (`ad`): the events' source.directory and the checkpoint identity. */
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
  /** Default: the directory's baseDn. */
  readonly includeBaseDns?: readonly string[];
  readonly includeObjectClasses?: readonly string[];
  readonly pollIntervalMs?: number;
  /** While changes stream in, the largest share of the time DirSync searches may run (poll-pace.ts). Default 0.25. */
  readonly streamingPollShare?: number;
  /** DirSync request flags. Default: incremental values. */
  readonly flags?: number;
  /** Samba ignores it (a page is the whole change set). */
  readonly maxBytes?: number;
  /** How often the cookie of empty pages is committed (default 10 minutes). */
  readonly idleCommitIntervalMs?: number;
  /** Backoff after a retriable failure: doubles from initial to max. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Attempts in a row for a failure the product does not know (a TLS error, a missing file) before it stops. Default 8. */
  readonly unknownFailureAttempts?: number;
  readonly logger?: JsonLogger;
  readonly metrics?: Metrics;
  /** Default: a ChangePublisher for (ad-detector, directoryName). Tests wrap it to cut a publish short. */
  readonly publisherFactory?: () => CheckpointedPublisher;
}

export const DETECTOR_STATES = ['starting', 'baseline', 'streaming', 'retrying', 'stopped', 'failed'] as const;
export type DetectorState = (typeof DETECTOR_STATES)[number];

export interface DetectorStatus {
  readonly state: DetectorState;
  readonly server: string | null;
  readonly dc: string | null;
  readonly lastPublishAt: number | null;
  readonly lastPageAt: number | null;
  readonly eventsPublished: number;
  readonly lastError: string | null;
}

/**
 * The AD change stream: DirSync pages from the naming-context root, parsed by the pure core, published with the
 * cookie after them in one Kafka transaction, then a pause when the DC had nothing more: pollIntervalMs after an empty
 * page; after changes, enough to keep the DirSync searches within streamingPollShare of the time (poll-pace.ts).
 *
 * - First start (no checkpoint): one DirSync pass to the end WITHOUT publishing, to learn the current cookie, which
 *   is committed; streaming starts from there. Loading the existing domain is a resync (snapshot), not this.
 * - Restart: resumes from the committed cookie; a page that was read but not committed is read again.
 * - The cookie is checked against the DC that answers: one from another DC, or one the DC rejects, stops the
 *   detector with the way forward (ForeignCookieError, CookieRejectedError); never a silent full pass.
 * - previousDn of renames comes from an in-memory objectGUID → DN cache, seeded at start from a paged read of the
 *   included subtrees and kept up to date from the events; a rename of an object the cache did not know has
 *   previousDn null.
 */
export class AdDetector {
  private readonly scope: Scope;
  private readonly log: JsonLogger | undefined;
  private readonly counters: DetectorMetrics;
  private readonly knownDns = new Map<string, string>();
  private readonly pace: PollPace;
  private fencedInARow = 0;
  private lastFencedAt = Number.NEGATIVE_INFINITY;
  private current: DetectorStatus = { state: 'starting', server: null, dc: null, lastPublishAt: null, lastPageAt: null, eventsPublished: 0, lastError: null };

  constructor(private readonly options: AdDetectorOptions) {
    this.scope = new Scope(options.includeBaseDns?.length ? options.includeBaseDns : [options.directory.baseDn], options.includeObjectClasses ?? []);
    this.log = options.logger;
    this.pace = { pollIntervalMs: options.pollIntervalMs ?? 1_000, streamingPollShare: options.streamingPollShare ?? DEFAULT_STREAMING_POLL_SHARE };
    this.counters = new DetectorMetrics(options.metrics ?? new Metrics());
  }

  status(): DetectorStatus {
    return this.current;
  }

  private set(update: Partial<DetectorStatus>): void {
    this.current = { ...this.current, ...update };
  }

  private newPublisher(): CheckpointedPublisher {
    return (
      this.options.publisherFactory?.() ??
      new ChangePublisher(this.options.kafka, {
        detector: 'ad-detector',
        source: this.options.directoryName,
        eventsTopic: this.options.eventsTopic,
        checkpointTopic: this.options.checkpointTopic,
        ...(this.options.stateTopic === undefined ? {} : { stateTopic: this.options.stateTopic }),
        ...(this.options.deadLetterTopic === undefined ? {} : { deadLetterTopic: this.options.deadLetterTopic }),
        ...(this.options.maxRecordBytes === undefined ? {} : { maxRecordBytes: this.options.maxRecordBytes }),
      })
    );
  }

  /** Runs until `signal` aborts (resolves) or a failure retrying cannot fix (rejects with an AdDetectorError). */
  async run(signal: AbortSignal): Promise<void> {
    let publisher: CheckpointedPublisher | undefined;
    let reader: DirSyncReader | undefined;
    /** Failures in a row (for the backoff), and how many of them were unknown ones (limited: then the detector stops). */
    let failures = 0;
    let unknownInARow = 0;
    let lastCommitAt = Date.now();
    /** The read position: the committed cookie, or a later one with no changes between them. */
    let committed: { cookie: DirSyncCookie; dc: DcIdentity } | undefined;
    try {
      while (!signal.aborted) {
        try {
          if (!publisher) {
            const fresh = this.newPublisher();
            await fresh.connect();
            publisher = fresh;
          }
          if (!reader) {
            reader = await DirSyncReader.open(this.options.directoryName, this.options.directory);
            this.set({ server: reader.url, dc: reader.dc.toString() });
            committed = await this.resume(publisher, reader, signal);
            if (!committed) break; // aborted during the baseline
            await this.seedKnownDns(reader);
            this.set({ state: 'streaming' });
          }
          if (!committed) throw new Error('no position after start');
          const searchStart = Date.now();
          const page = await this.readPage(reader, committed.cookie, publisher.checkpointGroup);
          const searchMs = Date.now() - searchStart;
          const events = await this.toEvents(reader, page);
          // Samba hands out a new cookie on every poll, even with nothing changed: an empty page moves the read
          // position without a transaction (re-reading from the older cookie returns nothing either), and the
          // checkpoint is refreshed every idleCommitIntervalMs so a quiet domain does not leave an old cookie.
          const idleDue = Date.now() - lastCommitAt >= (this.options.idleCommitIntervalMs ?? 600_000);
          if (page.entries.length > 0 || (idleDue && !page.cookie.equals(committed.cookie))) {
            await publisher.publish(events, { position: page.cookie.format(), server: committed.dc.format() });
            lastCommitAt = Date.now();
            this.afterPublish(events);
          }
          committed = { cookie: page.cookie, dc: committed.dc };
          failures = 0;
          unknownInARow = 0;
          if (this.current.state !== 'streaming') this.set({ state: 'streaming', lastError: null });
          const pause = nextPollDelayMs({ entries: page.entries.length, moreResults: page.moreResults }, { searchMs, sinceSearchStartMs: Date.now() - searchStart }, this.pace);
          if (pause > 0) await sleep(pause, undefined, { signal }).catch(() => undefined);
        } catch (error) {
          if (signal.aborted) break;
          const fenced = isProducerFenced(error);
          unknownInARow = isLimited(error) ? unknownInARow + 1 : 0;
          const givenUp = unknownInARow >= (this.options.unknownFailureAttempts ?? UNKNOWN_FAILURE_ATTEMPTS);
          if (givenUp) error = new AdDetectorError(`still failing after ${unknownInARow} attempts: ${describeError(error)}`, false, { cause: error });
          const retriable = !givenUp && (fenced || isRetriable(error));
          this.counters.errors.inc({ action: fenced ? 'fenced' : retriable ? 'retry' : error instanceof CookieRejectedError ? 'cookie-rejected' : 'stop' });
          this.set({ state: retriable ? 'retrying' : 'failed', lastError: describeError(error) });
          if (!retriable) throw error;
          // Start both edges over: the session may be on a dead DC, the producer inside a broken transaction.
          // A new reader means resume() reads the committed checkpoint again: the in-memory cookie is dropped.
          await reader?.close();
          reader = undefined;
          await publisher?.disconnect().catch(() => undefined);
          publisher = undefined;
          if (fenced) {
            await sleep(this.noteFenced(error, committed), undefined, { signal }).catch(() => undefined);
            continue;
          }
          failures += 1;
          const backoff = backoffDelay(failures, { initialMs: this.options.retryInitialMs ?? 500, maxMs: this.options.retryMaxMs ?? 30_000, factor: 2, jitter: 0.5 });
          this.log?.event('warn', 'ad-detector.retry', { error: describeError(error), inMs: backoff, attempt: failures });
          await sleep(backoff, undefined, { signal }).catch(() => undefined);
        }
      }
    } finally {
      await reader?.close();
      await publisher?.disconnect().catch(() => undefined);
      if (this.current.state !== 'failed') this.set({ state: 'stopped' });
    }
  }

  /**
   * Another producer took over the transactional id: `idsync set-startpoint` moved the start point, or a second
   * instance runs for the same source. The page in flight was not published; the next pass resumes from the
   * committed checkpoint. Fenced again soon after means two instances take turns: each time the pause doubles, so
   * they do not spin. Returns the pause.
   */
  private noteFenced(error: unknown, position: { cookie: DirSyncCookie } | undefined): number {
    const now = Date.now();
    const max = this.options.retryMaxMs ?? 30_000;
    this.fencedInARow = now - this.lastFencedAt < FENCED_AGAIN_WITHIN_MS ? this.fencedInARow + 1 : 1;
    this.lastFencedAt = now;
    const initial = Math.min(max, Math.max(1_000, this.options.retryInitialMs ?? 500));
    const delay = backoffDelay(this.fencedInARow, { initialMs: initial, maxMs: max, factor: 2, jitter: 0.5 });
    this.log?.event('warn', 'ad-detector.fenced', {
      transactionalId: `idsync.ad-detector.${this.options.directoryName}`,
      cookie: position?.cookie.toString() ?? null,
      fencedInARow: this.fencedInARow,
      inMs: delay,
      error: describeError(error),
      note: 'another producer took over this detector: `idsync set-startpoint` moved its start point, or another instance runs for the same source. The page in flight was not published; reconnecting and continuing from the committed checkpoint',
    });
    return delay;
  }

  /** The committed cookie (checked against the answering DC), or a new baseline. Undefined when aborted. */
  private async resume(publisher: CheckpointedPublisher, reader: DirSyncReader, signal: AbortSignal): Promise<{ cookie: DirSyncCookie; dc: DcIdentity } | undefined> {
    const stored = await publisher.readCheckpoint();
    if (stored) {
      const dc = DcIdentity.parse(stored.server);
      if (!dc.sameDc(reader.dc)) throw new ForeignCookieError(dc.toString(), `${reader.dc.toString()} at ${reader.url}`, publisher.checkpointGroup);
      const cookie = DirSyncCookie.parse(stored.position);
      this.log?.event('info', 'ad-detector.resume', { dc: dc.toString(), cookie: cookie.toString() });
      return { cookie, dc };
    }
    this.set({ state: 'baseline' });
    this.log?.event('info', 'ad-detector.baseline', { dc: reader.dc.toString(), note: 'first start: reading the current cookie without publishing the domain' });
    let cookie = DirSyncCookie.EMPTY;
    let objects = 0;
    for (;;) {
      if (signal.aborted) return undefined;
      const page = await this.readPage(reader, cookie, publisher.checkpointGroup);
      objects += page.entries.length;
      cookie = page.cookie;
      if (page.entries.length === 0 && !page.moreResults) break;
    }
    await publisher.publish([], { position: cookie.format(), server: reader.dc.format() });
    this.set({ lastPublishAt: Date.now() });
    this.log?.event('info', 'ad-detector.baseline.done', { objects, cookie: cookie.toString() });
    return { cookie, dc: reader.dc };
  }

  private async seedKnownDns(reader: DirSyncReader): Promise<void> {
    this.knownDns.clear();
    for (const base of this.scopeBases()) {
      try {
        for (const [guid, dn] of await reader.listDns(base)) this.knownDns.set(guid, dn);
      } catch (error) {
        // An included base that does not exist (yet) has nothing to seed.
        if ((error as { code?: unknown }).code !== 32) throw error;
      }
    }
  }

  private scopeBases(): readonly string[] {
    return this.options.includeBaseDns?.length ? this.options.includeBaseDns : [this.options.directory.baseDn];
  }

  private async readPage(reader: DirSyncReader, cookie: DirSyncCookie, group: string): Promise<DirSyncPage> {
    try {
      const page = await reader.read(cookie, { flags: this.options.flags ?? DIRSYNC_FLAGS.incrementalValues, maxBytes: this.options.maxBytes ?? 0 });
      this.counters.pages.inc();
      this.set({ lastPageAt: Date.now() });
      return page;
    } catch (error) {
      const { action, meaning, limited } = classifyLdapError(error);
      if (action === 'cookie-rejected' && !cookie.isEmpty) throw new CookieRejectedError(reader.url, group, error);
      const code = (error as { code?: unknown }).code;
      throw new DirectoryError(`DirSync search at ${reader.url}`, typeof code === 'number' ? code : null, action === 'retry', meaning, error, limited === true);
    }
  }

  private async toEvents(reader: DirSyncReader, page: DirSyncPage): Promise<EntryChangeEvent[]> {
    this.counters.entriesRead.inc({}, page.entries.length);
    if (page.entries.length === 0) return [];
    const missing = page.entries.filter(needsRefetch).map(entryGuid).filter((g): g is string => g !== null);
    let classes = new Map<string, string[]>();
    if (missing.length > 0) {
      try {
        classes = await reader.refetchObjectClasses([...new Set(missing)]);
      } catch (error) {
        const { action, meaning, limited } = classifyLdapError(error, 'read');
        throw new DirectoryError(`re-fetch by objectGUID at ${reader.url}`, null, action === 'retry', meaning, error, limited === true);
      }
    }
    const cookieDigest = page.requestCookie.digest();
    const detectedAt = Date.now();
    const events: EntryChangeEvent[] = [];
    page.entries.forEach((entry, index) => {
      const guid = entryGuid(entry);
      const result = parseDirSyncEntry(entry, {
        directory: this.options.directoryName,
        server: reader.url,
        cookieDigest,
        index,
        detectedAt,
        scope: this.scope,
        refetchedObjectClasses: guid && needsRefetch(entry) ? (classes.get(guid) ?? []) : undefined,
        knownDn: guid ? (this.knownDns.get(guid) ?? null) : null,
      });
      if (isSkip(result)) this.counters.skipped.inc({ reason: result.skip });
      else events.push(result);
    });
    return this.withAfterImages(reader, await this.withEnteredSnapshots(reader, deletesFirst(events)));
  }

  /**
   * Each add, modify, rename and snapshot with its entry as read now (by objectGUID), and each delete with what its
   * tombstone kept (`before`), when after-images are on.
   */
  private async withAfterImages(reader: DirSyncReader, events: EntryChangeEvent[]): Promise<EntryChangeEvent[]> {
    const set = this.options.afterImage;
    if (set === undefined || events.length === 0) return events;
    try {
      const imaged = withAfterImages(events, await reader.readAfterImages(afterImageIds(events), set));
      const deleted = [...new Set(events.filter((event) => event.op === 'delete').map((event) => event.entryId.value))];
      return deleted.length === 0 ? imaged : withLastKnownImages(imaged, await reader.readTombstoneImages(deleted, set));
    } catch (error) {
      const { action, meaning, limited } = classifyLdapError(error, 'read');
      throw new DirectoryError(`after-image read by objectGUID at ${reader.url}`, null, action === 'retry', meaning, error, limited === true);
    }
  }

  /**
   * A rename into the watched subtrees from outside them, or from a DN the detector did not know, brings an entry the
   * destination may never have had: right after the rename, the entry as it is now (op snapshot, every attribute),
   * which creates it where it is missing and changes nothing where it is linked already.
   */
  private async withEnteredSnapshots(reader: DirSyncReader, events: EntryChangeEvent[]): Promise<EntryChangeEvent[]> {
    const entered = events.filter((e) => e.op === 'rename' && this.scope.includesDn(e.dn) && (e.previousDn === null || !this.scope.includesDn(e.previousDn)));
    if (entered.length === 0) return events;
    let entries: RawEntry[];
    try {
      entries = await reader.readEntries(entered.map((e) => e.entryId.value));
    } catch (error) {
      const { action, meaning, limited } = classifyLdapError(error, 'read');
      throw new DirectoryError(`read of entries moved into scope at ${reader.url}`, null, action === 'retry', meaning, error, limited === true);
    }
    const snapshots = new Map<string, EntryChangeEvent>();
    for (const entry of entries) {
      const guid = entryGuid(entry);
      const rename = entered.find((e) => e.entryId.value === guid);
      if (guid === null || rename === undefined || rename.source.position.kind !== 'dirsync') continue;
      const read = parseDirSyncEntry(entry, {
        directory: this.options.directoryName,
        server: reader.url,
        cookieDigest: rename.source.position.cookieDigest,
        index: rename.source.position.index,
        detectedAt: rename.detectedAt,
        scope: this.scope,
        knownDn: entry.dn,
      });
      if (isSkip(read)) continue;
      snapshots.set(guid, { ...read, eventId: `${rename.eventId}:entered`, op: 'snapshot', previousDn: null, changeTime: rename.changeTime });
      this.counters.enteredScope.inc();
    }
    return events.flatMap((event) => {
      const snapshot = event.op === 'rename' ? snapshots.get(event.entryId.value) : undefined;
      return snapshot === undefined ? [event] : [event, snapshot];
    });
  }

  private afterPublish(events: readonly EntryChangeEvent[]): void {
    for (const event of events) {
      if (event.op === 'delete') this.knownDns.delete(event.entryId.value);
      else this.knownDns.set(event.entryId.value, event.dn);
      this.counters.eventsPublished.inc({ op: event.op });
    }
    this.set({ lastPublishAt: Date.now(), eventsPublished: this.current.eventsPublished + events.length });
  }
}

/** An unknown failure, retried only a limited number of times in a row. */
function isLimited(error: unknown): boolean {
  if (error instanceof DirectoryError) return error.limited;
  if (error instanceof AdDetectorError || isKafkaError(error)) return false;
  return classifyLdapError(error).limited === true;
}

/**
 * Our errors and openLdapSession's say; Kafka errors go through the product's Kafka table (an outage retries, even
 * when kafkajs gave up on it); anything else through the LDAP table.
 */
function isRetriable(error: unknown): boolean {
  if (error instanceof AdDetectorError) return error.retriable;
  const kafka = classifyKafkaFailure(error);
  if (kafka) return kafka.action === 'retry' || kafka.action === 'fenced';
  const flag = (error as { retriable?: unknown } | null)?.retriable;
  if (typeof flag === 'boolean') return flag;
  return classifyLdapError(error).action === 'retry';
}
