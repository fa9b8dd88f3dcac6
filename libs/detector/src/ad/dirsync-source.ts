import { type DirectoryConfig } from '@idsync/config';
import { type EntryChangeEvent } from '@idsync/contracts';
import { type AfterImageAttributes } from '@idsync/mapping';
import { classifyKafkaFailure, isKafkaError, Metrics, type JsonLogger, type StoredCheckpoint } from '@idsync/platform';
import { afterImageIds, withAfterImages, withLastKnownImages } from '../after-image';
import {
  type ChangeSource,
  type CheckpointedPublisher,
  type CoordinatorStatus,
  DetectorCoordinator,
  describeFailure,
  type FailureVerdict,
  type PublishingOptions,
  type SourceBatch,
} from '../coordinator';
import { DcIdentity, DirSyncCookie } from './dirsync-cookie';
import { DIRSYNC_FLAGS } from './dirsync-control';
import { DirSyncReader, type DirSyncPage } from './dirsync-reader';
import { AdDetectorError, CookieRejectedError, DirectoryError, ForeignCookieError, isProducerFenced } from './errors';
import { classifyLdapError } from './ldap-errors';
import { DetectorMetrics } from '../metrics';
import { deletesFirst } from './page-order';
import { entryGuid, isSkip, needsRefetch, parseDirSyncEntry } from './parse-dirsync-entry';
import { DEFAULT_STREAMING_POLL_SHARE, nextPollDelayMs, type PollPace } from './poll-pace';
import { type RawEntry } from './raw-entry';
import { type Settlement, type Superseded } from './own-writes';
import { ReceiptsView } from './receipts-view';
import { Scope } from './scope';

export interface AdDetectorOptions extends PublishingOptions {
  /** Directory name in the configuration (`ad`): the events' source.directory and the checkpoint identity. */
  readonly directoryName: string;
  readonly directory: DirectoryConfig;
  /** The attributes read into each event's after-image; none: events carry only what changed (after: null). */
  readonly afterImage?: AfterImageAttributes;
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
  /**
   * The ad-writer's own changes, recognized by its write receipts (own-writes.ts) and not published again (their
   * entries' states still go to the state topic). Unset: every change is published (an echo is then ended by the
   * other side's writer finding nothing to change).
   */
  readonly ownWrites?: { readonly receiptsTopic: string; readonly groupPrefix: string; readonly settleMs: number };
  /** How often the cookie of empty pages is committed (default 10 minutes). */
  readonly idleCommitIntervalMs?: number;
  readonly logger?: JsonLogger;
  readonly metrics?: Metrics;
}

export interface DetectorStatus extends CoordinatorStatus {
  readonly dc: string | null;
  readonly lastPageAt: number | null;
  /** The ad-writer's receipts: pending ones, and records skipped as no receipt; null when own writes are not recognized. */
  readonly receipts: { readonly topic: string; readonly pending: number; readonly skipped: number } | null;
}

/**
 * The ad-detector: the DirSync source below, driven by the shared coordinator (connect, resume, transactional publish,
 * backoff, fencing, status).
 */
export class AdDetector {
  private readonly source: DirSyncSource;
  private readonly coordinator: DetectorCoordinator;

  constructor(options: AdDetectorOptions) {
    const metrics = options.metrics ?? new Metrics();
    const counters = new DetectorMetrics(metrics, options.directoryName);
    this.source = new DirSyncSource(options, counters, () => this.coordinator.enterBaseline());
    this.coordinator = new DetectorCoordinator(this.source, {
      ...options,
      detector: 'ad-detector',
      checkpointSource: options.directoryName,
      onFailure: (verdict, givenUp) => counters.errors.inc({ kind: verdict.kind, action: verdict.action === 'stop' || givenUp ? 'stop' : verdict.action }),
    });
    DetectorMetrics.watch(metrics, () => this.coordinator.status());
  }

  status(): DetectorStatus {
    return { ...this.coordinator.status(), dc: this.source.dc, lastPageAt: this.source.lastPageAt, receipts: this.source.receiptsStatus() };
  }

  /** Runs until stop() or `signal` (resolves), or a failure retrying cannot fix (rejects with an AdDetectorError). */
  run(signal?: AbortSignal): Promise<void> {
    return this.coordinator.run(signal);
  }

  /** Graceful: the page in flight is finished and committed, then connections close. */
  stop(): Promise<void> {
    return this.coordinator.stop();
  }
}

/** What the first start's DirSync pass asks for: it keeps only the cookie, so the smallest answer per object. */
const BASELINE_ATTRIBUTES = ['objectGUID'];

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
export class DirSyncSource implements ChangeSource {
  private readonly scope: Scope;
  private readonly log: JsonLogger | undefined;
  private readonly knownDns = new Map<string, string>();
  private readonly pace: PollPace;
  private readonly receipts: ReceiptsView | undefined;
  private reader: DirSyncReader | undefined;
  /** The read position: the committed cookie, or a later one with no changes between them. */
  private position: { cookie: DirSyncCookie; dc: DcIdentity } | undefined;
  private lastCommitAt = Date.now();
  dc: string | null = null;
  lastPageAt: number | null = null;

