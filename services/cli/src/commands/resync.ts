import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { searchPages, snapshotEntry, snapshotEvent, snapshotReading, SnapshotSource } from '@idsync/detector';
import { ABSENT_HEADER, encodeEntryChange, encodeWriteRequest, entryKey, type LinkEnd, PIPE_HEADER, type WriteRequest } from '@idsync/contracts';
import { compilePipe, type CompiledPipe, isInSubtree, normalizeDn, parseDn } from '@idsync/mapping';
import { AttributeKnowledge, type CurrentEntry, currentEntry } from '@idsync/writer';
import { type RecordProducer as Producer, topicRecordLimits } from '@idsync/platform';
import { signingKeyring, withSignature } from '@idsync/secrets';
import { type Client, type Entry, EqualityFilter } from 'ldapts';
import { type CliCommand } from '../command';
import { CommandContext, kafkaUnreachable } from '../context';
import { formatCount, formatDuration } from '../format';
import { CliError, type CliIo, EXIT_CODES, RefusedError, UsageError } from '../io';
import { integerOption, parseCommandArgs, GLOBAL_HELP } from '../options';
import { Progress } from '../progress';
import { displayValues } from '../core/display-values';
import { type DirectoryBase, type DnLookup, idLookup } from '../core/links-report';
import { jsonWithList } from '../core/json-stream';
import { type Comparison, describeDifference, type LinkState, mapSnapshot, needsPublishing } from '../core/resync-compare';
import { type DeletionCandidate, type PipeLinks, selectDeletions } from '../core/resync-links';
import { objectClassFilter, resyncScope, ResyncScopeError, type ResyncScope } from '../core/resync-scope';
import { sourceDetector, stateRecord, stateTarget } from '../core/resync-source';
import { JsonLinesSpool } from '../json-lines-spool';
import { type LoadedLinks, loadLinks } from '../links-topic';
import { DestinationStore, type DestinationStoreOptions } from '../resync-destination-store';
import { ResyncStateStore } from './resync-state';
import { RateLimiter } from '../core/rate-limit';
import { driftMetrics } from '../drift-metrics';

const HELP = `idsync resync: bring a pipe's destination in line with its source

usage: idsync resync --pipe NAME [--class NAME]... [--base-dn DN] [--filter LDAP-FILTER]
                     [--dry-run] [--delete-missing [--max-deletes N]] [--publish-all] [--publish-state]
                     [--restart] [--state-dir DIR] [--page-size N] [--rate N] [--push-metrics URL] [--yes]

Reads the pipe's source in full (paged), maps every entry with the pipe's sync classes and attribute mappings, and
compares it with the destination, read in bulk into a temporary index on disk (under --state-dir, removed at the
end: memory does not grow with the number of entries), exactly as the writer would: find the entry the source entry is
linked to (links topic, kafka.topics.links; by id, wherever it is), else by DN, then by the correlation lists; plan
the minimal change. A linked entry at another DN than the mapped one is a difference too (the writer moves it).
Entries that differ, and entries found by DN or correlation that are not linked yet (the writer links what it
finds), are published as snapshot events on the source's change topic: the mapper and the writer bring the
destination in line, as for any change. Nothing is written to the directories by this command itself.

Options:
      --pipe NAME          the sync pipe (config.pipes[].name)
      --class NAME         only this sync class (repeatable; default: every class of the pipe)
      --base-dn DN         only entries under this source DN (default: the classes' includeBaseDns)
      --filter FILTER      only source entries matching this LDAP filter, e.g. '(department=Sales)'
      --dry-run            print the differences, per entry and attribute, and publish nothing
      --delete-missing     also delete destination entries (of the pipe's destination classes, under the pipe's
                           destination subtree) linked to a source entry that is gone from the source. Entries linked
                           to no source entry (the destination's own) are listed, never deleted. Not with --filter.
      --max-deletes N      accidental-delete protection: refuse (exit 3) when more than N entries would be deleted
                           (default 10; nothing is deleted then)
      --destination-base DN  where the pipe's destination entries live, when the DN maps do not tell
      --publish-all        publish every entry, not only those that differ (a full snapshot for subscribers)
      --publish-state      also publish every source entry read to the source's state topic (kafka.topics.adState or
                           dsState): its entry-state record, as the source's detector builds it, so the topic holds
                           the entries the detector has not read since. On top of the usual run (comparison, snapshot
                           events); entries outside the detector's includeBaseDns/includeObjectClasses are left out.
                           With --dry-run: only counted. Refused when the source has no state topic.
      --restart            forget an interrupted run of the same pipe and options, start over
      --state-dir DIR      where an interrupted run is remembered, and where the run's temporary index of the
                           destination lives (default: $IDSYNC_STATE_DIR, else $XDG_STATE_HOME/idsync or
                           ~/.local/state/idsync)
      --page-size N        LDAP page size (default 1000)
      --push-metrics URL   when the run ends, push what it found to this Prometheus Pushgateway (job idsync-resync,
                           grouped by pipe): idsync_resync_drift_entries{pipe,kind} (create, update, delete,
                           unmappable), idsync_resync_source_entries, idsync_resync_last_run_timestamp_seconds; with
                           --dry-run, the nightly drift check (k8s/ops/drift-check-cronjob.yaml, alert IdsyncDrift)
      --rate N             publish at most N changes a second on average (snapshot events and deletes, in small
                           batches), so the writers and the destination take a large resync beside live traffic;
                           default: as fast as Kafka takes them
      --unpaged-limit N    read a source (and a destination) of at most N entries in one plain search when the server
                           allows it (default 50000; Samba answers that several times faster than paged searches, but
                           the entries are held in memory at once); 0: always page, for the least memory
      --yes                publish without asking, even when deletes are planned (needed without a terminal
                           when --delete-missing finds entries to delete)
${GLOBAL_HELP}

Dry run, per entry: '+ create' (no destination entry by link, DN or correlation: would be created), '~ update'
(attribute lines, and 'dn: OLD -> NEW' for a linked entry to move), '= equal ... unlinked (will be linked)', '! error'
(ambiguous correlation, a link conflict, an entry that cannot be mapped), '- DN' (a delete candidate).
Exit status 1 when an entry could not be compared or mapped (each one is listed; the others are still published).

Interrupted (Ctrl-C, a lost connection)? Run the same command again: it resumes, skipping the entries whose events
Kafka already acknowledged. Re-publishing an entry is harmless: writers compare before they write.

Examples:
  idsync resync --pipe ad-to-ds --dry-run
  idsync resync --pipe ad-to-ds --class users --filter '(department=Sales)'
  idsync resync --pipe ds-to-ad --delete-missing --max-deletes 50 --yes
  idsync resync --pipe ad-to-ds --dry-run --json | jq '.differences[] | .dn'
  idsync resync --pipe ad-to-ds --publish-state      # repair, and fill AD's state topic for subscribers
`;

