import { createHash, randomUUID } from 'node:crypto';
import { type DirectoryKind } from '@idsync/config';
import { ABSENT_HEADER, type AttributeValue, canonicalGuid, encodeEntryChange, encodeWriteRequest, entryKey, type EntryId, PIPE_HEADER, type WriteRequest } from '@idsync/contracts';
import { compilePipe, type CompiledPipe, isInSubtree, mapChange, normalizeDn, parseDn } from '@idsync/mapping';
import { normalizeEntryUuid } from '@idsync/ds-detector/core';
import { AttributeKnowledge, type CurrentEntry, currentEntry } from '@idsync/writer';
import { type Producer } from 'kafkajs';
import { type CliCommand } from '../command';
import { CommandContext, kafkaUnreachable } from '../context';
import { formatCount, formatDuration } from '../format';
import { CliError, type CliIo, EXIT_CODES, RefusedError, UsageError } from '../io';
import { integerOption, parseCommandArgs, GLOBAL_HELP } from '../options';
import { Progress } from '../progress';
import { displayValues } from '../core/display-values';
import { type Comparison, compareRequest, describeDifference, DestinationIndex, type SourceEntry, snapshotEvent } from '../core/resync-compare';
import { entryIdAttribute, objectClassFilter, resyncScope, ResyncScopeError, type ResyncScope } from '../core/resync-scope';
import { searchAtOnce, searchPages } from '../ldap-read';
import { ResyncStateStore } from './resync-state';

const HELP = `idsync resync: bring a pipe's destination in line with its source

usage: idsync resync --pipe NAME [--class NAME]... [--base-dn DN] [--filter LDAP-FILTER]
                     [--dry-run] [--delete-missing [--max-deletes N]] [--publish-all]
                     [--restart] [--state-dir DIR] [--page-size N] [--yes]

Reads the pipe's source in full (paged), maps every entry with the pipe's sync classes and attribute mappings, and
compares it with the destination, read in bulk, exactly as the writer would (find by DN, then by the correlation
lists; plan the minimal change). Entries that differ are published as snapshot events on the source's change
topic: the mapper and the writer bring the destination in line, as for any change. Nothing is written to the
directories by this command itself.

Options:
      --pipe NAME          the sync pipe (config.pipes[].name)
      --class NAME         only this sync class (repeatable; default: every class of the pipe)
      --base-dn DN         only entries under this source DN (default: the classes' includeBaseDns)
      --filter FILTER      only source entries matching this LDAP filter, e.g. '(department=Sales)'
      --dry-run            print the differences, per entry and attribute, and publish nothing
      --delete-missing     also delete destination entries (of the pipe's destination classes, under the pipe's
                           destination subtree) that no source entry maps to
      --max-deletes N      accidental-delete protection: refuse (exit 3) when more than N entries would be deleted
                           (default 10; nothing is deleted then)
      --destination-base DN  where the pipe's destination entries live, when the DN maps do not tell
      --publish-all        publish every entry, not only those that differ (a full snapshot for subscribers)
      --restart            forget an interrupted run of the same pipe and options, start over
      --state-dir DIR      where an interrupted run is remembered (default: $IDSYNC_STATE_DIR, else
                           $XDG_STATE_HOME/idsync or ~/.local/state/idsync)
      --page-size N        LDAP page size (default 1000)
      --unpaged-limit N    read a source of at most N entries in one plain search when the server allows it
                           (default 50000; Samba answers that several times faster than paged searches); 0: always page
      --yes                publish without asking, even when deletes are planned (needed without a terminal
                           when --delete-missing finds entries to delete)
${GLOBAL_HELP}

Interrupted (Ctrl-C, a lost connection)? Run the same command again: it resumes, skipping the entries whose events
Kafka already acknowledged. Re-publishing an entry is harmless: writers compare before they write.

Examples:
  idsync resync --pipe ad-to-ds --dry-run
  idsync resync --pipe ad-to-ds --class users --filter '(department=Sales)'
  idsync resync --pipe ds-to-ad --delete-missing --max-deletes 50 --yes
  idsync resync --pipe ad-to-ds --dry-run --json | jq '.differences[] | .dn'
`;

/** Events per produce request, and bytes: well under Kafka's default message.max.bytes (1 MB). */
const PUBLISH_BATCH = 500;
const PUBLISH_BATCH_BYTES = 512 * 1024;

/** Collects snapshot events and publishes them in bounded batches; `acknowledged` runs after Kafka acknowledged each. */
class SnapshotPublisher {
  private batch: { id: string; key: string; value: Buffer; headers: Record<string, string> }[] = [];
  private bytes = 0;
  private sent = 0;