  constructor(
    private readonly options: AdDetectorOptions,
    private readonly counters: DetectorMetrics,
    private readonly enteringBaseline: () => void,
  ) {
    this.scope = new Scope(options.includeBaseDns?.length ? options.includeBaseDns : [options.directory.baseDn], options.includeObjectClasses ?? []);
    this.log = options.logger;
    this.pace = { pollIntervalMs: options.pollIntervalMs ?? 1_000, streamingPollShare: options.streamingPollShare ?? DEFAULT_STREAMING_POLL_SHARE };
    const own = options.ownWrites;
    if (own !== undefined) {
      this.receipts = new ReceiptsView({ kafka: options.kafka, topic: own.receiptsTopic, groupPrefix: own.groupPrefix, settleMs: own.settleMs, ...(options.logger ? { logger: options.logger } : {}) });
    }
  }

  /** The write receipts' reader, for the status (null when own writes are not recognized). */
  receiptsStatus(): ReturnType<ReceiptsView['status']> | null {
    return this.receipts?.status() ?? null;
  }

  get url(): string | null {
    return this.reader?.url ?? null;
  }

  async connect(stored: StoredCheckpoint | null, publisher: CheckpointedPublisher, signal: AbortSignal): Promise<boolean> {
    const reader = await DirSyncReader.open(this.options.directoryName, this.options.directory, this.counters.ldap);
    this.reader = reader;
    this.dc = reader.dc.toString();
    this.position = await this.resume(stored, publisher, reader, signal);
    if (!this.position) return false; // aborted during the baseline
    // Receipts from shortly before the read that reached the checkpoint: the changes read from there on may be the writer's.
    await this.receipts?.start(stored?.readAt === undefined ? Number.NEGATIVE_INFINITY : stored.readAt - (this.options.ownWrites?.settleMs ?? 0));
    await this.seedKnownDns(reader);
    return true;
  }

  async disconnect(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    this.position = undefined;
    await Promise.allSettled([reader?.close(), this.receipts?.stop()]);
  }

  describePosition(): string | null {
    return this.position?.cookie.toString() ?? null;
  }

  async read(publisher: CheckpointedPublisher): Promise<SourceBatch> {
    const reader = this.reader;
    const position = this.position;
    if (!reader || !position) throw new Error('DirSyncSource.read() before connect');
    const searchStart = Date.now();
    const page = await this.readPage(reader, position.cookie, publisher.checkpointGroup);
    const searchMs = Date.now() - searchStart;
    // Every receipt published before the read is known now: the writer's changes the page shows are recognized.
    if (page.entries.length > 0) await this.receipts?.catchUp();
    const { events, stateOnly, settles, superseded } = this.withoutOwnWrites(await this.toEvents(reader, page));
    // Samba hands out a new cookie on every poll, even with nothing changed: an empty page moves the read position
    // without a transaction (re-reading from the older cookie returns nothing either), and the checkpoint is
    // refreshed every idleCommitIntervalMs so a quiet domain does not leave an old cookie.
    const idleDue = Date.now() - this.lastCommitAt >= (this.options.idleCommitIntervalMs ?? 600_000);
    const publish = page.entries.length > 0 || (idleDue && !page.cookie.equals(position.cookie));
    return {
      events,
      stateOnly,
      checkpoint: publish ? { position: page.cookie.format(), server: position.dc.format(), readAt: searchStart } : null,
      committed: () => {
        if (publish) {
          this.lastCommitAt = Date.now();
          this.afterPublish(events);
          // The writer's own changes move its entries too: a rename read later starts from where they left it.
          this.learnDns(stateOnly);
        }
        this.receipts?.ownWrites.settle(settles, searchStart, superseded);
        this.position = { cookie: page.cookie, dc: position.dc };
      },
      pauseMs: () => nextPollDelayMs({ entries: page.entries.length, moreResults: page.moreResults }, { searchMs, sinceSearchStartMs: Date.now() - searchStart }, this.pace),
      caughtUp: !page.moreResults,
    };
  }

  classify(error: unknown): FailureVerdict {
    const limited = isLimited(error);
    if (isProducerFenced(error)) return { action: 'fenced', kind: 'fenced', limited };
    if (isRetriable(error)) return { action: 'retry', kind: 'retry', limited };
    return { action: 'stop', kind: error instanceof CookieRejectedError ? 'cookie-rejected' : 'stop', limited };
  }

  stoppedError(error: unknown, verdict: FailureVerdict, why: string): Error {
    const stopped = verdict.action === 'stop' && error instanceof Error ? error : new AdDetectorError(why, false, { cause: error });
    this.log?.event('error', 'ad-detector.stopped', { kind: verdict.kind, error: describeFailure(stopped) });
    return stopped;
  }