/** Records per produce request, and bytes: well under Kafka's default message.max.bytes (1 MB). */
const PUBLISH_BATCH = 500;
const PUBLISH_BATCH_BYTES = 512 * 1024;

/**
 * Collects records (snapshot events, entry states) and publishes them in bounded batches; `acknowledged` runs after
 * Kafka acknowledged each batch, with the entry ids of its records.
 */
class BatchPublisher {
  private batch: { id: string; key: string; value: Buffer; headers: Record<string, string> }[] = [];
  private bytes = 0;
  private sent = 0;

  constructor(
    private readonly producer: Producer | null,
    private readonly topic: string,
    /** What the records are, for messages: 'events', 'entry-state records'. */
    private readonly what: string,
    private readonly acknowledged: (entryIds: string[]) => void,
    /** --rate: batches spaced out to that many records a second. */
    private readonly limiter: RateLimiter | null = null,
  ) {}

  get full(): boolean {
    return this.batch.length >= (this.limiter?.batchSize(PUBLISH_BATCH) ?? PUBLISH_BATCH) || this.bytes >= PUBLISH_BATCH_BYTES;
  }

  add(id: string, key: string, value: Buffer, headers: Record<string, string> = {}): void {
    this.batch.push({ id, key, value, headers });
    this.bytes += value.length;
  }

  async flush(): Promise<void> {
    if (!this.producer || this.batch.length === 0) return;
    const sending = this.batch;
    this.batch = [];
    this.bytes = 0;
    await this.limiter?.take(sending.length);
    try {
      await this.producer.send({ topic: this.topic, messages: sending.map((m) => ({ key: m.key, value: m.value, headers: m.headers })) });
    } catch (error) {
      throw new CliError(`publishing to ${this.topic} failed after ${formatCount(this.sent)} ${this.what}: ${error instanceof Error ? error.message : String(error)}`, {
        retriable: true,
        hint: 'run the same command again: it resumes after the events Kafka acknowledged',
        cause: error,
      });
    }
    this.sent += sending.length;
    this.acknowledged(sending.map((m) => m.id));
  }
}

const OPTIONS = {
  pipe: { type: 'string' },
  class: { type: 'string', multiple: true },
  'base-dn': { type: 'string' },
  filter: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'delete-missing': { type: 'boolean', default: false },
  'max-deletes': { type: 'string' },
  'destination-base': { type: 'string', multiple: true },
  'publish-all': { type: 'boolean', default: false },
  'publish-state': { type: 'boolean', default: false },
  restart: { type: 'boolean', default: false },
  'state-dir': { type: 'string' },
  'page-size': { type: 'string' },
  rate: { type: 'string' },
  'push-metrics': { type: 'string' },
  'unpaged-limit': { type: 'string' },
  yes: { type: 'boolean', default: false },
} as const;

interface EntryReport {
  /** The destination DN (where the entry is now; '' when the source entry could not be mapped). */
  readonly dn: string;
  readonly sourceDn: string;
  /** `delete`: a destination entry linked to a source entry gone from the source. */
  readonly kind: Comparison['kind'] | 'delete';
  readonly foundBy: Comparison['foundBy'];
  readonly link: LinkState;
  /** A linked entry the writer moves to the mapped DN. */
  readonly move: { readonly from: string; readonly to: string } | null;
  readonly syncClass: string;
  readonly attributes: readonly { attribute: string; current: string[]; add: string[]; remove: string[]; replace: boolean }[];
  readonly problem?: string;
  /** For `delete`: the source ids it is linked to. */
  readonly linkedTo?: readonly string[];
}

interface Summary {
  pipe: string;
  runId: string;
  dryRun: boolean;
  resumed: boolean;
  sourceEntries: number;
  outOfScope: number;
  /** Source entries the pipe cannot map (each reported with its reason; the run goes on, and exits 1). */
  unmappable: number;
  compared: number;
  equal: number;
  create: number;
  update: number;
  errors: number;
  /** Live links read from the links topic (both pipes' and others'). */
  links: number;
  /** Found by their link. */
  foundByLink: number;
  /** Linked entries at another DN than the mapped one: the writer moves them. */
  moved: number;
  /** Found by DN or correlation but not linked: published (even when equal), the writer links them. */
  unlinked: number;
  /** Linked to an entry the destination read did not return: published, the writer looks it up by id. */
  dangling: number;
  published: number;
  alreadyPublished: number;
  destinationEntries: number;
  /** Destination entries linked to source entries gone from the source: deleted only with --delete-missing. */
  deleteCandidates: number;
  deletesPublished: number;
  /** Destination entries no source entry maps to and linked to none: never deleted. */
  notLinked: number;
  /** The first few of them. */
  notLinkedSample: string[];
  /** Destination entries no source entry of this read maps to, but linked to a source entry that still exists. */
  linkedElsewhere: number;
  elapsedMs: number;
  comparedPerSecond: number;
  peakRssMb: number;
  /**
   * --publish-state (null without it): entry-state records acknowledged on the source's state topic (a dry run: that
   * it would publish), entries the detector does not publish (outside its scope: none), records over the limit.
   */
  state: { topic: string; detector: string; records: number; outsideDetectorScope: number; tooLarge: number } | null;
  /** How the source was read: in one plain search, or with the paged-results control (see --unpaged-limit). */
  sourceRead: 'at-once' | 'paged';
  /**
   * Where the time went, for people tuning a large run. sourceReadOrCount: the source read at once, or its count
   * before a paged read (whose pages are then in compareAndPublish). linksRead: the links topic (beside the reads).
   */
  phasesMs: { destinationRead: number; sourceReadOrCount: number; linksRead: number; compareAndPublish: number };
}