  constructor(
    private readonly producer: Producer | null,
    private readonly topic: string,
    private readonly pipe: string,
    private readonly acknowledged: (entryIds: string[]) => void,
  ) {}

  get full(): boolean {
    return this.batch.length >= PUBLISH_BATCH || this.bytes >= PUBLISH_BATCH_BYTES;
  }

  /** `headers`: besides the pipe's; ABSENT_HEADER when the comparison found no destination entry. */
  add(id: string, key: string, value: Buffer, headers: Record<string, string>): void {
    this.batch.push({ id, key, value, headers });
    this.bytes += value.length;
  }

  async flush(): Promise<void> {
    if (!this.producer || this.batch.length === 0) return;
    const sending = this.batch;
    this.batch = [];
    this.bytes = 0;
    try {
      await this.producer.send({ topic: this.topic, acks: -1, messages: sending.map((m) => ({ key: m.key, value: m.value, headers: { ...m.headers, [PIPE_HEADER]: this.pipe } })) });
    } catch (error) {
      throw new CliError(`publishing to ${this.topic} failed after ${formatCount(this.sent)} events: ${error instanceof Error ? error.message : String(error)}`, {
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
  restart: { type: 'boolean', default: false },
  'state-dir': { type: 'string' },
  'page-size': { type: 'string' },
  'unpaged-limit': { type: 'string' },
  yes: { type: 'boolean', default: false },
} as const;

interface EntryReport {
  readonly dn: string;
  readonly sourceDn: string;
  readonly kind: Comparison['kind'];
  readonly foundBy: Comparison['foundBy'];
  readonly syncClass: string;
  readonly attributes: readonly { attribute: string; current: string[]; add: string[]; remove: string[]; replace: boolean }[];
  readonly problem?: string;
}

interface Summary {
  pipe: string;
  runId: string;
  dryRun: boolean;
  resumed: boolean;
  sourceEntries: number;
  outOfScope: number;
  compared: number;
  equal: number;
  create: number;
  update: number;
  errors: number;
  published: number;
  alreadyPublished: number;
  destinationEntries: number;
  deleteCandidates: number;
  deletesPublished: number;
  elapsedMs: number;
  comparedPerSecond: number;
  peakRssMb: number;
  /** How the source was read: in one plain search, or with the paged-results control (see --unpaged-limit). */
  sourceRead: 'at-once' | 'paged';
  /**
   * Where the time went, for people tuning a large run. sourceReadOrCount: the source read at once, or its count
   * before a paged read (whose pages are then in compareAndPublish).
   */
  phasesMs: { destinationRead: number; sourceReadOrCount: number; compareAndPublish: number };
}

export const resyncCommand: CliCommand = {
  name: 'resync',
  summary: 'compare a source with its destination and publish snapshot events to repair the differences',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('resync', argv, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`idsync resync: unexpected argument '${positionals[0]}'`, 'name the pipe with --pipe');
    if (!values.pipe) throw new UsageError('idsync resync: --pipe NAME is required', 'see idsync resync --help');
    const maxDeletes = integerOption('resync', 'max-deletes', values['max-deletes']) ?? 10;
    const pageSize = integerOption('resync', 'page-size', values['page-size'], 1) ?? 1_000;
    const unpagedLimit = integerOption('resync', 'unpaged-limit', values['unpaged-limit']) ?? 50_000;
    const context = CommandContext.load(io, values.config);
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
        restart: values.restart === true,
        stateDir: values['state-dir'] ?? ResyncStateStore.defaultDir(io.env),
        pageSize,
        unpagedLimit,
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
  readonly restart: boolean;
  readonly stateDir: string;
  readonly pageSize: number;
  readonly unpagedLimit: number;
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
  const operationsTopic = destination.kind === 'active-directory' ? config.kafka.topics.adOperations.name : config.kafka.topics.dsOperations.name;

  // Resume an interrupted run with the same options (dry runs remember nothing).
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([pipe.name, scope.sourceBases, scope.sourceFilter, scope.classes.map((c) => c.name), options.publishAll, options.deleteMissing]))
    .digest('hex')
    .slice(0, 16);
  const store = new ResyncStateStore(options.stateDir, pipe.name);
  const previous = options.dryRun || options.restart ? null : store.unfinished(fingerprint);
  const runId = previous?.state.runId ?? randomUUID();
  const alreadyPublished = previous?.done ?? new Set<string>();
  const startedAt = io.now();
  if (previous) io.err(`resuming run ${runId} of ${new Date(previous.state.startedAt).toISOString()}: ${formatCount(alreadyPublished.size)} entries already published\n`);

  // Fail fast on Kafka before the long read.
  let producer: Producer | null = null;
  if (!options.dryRun) {
    const admin = await context.admin();
    const topics = new Set(await admin.listTopics().catch((error: unknown) => Promise.reject(kafkaUnreachable(config, error))));
    for (const name of [topic, ...(options.deleteMissing ? [operationsTopic] : [])]) {
      if (!topics.has(name)) throw new CliError(`topic ${name} does not exist`, { hint: 'start the services once (they create their topics) or create it' });
    }
    producer = context.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 5 } });
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
    compared: 0,
    equal: 0,
    create: 0,
    update: 0,
    errors: 0,
    published: 0,
    alreadyPublished: 0,
    destinationEntries: 0,
    deleteCandidates: 0,
    deletesPublished: 0,
    elapsedMs: 0,
    comparedPerSecond: 0,
    peakRssMb: 0,
    sourceRead: 'paged',
    phasesMs: { destinationRead: 0, sourceReadOrCount: 0, compareAndPublish: 0 },
  };
  const reports: EntryReport[] = [];
  try {
    // The destination (for the comparison) and the number of source entries (for the progress bar), side by side.
    const timed = async <T>(work: Promise<T>, phase: 'destinationRead' | 'sourceReadOrCount'): Promise<T> => {
      const at = io.now();
      const result = await work;
      summary.phasesMs[phase] = io.now() - at;
      return result;
    };
    const sourceSearch = { scope: 'sub' as const, filter: scope.sourceFilter, attributes: [...scope.sourceAttributes], explicitBufferAttributes: knowledge.bufferAttributeNames() };
    // Both sides side by side. A source of at most --unpaged-limit entries in one search (see searchAtOnce), which
    // also gives the total for the progress bar; a larger one is counted first, then read and compared page by page.
    const [destinationEntries, sourceAtOnce] = await Promise.all([
      timed(readDestination(destinationSession.client, destination.baseDn, scope, knowledge, options.pageSize), 'destinationRead'),
      timed(scope.sourceBases.length === 1 ? searchAtOnce(sourceSession.client, scope.sourceBases[0] as string, sourceSearch, options.unpagedLimit) : Promise.resolve(null), 'sourceReadOrCount'),
    ]);
    const total = sourceAtOnce?.length ?? (await timed(countSource(sourceSession.client, scope, options.pageSize), 'sourceReadOrCount'));
    const compareStartedAt = io.now();
    summary.sourceRead = sourceAtOnce === null ? 'paged' : 'at-once';
    const index = new DestinationIndex(destinationEntries, pipe.correlation);
    summary.destinationEntries = index.size;
    if (!options.dryRun) store.begin({ runId, fingerprint, startedAt: previous?.state.startedAt ?? startedAt, finished: false });

    const progress = new Progress(io, { label: options.dryRun ? 'comparing' : 'resync', total, unit: 'entries' });
    const planOptions = { kind: destination.kind, attributes: knowledge };
    const snapshot = { system: source.kind, directory: pipe.source, server: sourceSession.url, runId, detectedAt: startedAt };
    const classNames = new Set(scope.classes.map((c) => c.name));
    let eventIndex = 0;
    const publisher = new SnapshotPublisher(producer, topic, pipe.name, (ids) => {
      store.recordPublished(runId, ids);
      summary.published += ids.length;
    });
    for (const base of scope.sourceBases) {
      const pages = sourceAtOnce !== null ? [sourceAtOnce] : searchPages(sourceSession.client, base, sourceSearch, { pageSize: options.pageSize, upTo: 0 });
      for await (const page of pages) {
        for (const raw of page) {
          summary.sourceEntries += 1;
          progress.advance();
          const entry = toSourceEntry(raw, source.kind);
          if (entry === null) {
            summary.outOfScope += 1;
            continue;
          }
          const event = snapshotEvent(entry, eventIndex++, snapshot);
          const result = mapChange(event, pipe);
          if (result.kind !== 'mapped' || !classNames.has(result.syncClass)) {
            summary.outOfScope += 1;
            continue;
          }
          let differs = false;
          let absent = result.requests.length > 0;
          for (const request of result.requests) {
            const comparison = compareRequest(request, index, planOptions);
            summary.compared += 1;
            summary[comparison.kind === 'error' ? 'errors' : comparison.kind] += 1;
            if (comparison.kind !== 'create') absent = false;
            if (comparison.kind !== 'equal') {
              differs = comparison.kind !== 'error';
              if (options.dryRun) reports.push(report(comparison, entry.dn, result.syncClass));
              else if (comparison.kind === 'error') io.err(`  ! ${comparison.dn}: ${comparison.problem ?? ''}\n`);
            }
          }
          if (!options.dryRun && (differs || options.publishAll)) {
            if (alreadyPublished.has(entry.entryId.value)) summary.alreadyPublished += 1;
            else {
              const value = encodeEntryChange(event);
              publisher.add(entry.entryId.value, entryKey(entry.entryId), value, absent ? { [ABSENT_HEADER]: runId } : {});
              if (publisher.full) await publisher.flush();
            }
          }
          if (interrupted.value) break;
        }
        await publisher.flush();
        if (interrupted.value) break;
      }
      if (interrupted.value) break;
    }
    progress.finish();
    summary.phasesMs.compareAndPublish = io.now() - compareStartedAt;
    summary.elapsedMs = io.now() - startedAt;
    summary.comparedPerSecond = Math.round((summary.sourceEntries * 1_000) / Math.max(1, io.now() - startedAt));
    summary.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    if (interrupted.value) {
      io.err(`interrupted after ${formatCount(progress.count)} of ${formatCount(total)} entries; ${formatCount(summary.published)} published in this run. Run the same command again to resume.\n`);
      return 130;
    }

    // Destination entries no source entry maps to: listed, and deleted only behind the flag and the threshold.
    const candidates = index
      .unclaimed()
      .filter((e) => destinationBases !== null && destinationBases.some((b) => isInSubtree(parseDn(e.dn), parseDn(b)) && normalizeDn(e.dn) !== normalizeDn(b)))
      .filter((e) => hasAnyClass(e, scope.destinationObjectClasses));
    summary.deleteCandidates = candidates.length;
    if (options.dryRun) {
      for (const e of candidates) reports.push({ dn: e.dn, sourceDn: '', kind: 'error', foundBy: 'dn', syncClass: '', attributes: [], problem: 'not at the source' });
    } else if (options.deleteMissing && candidates.length > 0) {
      if (candidates.length > options.maxDeletes) {
        throw new RefusedError(
          `${formatCount(candidates.length)} destination entries are not at the source, more than --max-deletes ${options.maxDeletes}: nothing was deleted (the ${formatCount(summary.published)} updates were published)`,
          `check the first ones: ${candidates.slice(0, 5).map((e) => e.dn).join('; ')}; if they must go, raise --max-deletes`,
        );
      }
      if (!options.yes) {
        const ok = io.confirm ? await io.confirm(`delete ${candidates.length} destination entries that are not at the source?`) : false;
        if (!ok) throw new RefusedError(`${candidates.length} deletes planned and not confirmed: nothing was deleted`, 'add --yes to delete them');
      }
      const deletes = candidates.map((e, i) => deleteRequest(e, i, pipe, runId, destination.kind, startedAt));
      // One key for the run's deletes: one partition, in order, children before their parents.
      await producer?.send({ topic: operationsTopic, acks: -1, messages: deletes.map((d) => ({ key: `resync:${runId}`, value: encodeWriteRequest(d) })) });
      summary.deletesPublished = deletes.length;
    }
    if (!options.dryRun) store.finish({ runId, fingerprint, startedAt, finished: false });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await producer?.disconnect().catch(() => undefined);
  }