  /** The committed cookie (checked against the answering DC), or a new baseline. Undefined when aborted. */
  private async resume(stored: StoredCheckpoint | null, publisher: CheckpointedPublisher, reader: DirSyncReader, signal: AbortSignal): Promise<{ cookie: DirSyncCookie; dc: DcIdentity } | undefined> {
    if (stored) {
      const dc = DcIdentity.parse(stored.server);
      if (!dc.sameDc(reader.dc)) throw new ForeignCookieError(dc.toString(), `${reader.dc.toString()} at ${reader.url}`, publisher.checkpointGroup);
      const cookie = DirSyncCookie.parse(stored.position);
      this.log?.event('info', 'ad-detector.resume', { dc: dc.toString(), cookie: cookie.toString() });
      return { cookie, dc };
    }
    this.enteringBaseline();
    this.log?.event('info', 'ad-detector.baseline', { dc: reader.dc.toString(), note: 'first start: reading the current cookie without publishing the domain' });
    let cookie = DirSyncCookie.EMPTY;
    let objects = 0;
    for (;;) {
      if (signal.aborted) return undefined;
      // Only the cookie is kept: every object's GUID, not its attributes. Samba answers the whole domain in one page
      // (tombstones included), and with every attribute a domain of ~45,000 objects ran the detector out of heap.
      const page = await this.readPage(reader, cookie, publisher.checkpointGroup, BASELINE_ATTRIBUTES);
      objects += page.entries.length;
      cookie = page.cookie;
      if (page.entries.length === 0 && !page.moreResults) break;
    }
    await publisher.publish([], { position: cookie.format(), server: reader.dc.format() });
    this.lastCommitAt = Date.now();
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

  private async readPage(reader: DirSyncReader, cookie: DirSyncCookie, group: string, attributes?: readonly string[]): Promise<DirSyncPage> {
    try {
      const page = await reader.read(cookie, { flags: this.options.flags ?? DIRSYNC_FLAGS.incrementalValues, maxBytes: this.options.maxBytes ?? 0, ...(attributes ? { attributes } : {}) });
      this.counters.pages.inc();
      this.lastPageAt = Date.now();
      return page;
    } catch (error) {
      const { action, meaning, limited } = classifyLdapError(error);
      if (action === 'cookie-rejected' && !cookie.isEmpty) throw new CookieRejectedError(reader.url, group, error);
      const code = (error as { code?: unknown }).code;
      throw new DirectoryError(`DirSync search at ${reader.url}`, typeof code === 'number' ? code : null, action === 'retry', meaning, error, limited === true);
    }
  }

  private async toEvents(reader: DirSyncReader, page: DirSyncPage): Promise<EntryChangeEvent[]> {
    this.counters.read.inc(page.entries.length);
    if (page.entries.length === 0) return [];
    const missing = page.entries
      .filter(needsRefetch)
      .map(entryGuid)
      .filter((g): g is string => g !== null);
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
   * The writer's own changes left out (own-writes.ts): a change all its own goes to the state topic only, one partly
   * its own is published without that part. What they settle is settled once the batch is committed.
   */
  private withoutOwnWrites(read: EntryChangeEvent[]): { events: EntryChangeEvent[]; stateOnly: EntryChangeEvent[]; settles: Settlement[]; superseded: Superseded[] } {
    const own = this.receipts?.ownWrites;
    if (own === undefined || own.pending === 0) return { events: read, stateOnly: [], settles: [], superseded: [] };
    const events: EntryChangeEvent[] = [];
    const stateOnly: EntryChangeEvent[] = [];
    const settles: Settlement[] = [];
    const superseded: Superseded[] = [];
    // Renames of the writer's: the snapshot that follows one into the subtrees (withEnteredSnapshots) is its echo too.
    const ownRenames = new Set<string>();
    for (const event of read) {
      if (event.op === 'snapshot' && ownRenames.has(event.eventId.replace(/:entered$/, ''))) {
        stateOnly.push(event);
        continue;
      }
      const recognized = own.recognize(event);
      if (event.op === 'rename' && recognized.own.length > 0) ownRenames.add(event.eventId);
      settles.push(...recognized.settles);
      if (recognized.superseded !== undefined) superseded.push(recognized.superseded);
      if (recognized.own.length > 0) this.counters.ownWrites.inc({ whole: recognized.event === null ? 'yes' : 'no' });
      if (recognized.event === null) stateOnly.push(event);
      else events.push(recognized.event);
    }
    return { events, stateOnly, settles, superseded };
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
    this.learnDns(events);
    for (const event of events) this.counters.published.inc({ operation: event.op });
    this.counters.batches.inc();
  }

  private learnDns(events: readonly EntryChangeEvent[]): void {
    for (const event of events) {
      if (event.op === 'delete') this.knownDns.delete(event.entryId.value);
      else this.knownDns.set(event.entryId.value, event.dn);
    }
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