/** DNs shown of the destination entries left alone. */
const SAMPLE = 5;
/** Source entries compared at a time: their destination entries are read from the index in one query. */
const COMPARE_BATCH = 500;
/** Destination entries converted and stored at a time (one transaction each). */
const STORE_CHUNK = 1_000;
/** Unclaimed destination entries sorted into delete candidates at a time. */
const DELETION_BATCH = 500;
/** Source entries looked up by id at a time (delete candidates: is their linked source entry really gone?). */
const LOOKUPS_AT_ONCE = 16;

export const resyncCommand: CliCommand = {
  name: 'resync',
  summary: 'compare a source with its destination and publish snapshot events to repair the differences',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('resync', argv, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`idsync resync: unexpected argument '${positionals[0]}'`, 'name the pipe with --pipe');
    if (!values.pipe) throw new UsageError('idsync resync: --pipe NAME is required', 'see idsync resync --help');
    if (values['delete-missing'] === true && values.filter !== undefined) {
      throw new UsageError(
        'idsync resync: --delete-missing does not go with --filter: the entries the filter leaves out of the read are not missing',
        'run the --delete-missing pass without --filter (--class and --base-dn narrow both sides alike)',
      );
    }
    const maxDeletes = integerOption('resync', 'max-deletes', values['max-deletes']) ?? 10;
    const pageSize = integerOption('resync', 'page-size', values['page-size'], 1) ?? 1_000;
    const rate = integerOption('resync', 'rate', values.rate, 1);
    const pushMetrics = values['push-metrics'];
    if (pushMetrics !== undefined && !/^https?:\/\/\S+$/.test(pushMetrics))
      throw new UsageError(`--push-metrics wants the Pushgateway's URL (http:// or https://), not '${pushMetrics}'`, 'e.g. --push-metrics http://pushgateway.monitoring:9091');
    if (rate !== undefined && values['dry-run'] === true) throw new UsageError('--rate paces what a resync publishes; a dry run publishes nothing', 'drop --rate, or --dry-run');
    const unpagedLimit = integerOption('resync', 'unpaged-limit', values['unpaged-limit']) ?? 50_000;
    const context = await CommandContext.open(io, values.config);
    try {
      return await resync(context, io, {
        pipe: values.pipe,
        classes: values.class ?? [],
        baseDn: values['base-dn'],
        filter: values.filter,
        dryRun: values['dry-run'] === true,
        deleteMissing: values['delete-missing'] === true,
        maxDeletes,
        destinationBases: values['destination-base'] ?? [],
        publishAll: values['publish-all'] === true,
        publishState: values['publish-state'] === true,
        restart: values.restart === true,
        stateDir: values['state-dir'] ?? ResyncStateStore.defaultDir(io.env),
        pageSize,
        unpagedLimit,
        rate,
        pushMetrics,
        yes: values.yes === true,
        json: values.json === true,
      });
    } finally {
      await context.close();
    }
  },
};

interface ResyncOptions {
  readonly pipe: string;
  readonly classes: readonly string[];
  readonly baseDn: string | undefined;
  readonly filter: string | undefined;
  readonly dryRun: boolean;
  readonly deleteMissing: boolean;
  readonly maxDeletes: number;
  readonly destinationBases: readonly string[];
  readonly publishAll: boolean;
  readonly publishState: boolean;
  readonly restart: boolean;
  readonly stateDir: string;
  readonly pageSize: number;
  readonly unpagedLimit: number;
  /** --rate: changes published a second at most; undefined: no limit. */
  readonly rate: number | undefined;
  /** --push-metrics: the Pushgateway the drift metrics go to when the run ends. */
  readonly pushMetrics: string | undefined;
  readonly yes: boolean;
  readonly json: boolean;
}