  printSummary(io, summary, reports, options, candidatesNote(options, summary));
  return summary.errors > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
}

function candidatesNote(options: ResyncOptions, summary: Summary): string {
  if (summary.deleteCandidates === 0) return '';
  if (options.dryRun || !options.deleteMissing) return `${formatCount(summary.deleteCandidates)} destination entries are not at the source (deleted only with --delete-missing)`;
  return `${formatCount(summary.deletesPublished)} deletes published`;
}

async function countSource(client: import('ldapts').Client, scope: ResyncScope, pageSize: number): Promise<number> {
  let total = 0;
  for (const base of scope.sourceBases) {
    for await (const page of searchPages(client, base, { scope: 'sub', filter: scope.sourceFilter, attributes: ['1.1'] }, { pageSize, upTo: 1_000_000 })) total += page.length;
  }
  return total;
}

/** The destination entries of the pipe's classes, with the attributes the comparison reads (entry id included). */
async function readDestination(client: import('ldapts').Client, baseDn: string, scope: ResyncScope, knowledge: AttributeKnowledge, pageSize: number): Promise<CurrentEntry[]> {
  const filter = objectClassFilter(scope.destinationObjectClasses);
  const out: CurrentEntry[] = [];
  const options = { scope: 'sub' as const, filter, attributes: [...scope.destinationAttributes], explicitBufferAttributes: knowledge.bufferAttributeNames() };
  // Kept in memory whole (the comparison's index): one plain search when the server allows it.
  for await (const page of searchPages(client, baseDn, options, { pageSize, upTo: 10_000_000 })) {
    for (const entry of page) out.push(currentEntry(entry));
  }
  return out;
}

/** An ldapts entry as the comparison sees it; null when it has no stable id (nothing to key its events by). */
function toSourceEntry(raw: { dn: string; [name: string]: unknown }, kind: DirectoryKind): SourceEntry | null {
  const attributes = new Map<string, { name: string; values: AttributeValue[] }>();
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'dn') continue;
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is AttributeValue => typeof v === 'string' || Buffer.isBuffer(v));
    if (values.length > 0) attributes.set(name.toLowerCase(), { name, values });
  }
  const entryId = idOf(attributes, kind);
  if (entryId === null) return null;
  const objectClasses = (attributes.get('objectclass')?.values ?? []).map((v) => v.toString());
  return { dn: raw.dn, entryId, objectClasses, attributes };
}

function idOf(attributes: ReadonlyMap<string, { values: readonly AttributeValue[] }>, kind: DirectoryKind): EntryId | null {
  const value = attributes.get(entryIdAttribute(kind).toLowerCase())?.values[0];
  if (value === undefined) return null;
  try {
    if (kind === 'active-directory') return Buffer.isBuffer(value) ? { kind: 'objectGUID', value: canonicalGuid(value) } : null;
    return { kind: 'entryUUID', value: normalizeEntryUuid(value.toString()) };
  } catch {
    return null;
  }
}