async function resync(context: CommandContext, io: CliIo, options: ResyncOptions): Promise<number> {
  const { config } = context;
  const pipeConfig = config.pipes.find((p) => p.name === options.pipe);
  if (!pipeConfig) throw new UsageError(`no pipe '${options.pipe}' in ${context.configFile}`, `pipes: ${config.pipes.map((p) => p.name).join(', ') || 'none'}`);
  const pipe = compilePipe(pipeConfig);
  const source = context.directory(pipe.source);
  const destination = context.directory(pipe.destination);
  let scope: ResyncScope;
  try {
    scope = resyncScope(pipe, { classes: options.classes, baseDn: options.baseDn, filter: options.filter, sourceKind: source.kind, sourceBaseDn: source.baseDn, destinationKind: destination.kind });
  } catch (error) {
    if (error instanceof ResyncScopeError) throw new UsageError(`idsync resync: ${error.message}`);
    throw error;
  }
  const destinationBases = options.destinationBases.length > 0 ? options.destinationBases : scope.destinationBases;
  if (options.deleteMissing && destinationBases === null) {
    throw new UsageError(`idsync resync: cannot tell from the DN maps of pipe '${pipe.name}' where its destination entries live`, 'name the subtree with --destination-base DN');
  }
  const topic = source.kind === 'active-directory' ? config.kafka.topics.adChanges.name : config.kafka.topics.dsChanges.name;
  // The source's detector: the after-image set its events carry (the snapshot events carry the same image).
  const detector = sourceDetector(config, config.pipes.map(compilePipe), pipe.source);
  const reading = snapshotReading(source.kind, scope.sourceAttributes, detector?.set ?? null);
  const target = options.publishState ? stateTarget(detector, pipe.source) : null;
  if (target?.kind === 'refused') throw new UsageError(`--publish-state: ${target.problem}`, target.hint);
  const statePublishing = target?.kind === 'publish' ? target : null;
  const operationsTopic = destination.kind === 'active-directory' ? config.kafka.topics.adOperations.name : config.kafka.topics.dsOperations.name;

  // Resume an interrupted run with the same options (dry runs remember nothing).
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([pipe.name, scope.sourceBases, scope.sourceFilter, scope.classes.map((c) => c.name), options.publishAll, options.deleteMissing]))
    .digest('hex')
    .slice(0, 16);
  const store = new ResyncStateStore(options.stateDir, pipe.name);
  const previous = options.dryRun || options.restart ? null : store.unfinished(fingerprint);
  const runId = previous?.runId ?? randomUUID();
  const startedAt = io.now();

  const parsedBases = destinationBases?.map((base) => ({ dn: parseDn(base), key: normalizeDn(base) })) ?? null;
  const destinations = createDestinationStore(options.stateDir, {
    correlation: pipe.correlation,
    kind: destination.kind,
    // Delete candidates are of the pipe's classes, under its destination subtree (not its base entry itself).
    deletable: (entry) =>
      parsedBases !== null && parsedBases.some((b) => isInSubtree(parseDn(entry.dn), b.dn) && normalizeDn(entry.dn) !== b.key) && hasAnyClass(entry, scope.destinationObjectClasses),
  });
  // Per-entry reports go to a file beside the index and are printed at the end, as the summary's list.
  const reports = new JsonLinesSpool<EntryReport>(join(destinations.dir, 'reports.jsonl'));
  try {
    return await compareAndReport();
  } finally {
    reports.close();
    destinations.close();
  }

  async function compareAndReport(): Promise<number> {
    // What the interrupted run published goes beside the index: a run of millions of entries leaves too many to hold.
    if (previous) {
      for (const ids of store.published(previous.runId)) destinations.recordPublishedBefore(ids);
      io.err(`resuming run ${runId} of ${new Date(previous.startedAt).toISOString()}: ${formatCount(destinations.publishedBefore.count())} entries already published\n`);
    }
    // Fail fast on Kafka before the long read (a dry run reads the links topic too).
    const admin = await context.admin();
    let producer: Producer | null = null;
    let stateLimit = config.kafka.maxRecordBytes;
    if (!options.dryRun) {
      const topics = new Set(await admin.listTopics().catch((error: unknown) => Promise.reject(kafkaUnreachable(config, error))));
      for (const name of [topic, ...(options.deleteMissing ? [operationsTopic] : []), ...(statePublishing ? [statePublishing.topic] : [])]) {
        if (!topics.has(name)) throw new CliError(`topic ${name} does not exist`, { hint: 'start the services once (they create their topics) or create it' });
      }
      // A state record over the topic's limit is left out, as the detector does (the send would fail every rerun).
      if (statePublishing) {
        const limits = await topicRecordLimits(admin, [statePublishing.topic], stateLimit).catch((error: unknown) => Promise.reject(kafkaUnreachable(config, error)));
        stateLimit = limits.get(statePublishing.topic) ?? stateLimit;
      }
      producer = context.kafka.producer({ retries: 5 });
      await producer.connect().catch((error: unknown) => Promise.reject(kafkaUnreachable(config, error)));
    }

    const knowledge = new AttributeKnowledge();
    const sourceSession = await context.ldap(pipe.source);
    const destinationSession = await context.ldap(pipe.destination);
    const interrupted = { value: false };
    const onSignal = (): void => {
      interrupted.value = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    const summary: Summary = {
      pipe: pipe.name,
      runId,
      dryRun: options.dryRun,
      resumed: previous !== null,
      sourceEntries: 0,
      outOfScope: 0,
      unmappable: 0,
      compared: 0,
      equal: 0,
      create: 0,
      update: 0,
      errors: 0,
      links: 0,
      foundByLink: 0,
      moved: 0,
      unlinked: 0,
      dangling: 0,
      published: 0,
      alreadyPublished: 0,
      destinationEntries: 0,
      deleteCandidates: 0,
      deletesPublished: 0,
      notLinked: 0,
      notLinkedSample: [],
      linkedElsewhere: 0,
      elapsedMs: 0,
      comparedPerSecond: 0,
      peakRssMb: 0,
      state: statePublishing === null ? null : { topic: statePublishing.topic, detector: statePublishing.detector.service, records: 0, outsideDetectorScope: 0, tooLarge: 0 },
      sourceRead: 'paged',
      phasesMs: { destinationRead: 0, sourceReadOrCount: 0, linksRead: 0, compareAndPublish: 0 },
    };
    let linksLoad: Promise<LoadedLinks> | undefined;
    let linksTopic: string;
    let linksTopicExists: boolean;
    try {
      // The destination (for the comparison), the links, and the number of source entries (for the progress bar),
      // side by side.
      const timed = async <T>(work: Promise<T>, phase: 'destinationRead' | 'sourceReadOrCount' | 'linksRead'): Promise<T> => {
        const at = io.now();
        const result = await work;
        summary.phasesMs[phase] = io.now() - at;
        return result;
      };
      linksLoad = loadLinks(context, { missingTopic: 'empty' });
      // Read as the detector would (its ids, its binary attributes, its after-image set), plus the writer's binary ones.
      const sourceRead = new SnapshotSource(sourceSession.client, {
        bases: scope.sourceBases,
        filter: scope.sourceFilter,
        reading,
        pageSize: options.pageSize,
        unpagedLimit: options.unpagedLimit,
        bufferAttributes: knowledge.bufferAttributeNames(),
      });
      // Both sides side by side. A source of at most --unpaged-limit entries in one search (see searchAtOnce), which
      // also gives the total for the progress bar; a larger one is counted first, then read and compared page by page.
      const [, sourceStart, loaded] = await Promise.all([
        timed(readDestination(destinationSession.client, destination.baseDn, scope, knowledge, { pageSize: options.pageSize, upTo: options.unpagedLimit }, destinations), 'destinationRead'),
        timed(sourceRead.start(), 'sourceReadOrCount'),
        timed(linksLoad, 'linksRead'),
      ]);
      linksTopic = loaded.topic;
      linksTopicExists = loaded.exists;
      if (!loaded.exists) io.err(`the links topic ${loaded.topic} does not exist yet: no entry is linked (the writers create it when they start, and link entries as they meet them)\n`);
      summary.links = loaded.store.counts().links;
      const links: PipeLinks = { lookup: loaded.store, source: pipe.source, destination: pipe.destination };
      const total = sourceStart.total;
      const compareStartedAt = io.now();
      summary.sourceRead = sourceStart.read;
      summary.destinationEntries = destinations.size;
      if (!options.dryRun) store.begin({ runId, fingerprint, startedAt: previous?.startedAt ?? startedAt, finished: false });

      const progress = new Progress(io, { label: options.dryRun ? 'comparing' : 'resync', total, unit: 'entries' });
      const planOptions = { kind: destination.kind, attributes: knowledge };
      const snapshot = { system: source.kind, directory: pipe.source, server: sourceSession.url, runId, detectedAt: startedAt };
      const classNames = new Set(scope.classes.map((c) => c.name));
      let eventIndex = 0;
      // --rate: the snapshot events (and deletes) go out at that pace; state records are for subscribers, not paced.
      const limiter = options.rate === undefined ? null : new RateLimiter(options.rate);
      const publisher = new BatchPublisher(
        producer,
        topic,
        'events',
        (ids) => {
          store.recordPublished(runId, ids);
          summary.published += ids.length;
        },
        limiter,
      );
      // Not recorded for a resume: a resumed run publishes every state again (harmless, the topic keeps the latest).
      const stateCounts = summary.state;
      const states =
        statePublishing === null || stateCounts === null
          ? null
          : {
              ...statePublishing,
              counts: stateCounts,
              publisher: new BatchPublisher(producer, statePublishing.topic, 'entry-state records', (ids) => {
                stateCounts.records += ids.length;
              }),
            };
      /**
       * A batch of source entries: mapped and compared first (the destination entries their requests can find are
       * read from the index in one query), then counted, reported and published one by one, in read order.
       */
      const compareBatch = async (raws: readonly Entry[]): Promise<void> => {
        const items = raws.map((raw) => {
          const entry = snapshotEntry(raw, reading);
          if (entry === null) return null;
          const event = snapshotEvent(entry, eventIndex++, snapshot);
          return { entry, event, result: mapSnapshot(event, pipe) };
        });
        const requests = items.flatMap((item) => (item !== null && item.result.kind === 'mapped' && classNames.has(item.result.syncClass) ? item.result.requests : []));
        // Every source entry read counts, compared or not: the destination entries linked to it are not deleted.
        const comparisons = destinations.compareBatch(
          requests,
          planOptions,
          links,
          items.flatMap((item) => (item === null ? [] : [item.entry.entryId.value])),
        );
        let next = 0;
        for (const item of items) {
          summary.sourceEntries += 1;
          progress.advance();
          if (item === null) {
            summary.outOfScope += 1;
            continue;
          }
          const { entry, event, result } = item;
          // The state of every entry read, mapped or not: the state topic is the source's, not the pipe's.
          if (states) {
            const record = stateRecord(event, states.detector, stateLimit);
            if (record.kind === 'outside-detector-scope') states.counts.outsideDetectorScope += 1;
            else if (record.kind === 'too-large') {
              states.counts.tooLarge += 1;
              io.err(`  ! ${entry.dn}: its entry-state record is ${formatCount(record.bytes)} bytes, over the limit of ${formatCount(record.limit)} for ${states.topic}: left out\n`);
            } else if (options.dryRun) states.counts.records += 1;
            else {
              states.publisher.add(entry.entryId.value, record.key, record.value);
              if (states.publisher.full) await states.publisher.flush();
            }
          }
          if (result.kind === 'unmappable') {
            // One entry's problem: reported, and the others are still compared and published.
            summary.unmappable += 1;
            const problem = `cannot be mapped: ${result.problem}`;
            if (options.dryRun) reports.add({ dn: '', sourceDn: entry.dn, kind: 'error', foundBy: 'none', link: 'none', move: null, syncClass: '', attributes: [], problem });
            else io.err(`  ! ${entry.dn}: ${problem}\n`);
            continue;
          }
          if (result.kind !== 'mapped' || !classNames.has(result.syncClass)) {
            summary.outOfScope += 1;
            continue;
          }
          let publish = false;
          let absent = result.requests.length > 0;
          for (let i = 0; i < result.requests.length; i++) {
            const comparison = comparisons[next++] as Comparison;
            count(summary, comparison);
            // Absent: no entry and no link; the writer adds without looking (a linked entry is looked up by id).
            if (comparison.kind !== 'create' || comparison.link !== 'none') absent = false;
            if (needsPublishing(comparison)) publish = true;
            if (comparison.kind === 'error' || needsPublishing(comparison)) {
              if (options.dryRun) reports.add(report(comparison, entry.dn, result.syncClass));
              else if (comparison.kind === 'error') io.err(`  ! ${comparison.dn}: ${comparison.problem ?? ''}\n`);
            }
          }
          if (!options.dryRun && (publish || options.publishAll)) {
            if (previous !== null && destinations.publishedBefore.has(entry.entryId.value)) summary.alreadyPublished += 1;
            else {
              const value = encodeEntryChange(event);
              // Only this pipe applies it; absent: the comparison found no destination entry.
              publisher.add(entry.entryId.value, entryKey(entry.entryId), value, { [PIPE_HEADER]: pipe.name, ...(absent ? { [ABSENT_HEADER]: runId } : {}) });
              if (publisher.full) await publisher.flush();
            }
          }
          if (interrupted.value) break;
        }
      };
      for await (const page of sourceRead.pages()) {
        // Taken off the page as they are compared, so that a source read at once is let go of as the run goes.
        while (page.length > 0 && !interrupted.value) await compareBatch(page.splice(0, COMPARE_BATCH));
        await publisher.flush();
        await states?.publisher.flush();
        if (interrupted.value) break;
      }
      progress.finish();
      summary.phasesMs.compareAndPublish = io.now() - compareStartedAt;
      summary.elapsedMs = io.now() - startedAt;
      summary.comparedPerSecond = Math.round((summary.sourceEntries * 1_000) / Math.max(1, io.now() - startedAt));
      summary.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
      if (interrupted.value) {
        const stateNote = summary.state === null ? '' : ` (and ${formatCount(summary.state.records)} entry-state records)`;
        io.err(
          `interrupted after ${formatCount(progress.count)} of ${formatCount(total)} entries; ${formatCount(summary.published)} published in this run${stateNote}. Run the same command again to resume.\n`,
        );
        return 130;
      }

      // Destination entries no source entry maps to: only those linked to a source entry that is gone are deletion
      // candidates (listed, deleted only behind the flag and the threshold); unlinked ones are the destination's own.
      // Not returned by the read is not gone: an entry outside this run's read (--base-dn, --class, another subtree of
      // the reverse pipe) still counts. Each candidate's source entries are looked up by id.
      const sourceBase: DirectoryBase = { name: pipe.source, kind: source.kind, baseDn: source.baseDn };
      /** What --delete-missing deletes: kept only up to what it may delete (one more tells it must refuse). */
      const toDelete: DeletionCandidate[] = [];
      for (const unclaimed of destinations.unclaimed(DELETION_BATCH)) {
        const selection = selectDeletions(unclaimed, links, destinations.sourceIdsRead);
        const found = await lookUpAll(selection.candidates, (c) => stillAtSource(sourceSession.client, sourceBase, c.sources));
        const gone = selection.candidates.filter((_, i) => found[i] === null);
        summary.deleteCandidates += gone.length;
        summary.notLinked += selection.unlinked.length;
        for (const u of selection.unlinked.slice(0, SAMPLE - summary.notLinkedSample.length)) summary.notLinkedSample.push(u.entry.dn);
        summary.linkedElsewhere += selection.sourceRead.length + (selection.candidates.length - gone.length);
        for (const c of gone) {
          if (options.dryRun) {
            reports.add({
              dn: c.entry.dn,
              sourceDn: '',
              kind: 'delete',
              foundBy: 'link',
              link: 'linked',
              move: null,
              syncClass: '',
              attributes: [],
              problem: 'not at the source',
              linkedTo: c.sources.map((s) => s.value),
            });
          } else if (options.deleteMissing && toDelete.length < Math.max(options.maxDeletes + 1, SAMPLE)) toDelete.push(c);
        }
      }
      if (!options.dryRun && options.deleteMissing && summary.deleteCandidates > 0) {
        if (summary.deleteCandidates > options.maxDeletes) {
          throw new RefusedError(
            `${formatCount(summary.deleteCandidates)} destination entries are linked to source entries gone from the source, more than --max-deletes ${options.maxDeletes}: nothing was deleted (the ${formatCount(summary.published)} updates were published)`,
            `check the first ones: ${toDelete
              .slice(0, 5)
              .map((c) => c.entry.dn)
              .join('; ')}; if they must go, raise --max-deletes`,
          );
        }
        if (!options.yes) {
          const ok = io.confirm ? await io.confirm(`delete ${summary.deleteCandidates} destination entries whose linked source entries are gone?`) : false;
          if (!ok) throw new RefusedError(`${summary.deleteCandidates} deletes planned and not confirmed: nothing was deleted`, 'add --yes to delete them');
        }
        const deletes = toDelete.map((c, i) => deleteRequest(c, i, pipe, runId, startedAt));
        // Keyed by the source entry, like the mapper's requests for it (one key for all would let the writer fold
        // them into the last one). Children come first; a parent deleted before them is retried by the writer.
        // Signed like the mapper's requests (secrets.signOperations): writers refuse unsigned ones.
        const signing = signingKeyring(config.secrets);
        const messages = deletes.map((d) => {
          const message = { key: entryKey(d.sourceEntryId), value: encodeWriteRequest(d) };
          return signing === undefined ? message : { ...message, headers: withSignature(signing, message) };
        });
        const batch = limiter?.batchSize(PUBLISH_BATCH) ?? PUBLISH_BATCH;
        for (let start = 0; start < messages.length; start += batch) {
          const part = messages.slice(start, start + batch);
          await limiter?.take(part.length);
          await producer?.send({ topic: operationsTopic, messages: part });
        }
        summary.deletesPublished = deletes.length;
      }
      if (!options.dryRun) store.finish({ runId, fingerprint, startedAt, finished: false });
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      await producer?.disconnect().catch(() => undefined);
      (await linksLoad?.catch(() => undefined))?.store.close();
    }

    printSummary(io, summary, reports.items(), options, { topic: linksTopic, exists: linksTopicExists });
    if (options.pushMetrics !== undefined) {
      const counts = {
        pipe: pipe.name,
        sourceEntries: summary.sourceEntries,
        create: summary.create,
        update: summary.update,
        delete: summary.deleteCandidates,
        unmappable: summary.unmappable,
        finishedAt: io.now(),
      };
      try {
        await driftMetrics(counts).push(options.pushMetrics, 'idsync-resync', { pipe: pipe.name });
      } catch (error) {
        throw new CliError(`the drift metrics were not pushed to ${options.pushMetrics}: ${error instanceof Error ? error.message : String(error)}`, {
          retriable: true,
          hint: 'the resync itself finished (summary above); check the Pushgateway',
          cause: error,
        });
      }
    }
    return summary.errors + summary.unmappable > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
  }
}

/** The run's temporary index of the destination, under the state directory; an error that says where and why not. */
function createDestinationStore(stateDir: string, options: Omit<DestinationStoreOptions, 'parentDir'>): DestinationStore {
  try {
    return DestinationStore.create({ ...options, parentDir: stateDir });
  } catch (error) {
    throw new CliError(`cannot create the resync's temporary index of the destination under ${stateDir}: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'pass --state-dir DIR (or set IDSYNC_STATE_DIR) on a writable disk with room for a copy of the destination entries',
      cause: error,
    });
  }
}

function count(summary: Summary, comparison: Comparison): void {
  summary.compared += 1;
  summary[comparison.kind === 'error' ? 'errors' : comparison.kind] += 1;
  if (comparison.link === 'linked') summary.foundByLink += 1;
  if (comparison.link === 'unlinked') summary.unlinked += 1;
  if (comparison.link === 'dangling') summary.dangling += 1;
  if (comparison.move !== null) summary.moved += 1;
}

/** `lookUp` for every item, a few at a time, results in order. */
async function lookUpAll<T, R>(items: readonly T[], lookUp: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += LOOKUPS_AT_ONCE) out.push(...(await Promise.all(items.slice(i, i + LOOKUPS_AT_ONCE).map(lookUp))));
  return out;
}

const NO_SUCH_OBJECT = 32;

/**
 * The DN of the first of these source entries that still exists, looked up by id (AD: `<GUID=…>`; an LDAP
 * directory: entryUUID under its base); null when every one is gone. An id the directory cannot be searched by
 * counts as existing: an entry is deleted only when its source entry is known to be gone.
 */
async function stillAtSource(client: Client, directory: DirectoryBase, ends: readonly LinkEnd[]): Promise<string | null> {
  for (const end of ends) {
    const found = await lookUpSource(client, directory, end);
    if (found.kind === 'found') return found.dn;
    if (found.kind === 'unknown') return `(${found.problem})`;
  }
  return null;
}

async function lookUpSource(client: Client, directory: DirectoryBase, end: LinkEnd): Promise<DnLookup> {
  const how = idLookup(directory, end);
  if (how.kind === 'none') return { kind: 'unknown', problem: how.problem };
  try {
    const { searchEntries } =
      how.kind === 'base'
        ? await client.search(how.base, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] })
        : await client.search(how.base, { scope: 'sub', filter: new EqualityFilter({ attribute: how.attribute, value: how.value }), attributes: ['1.1'], sizeLimit: 2 });
    const [entry] = searchEntries;
    return entry === undefined ? { kind: 'missing' } : { kind: 'found', dn: entry.dn };
  } catch (error) {
    if ((error as { code?: unknown }).code === NO_SUCH_OBJECT) return { kind: 'missing' };
    throw new CliError(`looking up source entry ${end.value} in directory '${directory.name}' failed: ${error instanceof Error ? error.message : String(error)}`, {
      retriable: true,
      hint: 'nothing was deleted; run the same command again',
      cause: error,
    });
  }
}

/**
 * The destination entries of the pipe's classes, with the attributes the comparison reads (entry id included), into
 * the run's index on disk, page by page (at once when they are few enough: see searchPages).
 */
async function readDestination(
  client: Client,
  baseDn: string,
  scope: ResyncScope,
  knowledge: AttributeKnowledge,
  read: { readonly pageSize: number; readonly upTo: number },
  store: DestinationStore,
): Promise<void> {
  const filter = objectClassFilter(scope.destinationObjectClasses);
  const options = { scope: 'sub' as const, filter, attributes: [...scope.destinationAttributes], explicitBufferAttributes: knowledge.bufferAttributeNames() };
  for await (const page of searchPages(client, baseDn, options, read)) {
    // Taken off the page as they are stored: a read at once is not held twice (raw and converted).
    while (page.length > 0) store.addPage(page.splice(0, STORE_CHUNK).map((entry) => currentEntry(entry)));
  }
  store.finishLoading();
}

function hasAnyClass(entry: CurrentEntry, classes: readonly string[]): boolean {
  if (classes.length === 0) return true;
  const have = new Set((entry.attributes.get('objectclass')?.values ?? []).map((v) => v.toString().toLowerCase()));
  return classes.some((c) => have.has(c.toLowerCase()));
}

/**
 * The delete of a destination entry linked to a source entry that is gone, as that source entry's request: the
 * writer finds the entry by the link (not by its DN, which may name another entry by then) and removes the link.
 */
function deleteRequest(candidate: DeletionCandidate, index: number, pipe: CompiledPipe, runId: string, now: number): WriteRequest {
  const source = candidate.sources[0] as LinkEnd;
  return {
    requestId: `resync:${runId}/${pipe.name}/delete/${index}`,
    pipe: pipe.name,
    sourceEventId: `resync:${runId}`,
    sourceEntryId: { kind: source.kind, value: source.value },
    op: 'delete',
    dn: candidate.entry.dn,
    previousDn: null,
    objectClasses: [],
    attributes: [],
    correlation: [],
    changeTime: null,
    detectedAt: now,
  };
}

function report(comparison: Comparison, sourceDn: string, syncClass: string): EntryReport {
  return {
    dn: comparison.dn,
    sourceDn,
    kind: comparison.kind,
    foundBy: comparison.foundBy,
    link: comparison.link,
    move: comparison.move,
    syncClass,
    attributes: comparison.differences.map((d) => ({
      attribute: d.attribute,
      current: displayValues(d.attribute, d.current),
      add: displayValues(d.attribute, d.add),
      remove: displayValues(d.attribute, d.remove),
      replace: d.replace,
    })),
    ...(comparison.problem === undefined ? {} : { problem: comparison.problem }),
  };
}

const MARKS: Record<EntryReport['kind'], string> = { create: '+', update: '~', equal: '=', error: '!', delete: '-' };

/** What the dry run says about one entry's link, after its class and how it was found. */
function linkNote(r: EntryReport): string {
  if (r.kind === 'create') return r.link === 'dangling' ? 'linked to an entry gone from the destination: would be created' : 'no destination entry by link, DN or correlation: would be created';
  if (r.link === 'unlinked') return 'unlinked (will be linked)';
  if (r.link === 'dangling') return 'linked to an entry gone from the destination (will be linked to this one)';
  return '';
}

function printEntry(io: CliIo, r: EntryReport, options: ResyncOptions): void {
  if (r.kind === 'delete') {
    io.out(`- ${r.dn}  (linked to source entry ${(r.linkedTo ?? []).join(', ')}, which is not at the source${options.deleteMissing ? '' : '; deleted only with --delete-missing'})\n`);
    return;
  }
  if (r.dn === '') {
    io.out(`! ${r.sourceDn}\n    ${r.problem ?? ''}\n`);
    return;
  }
  const found = r.kind === 'update' || r.kind === 'equal' ? `, found by ${r.foundBy}` : '';
  const note = linkNote(r);
  io.out(`${MARKS[r.kind]} ${r.kind} ${r.dn}  [${r.syncClass}${found}${note === '' ? '' : `; ${note}`}]\n`);
  if (r.problem) io.out(`    ${r.problem}\n`);
  if (r.move !== null) io.out(`    dn: ${r.move.from} -> ${r.move.to}\n`);
  for (const a of r.attributes) {
    io.out(`    ${describeDifference({ attribute: a.attribute, current: a.current, add: a.add, remove: a.remove, replace: a.replace }, () => false)}\n`);
  }
}

/** Output written in pieces of about this many characters. */
const OUTPUT_CHUNK = 64 * 1024;

function printSummary(io: CliIo, summary: Summary, reports: Iterable<EntryReport>, options: ResyncOptions, links: { topic: string; exists: boolean }): void {
  if (options.json) {
    if (!options.dryRun) {
      io.out(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    // The dry run's differences, read back one by one: the same document as one JSON.stringify of them all.
    let pending = '';
    for (const piece of jsonWithList(summary, 'differences', reports)) {
      pending += piece;
      if (pending.length >= OUTPUT_CHUNK) {
        io.out(pending);
        pending = '';
      }
    }
    io.out(`${pending}\n`);
    return;
  }
  if (options.dryRun) for (const r of reports) printEntry(io, r, options);
  const n = formatCount;
  const lines = [
    `${options.dryRun ? 'dry run' : 'resync'} of pipe ${summary.pipe}${summary.resumed ? ` (resumed run ${summary.runId})` : ''}: ${n(summary.sourceEntries)} source entries read, ${n(summary.compared)} compared in ${formatDuration(summary.elapsedMs)} (${n(summary.comparedPerSecond)}/s)`,
    `  equal ${n(summary.equal)}, to create ${n(summary.create)}, to update ${n(summary.update)}${summary.moved > 0 ? ` (${n(summary.moved)} to move)` : ''}, errors ${n(summary.errors)}, out of scope ${n(summary.outOfScope)}`,
    `  links: ${n(summary.foundByLink)} found by link, ${n(summary.unlinked)} unlinked (will be linked)${summary.dangling > 0 ? `, ${n(summary.dangling)} linked to entries gone from the destination` : ''}; ${links.exists ? `${n(summary.links)} live links on ${links.topic}` : `${links.topic} does not exist yet`}`,
  ];
  if (summary.unmappable > 0)
    lines.push(`  ${n(summary.unmappable)} source entries could not be mapped (${options.dryRun ? 'listed above' : 'listed on stderr'}; the others were ${options.dryRun ? 'compared' : 'published'})`);
  if (!options.dryRun) {
    lines.push(
      `  published ${n(summary.published)} snapshot events${summary.alreadyPublished > 0 ? ` (${n(summary.alreadyPublished)} already published by the interrupted run)` : ''}: the mapper and the ${summary.pipe} writer apply them`,
    );
  }
  if (summary.state !== null) lines.push(`  ${stateLine(summary.state, options.dryRun)}`);
  if (summary.deleteCandidates > 0) {
    lines.push(
      options.dryRun || !options.deleteMissing
        ? `  ${n(summary.deleteCandidates)} destination entries are linked to source entries gone from the source (deleted only with --delete-missing)`
        : `  ${n(summary.deletesPublished)} deletes published`,
    );
  }
  if (summary.notLinked > 0) {
    lines.push(
      `  ${n(summary.notLinked)} destination entries are not linked to any source entry: left alone (${summary.notLinkedSample.join('; ')}${summary.notLinked > summary.notLinkedSample.length ? '; ...' : ''})`,
    );
  }
  if (summary.linkedElsewhere > 0) lines.push(`  ${n(summary.linkedElsewhere)} destination entries are linked to source entries that still exist outside this resync's read: left alone`);
  io.out(`${lines.join('\n')}\n`);
}

function stateLine(state: NonNullable<Summary['state']>, dryRun: boolean): string {
  const n = formatCount;
  const left = [
    ...(state.outsideDetectorScope > 0 ? [`${n(state.outsideDetectorScope)} outside the ${state.detector}'s scope`] : []),
    ...(state.tooLarge > 0 ? [`${n(state.tooLarge)} over the record size limit (listed on stderr)`] : []),
  ];
  return `${dryRun ? 'would publish' : 'published'} ${n(state.records)} entry-state records to ${state.topic}${left.length > 0 ? `; left out: ${left.join(', ')}` : ''}`;
}