function hasAnyClass(entry: CurrentEntry, classes: readonly string[]): boolean {
  if (classes.length === 0) return true;
  const have = new Set((entry.attributes.get('objectclass')?.values ?? []).map((v) => v.toString().toLowerCase()));
  return classes.some((c) => have.has(c.toLowerCase()));
}

function deleteRequest(entry: CurrentEntry, index: number, pipe: CompiledPipe, runId: string, kind: DirectoryKind, now: number): WriteRequest {
  const id = idOf(entry.attributes, kind) ?? { kind: kind === 'active-directory' ? 'objectGUID' : 'entryUUID', value: normalizeDn(entry.dn) };
  return {
    requestId: `resync:${runId}/${pipe.name}/delete/${index}`,
    pipe: pipe.name,
    sourceEventId: `resync:${runId}`,
    sourceEntryId: id,
    op: 'delete',
    dn: entry.dn,
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

function printSummary(io: CliIo, summary: Summary, reports: readonly EntryReport[], options: ResyncOptions, note: string): void {
  if (options.json) {
    io.out(`${JSON.stringify({ ...summary, ...(options.dryRun ? { differences: reports } : {}) }, null, 2)}\n`);
    return;
  }
  if (options.dryRun) {
    for (const r of reports) {
      if (r.problem === 'not at the source') {
        io.out(`- ${r.dn}  (not at the source${options.deleteMissing ? '' : '; deleted only with --delete-missing'})\n`);
        continue;
      }
      const mark = r.kind === 'create' ? '+' : r.kind === 'update' ? '~' : '!';
      io.out(`${mark} ${r.kind} ${r.dn}  [${r.syncClass}${r.kind === 'update' ? `, found by ${r.foundBy}` : ''}]\n`);
      if (r.problem) io.out(`    ${r.problem}\n`);
      for (const a of r.attributes) {
        io.out(`    ${describeDifference({ attribute: a.attribute, current: a.current, add: a.add, remove: a.remove, replace: a.replace }, () => false)}\n`);
      }
    }
  }
  const lines = [
    `${options.dryRun ? 'dry run' : 'resync'} of pipe ${summary.pipe}${summary.resumed ? ` (resumed run ${summary.runId})` : ''}: ${formatCount(summary.sourceEntries)} source entries read, ${formatCount(summary.compared)} compared in ${formatDuration(summary.elapsedMs)} (${formatCount(summary.comparedPerSecond)}/s)`,
    `  equal ${formatCount(summary.equal)}, to create ${formatCount(summary.create)}, to update ${formatCount(summary.update)}, errors ${formatCount(summary.errors)}, out of scope ${formatCount(summary.outOfScope)}`,
  ];
  if (!options.dryRun) {
    lines.push(`  published ${formatCount(summary.published)} snapshot events${summary.alreadyPublished > 0 ? ` (${formatCount(summary.alreadyPublished)} already published by the interrupted run)` : ''}: the mapper and the ${summary.pipe} writer apply them`);
  }
  if (note) lines.push(`  ${note}`);
  io.out(`${lines.join('\n')}\n`);
}
