import { CONSUMER_SERVICES, type ConsumerService, type DirectoryKind, serviceGroupId } from '@idsync/config';
import { decodeDeadLetter } from '@idsync/contracts';
import { ChangePublisher, fetchStoredCheckpoint, type KafkaAdmin, readRootDse, type StoredCheckpoint } from '@idsync/platform';
import { readDcIdentity } from '@idsync/detector/ad';
import { PipeControls } from '@idsync/mapping';
import { type CliCommand } from '../command';
import { readPipeControls } from '../pipe-controls';
import { CommandContext } from '../context';
import { type RangeRecord, readRanges } from '@idsync/platform';
import {
  changelogLag,
  type CommittedPartition,
  decodeDirSyncCookie,
  DEFAULT_COUNT_LIMIT,
  type DeadLetterSample,
  type DeadLetterSummary,
  describeLagNote,
  type LagNote,
  type OffsetRange,
  type PartitionOffsets,
  rangeKey,
  rangesToCount,
  summarizeDeadLetters,
  tailRanges,
  topicLag,
  type TopicLag,
  usnLag,
} from '../core/lag';
import { serviceTopics } from '../core/replay-plan';
import { formatAge, formatCount, table } from '../format';
import { CliError, type CliIo, EXIT_CODES, UsageError } from '../io';
import { GLOBAL_HELP, integerOption, parseCommandArgs } from '../options';

const DETECTOR_OF: Record<DirectoryKind, 'ad-detector' | 'ds-detector'> = { 'active-directory': 'ad-detector', ldap: 'ds-detector' };
/** Newest records of the checkpoints topic searched for a detector's last checkpoint record (then 16 times more). */
const CHECKPOINT_TAIL = 500;

export const STATUS_HELP = `idsync status: where every stage of the sync stands

usage: idsync status [--json] [--max-count N]

Reads, without changing anything:
  - per pipe: its source directory, the detector reading it (ad-detector for an Active Directory source,
    ds-detector for an LDAP directory), the detector's committed position and how far it is behind the source:
      ds-detector: change number vs the server's lastChangeNumber (root DSE): lag in changes;
      ad-detector: the USN of the committed DirSync cookie vs the DC's highestCommittedUSN: "USN behind" (every
      committed change of the DC counts, not only those the detector publishes; a quiet detector commits its
      cookie only every few minutes, so a small gap can remain when nothing is pending);
    and how old the checkpoint is (the newest checkpoint record on the checkpoints topic);
  - consumer lag of the mapper (AD and directory change topics), the ad-writer and the ds-writer: records not yet
    processed, per topic. Records are counted (read_committed): the detectors write in transactions, whose commit
    markers take offsets, so "high watermark - committed offset" overstates the lag. Gaps of more than --max-count
    offsets are not counted and are shown as an approximate upper bound (~). A group that never committed is
    counted from the log start, where the service will begin, and flagged;
  - dead letters: how many per stage, and the newest one's stage, reason and time.

A directory that cannot be reached is reported in its row ("unreachable: ..."), the rest is still shown, and the
exit status is 1. Kafka unreachable: exit 1 with a message naming the brokers.

Options:
      --max-count N   largest offset gap counted record by record (default ${DEFAULT_COUNT_LIMIT})
${GLOBAL_HELP}

--json prints one object:
  {
    "generatedAt": ISO time,
    "pipes": [{ "name", "source", "destination", "paused": { "since" (ISO), "by", "reason" } | null, "detector": {
        "service": "ad-detector"|"ds-detector"|null, "checkpointGroup",
        "position": { "kind": "change-number", "changeNumber" }
                  | { "kind": "dirsync", "usn", "issuedAt", "dc" } | { "kind": "unreadable", "error" } | null,
        "source": { "reachable": true, "lastChangeNumber", "firstChangeNumber" }
                | { "reachable": true, "highestCommittedUsn", "dc" } | { "reachable": false, "error" },
        "lag": { "value", "unit": "changes"|"usn" } | null, "problem": text|null,
        "checkpointAt": ISO|null, "checkpointAgeMs": number|null } }],
    "consumers": [{ "service", "groupId", "state", "members", "lag", "exact", "topics": [{
        "topic", "lag", "offsetGap", "exact", "neverCommitted",
        "partitions": [{ "partition", "committed", "low", "high", "offsetGap", "lag", "exact", "note" }] }] }],
    "deadLetters": { "topic", "total", "byStage": { stage: count }, "exact",
        "last": { "stage", "reason", "failedAt" (ISO), "topic", "partition", "offset" } | null },
    "unreachable": [directory names]
  }
  "lag" counts records; "exact": false means an upper bound (not counted).

Examples:
  idsync status
  idsync status --json | jq '.consumers[] | {service, lag}'
  IDSYNC_CONFIG=/etc/idsync/config.yaml idsync status --max-count 100000
`;

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'detector positions and lag, consumer lag, dead letters',
  help: STATUS_HELP,
  run: runStatus,
};

// ---------------------------------------------------------------------------------------------------------------
// The report

export type DetectorPosition =
  | { readonly kind: 'change-number'; readonly changeNumber: number; readonly server: string }
  | { readonly kind: 'dirsync'; readonly usn: string; readonly issuedAt: string; readonly dc: string }
  | { readonly kind: 'unreadable'; readonly error: string };

export type SourceState =
  | { readonly reachable: true; readonly lastChangeNumber: number; readonly firstChangeNumber: number }
  | { readonly reachable: true; readonly highestCommittedUsn: string; readonly dc: string }
  | { readonly reachable: false; readonly error: string };

export interface DetectorReport {
  readonly service: 'ad-detector' | 'ds-detector' | null;
  readonly checkpointGroup: string | null;
  readonly position: DetectorPosition | null;
  readonly source: SourceState | null;
  readonly lag: { readonly value: number; readonly unit: 'changes' | 'usn' } | null;
  readonly problem: string | null;
  readonly checkpointAt: string | null;
  readonly checkpointAgeMs: number | null;
}

export interface PipeReport {
  readonly name: string;
  readonly source: string;
  readonly destination: string;
  readonly detector: DetectorReport;
  /** Paused with idsync pipe pause (the mapper holds its input); null: it runs. */
  readonly paused: { readonly since: string; readonly by: string; readonly reason: string | null } | null;
}

export interface ConsumerReport {
  readonly service: ConsumerService;
  readonly groupId: string;
  readonly state: string;
  readonly members: number;
  readonly lag: number;
  readonly exact: boolean;
  readonly topics: readonly TopicLag[];
  /** Topics the stage reads that do not exist yet. */
  readonly missingTopics: readonly string[];
}

export interface StatusReport {
  readonly generatedAt: string;
  readonly pipes: readonly PipeReport[];
  readonly consumers: readonly ConsumerReport[];
  readonly deadLetters:
    | (Omit<DeadLetterSummary, 'last'> & { readonly topic: string; readonly last: (Omit<DeadLetterSample, 'failedAt'> & { readonly failedAt: string }) | null })
    | { readonly topic: string; readonly missing: true };
  readonly unreachable: readonly string[];
}

async function runStatus(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('status', argv, { 'max-count': { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`takes no arguments (got ${positionals.join(' ')})`, 'see idsync status --help');
  const countLimit = integerOption('status', 'max-count', values['max-count'], 0) ?? DEFAULT_COUNT_LIMIT;
  const ctx = await CommandContext.open(io, values.config);
  try {
    const report = await collectStatus(ctx, { countLimit });
    io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report, io.now()));
    if (report.unreachable.length > 0) {
      throw new CliError(`directory ${report.unreachable.map((d) => `'${d}'`).join(', ')} unreachable: its detector's lag is unknown (the rest is shown above)`, {
        retriable: true,
        hint: `check ${report.unreachable.map((d) => ctx.config.directories[d]?.urls.join(', ') ?? d).join('; ')}`,
      });
    }
    return EXIT_CODES.ok;
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Partitions of a topic with their log start and end; null when the topic does not exist. */
async function topicOffsets(admin: KafkaAdmin, existing: ReadonlySet<string>, topic: string): Promise<PartitionOffsets[] | null> {
  if (!existing.has(topic)) return null;
  return admin.topicOffsets(topic);
}

/** Committed offsets of a group on a topic's partitions (null: none committed). */
async function committedOffsets(admin: KafkaAdmin, groupId: string, topic: string, partitions: readonly PartitionOffsets[]): Promise<CommittedPartition[]> {
  const [fetched] = await admin.committedOffsets(groupId, [topic]);
  const byPartition = new Map((fetched?.partitions ?? []).map((p) => [p.partition, p.offset]));
  return partitions.map((p) => ({ ...p, committed: byPartition.get(p.partition) ?? null }));
}

interface DirectoryState {
  readonly name: string;
  readonly kind: DirectoryKind;
  readonly detector: 'ad-detector' | 'ds-detector';
  /** The detector's block reads this directory (else no detector publishes its changes). */
  readonly configured: boolean;
  readonly publisher: ChangePublisher;
  checkpoint: StoredCheckpoint | null;
  checkpointError: string | null;
  source: SourceState | null;
  checkpointAt: number | null;
}

async function readSource(ctx: CommandContext, dir: DirectoryState): Promise<SourceState> {
  try {
    const session = await ctx.ldap(dir.name);
    if (dir.kind === 'ldap') {
      const dse = await readRootDse(session.client, ['changelog', 'firstChangeNumber', 'lastChangeNumber']);
      if (!dse['changelog']?.[0]) return { reachable: false, error: `no changelog in the root DSE of ${session.url} (retro changelog disabled, or the configured account may not read it)` };
      return { reachable: true, firstChangeNumber: Number(dse['firstchangenumber']?.[0] ?? '0'), lastChangeNumber: Number(dse['lastchangenumber']?.[0] ?? '0') };
    }
    const dse = await readRootDse(session.client, ['highestCommittedUSN']);
    const usn = dse['highestcommittedusn']?.[0];
    if (usn === undefined) return { reachable: false, error: `${session.url} has no highestCommittedUSN in its root DSE: not an Active Directory DC` };
    const dc = await readDcIdentity(session.client);
    return { reachable: true, highestCommittedUsn: usn, dc: dc.format() };
  } catch (error) {
    return { reachable: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function detectorReport(dir: DirectoryState | undefined, now: number): DetectorReport {
  const report = (position: DetectorPosition | null, lag: DetectorReport['lag'], problem: string | null): DetectorReport => ({
    service: dir?.detector ?? null,
    checkpointGroup: dir?.publisher.checkpointGroup ?? null,
    position,
    source: dir?.source ?? null,
    lag,
    problem,
    checkpointAt: dir?.checkpointAt == null ? null : new Date(dir.checkpointAt).toISOString(),
    checkpointAgeMs: dir?.checkpointAt == null ? null : Math.max(0, now - dir.checkpointAt),
  });
  if (!dir) return report(null, null, 'unknown source directory');
  const notConfigured = dir.configured ? null : `services.${dir.detector}.source is not '${dir.name}': no detector publishes this directory's changes`;
  if (dir.checkpointError !== null) return report({ kind: 'unreadable', error: dir.checkpointError }, null, dir.checkpointError);
  if (dir.checkpoint === null) return report(null, null, notConfigured ?? "no checkpoint yet: the detector has not started (it begins at the source's current end)");
  const source = dir.source;
  if (dir.kind === 'ldap') {
    const changeNumber = Number(dir.checkpoint.position);
    if (!/^\d+$/.test(dir.checkpoint.position) || !Number.isSafeInteger(changeNumber)) {
      const error = `change number '${dir.checkpoint.position.slice(0, 40)}' is not a number`;
      return report({ kind: 'unreadable', error }, null, error);
    }
    const position: DetectorPosition = { kind: 'change-number', changeNumber, server: dir.checkpoint.server };
    if (source === null || !source.reachable || !('lastChangeNumber' in source)) return report(position, null, notConfigured);
    const { lag, problem } = changelogLag(changeNumber, { first: source.firstChangeNumber, last: source.lastChangeNumber });
    return report(position, { value: lag, unit: 'changes' }, problem ?? notConfigured);
  }
  let cookie;
  try {
    cookie = decodeDirSyncCookie(Buffer.from(dir.checkpoint.position, 'base64'));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return report({ kind: 'unreadable', error: message }, null, `${message}: the USN lag is unknown; the checkpoint's age says how long the detector has not moved`);
  }
  const position: DetectorPosition = { kind: 'dirsync', usn: cookie.highestUsn.toString(), issuedAt: new Date(cookie.issuedAt).toISOString(), dc: dir.checkpoint.server };
  if (source === null || !source.reachable || !('highestCommittedUsn' in source)) return report(position, null, notConfigured);
  const invocationId = /invocationId=([0-9a-f-]{36})/i.exec(source.dc)?.[1] ?? '';
  const { usnBehind, problem } = usnLag(cookie, { invocationId, highestCommittedUsn: BigInt(source.highestCommittedUsn) });
  return report(position, problem === null ? { value: usnBehind, unit: 'usn' } : null, problem ?? notConfigured);
}

export async function collectStatus(ctx: CommandContext, options: { readonly countLimit: number }): Promise<StatusReport> {
  const { config } = ctx;
  const admin = await ctx.admin();
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } catch (error) {
    throw new CliError(`cannot list Kafka topics at ${config.kafka.brokers.join(', ')}: ${error instanceof Error ? error.message : String(error)}`, { retriable: true, cause: error });
  }
  const topics = config.kafka.topics;

  // Detectors: one per distinct source directory of the pipes.
  const directories = new Map<string, DirectoryState>();
  for (const pipe of config.pipes) {
    const dir = config.directories[pipe.source];
    if (!dir || directories.has(pipe.source)) continue;
    const detector = DETECTOR_OF[dir.kind];
    const eventsTopic = detector === 'ad-detector' ? topics.adChanges.name : topics.dsChanges.name;
    directories.set(pipe.source, {
      name: pipe.source,
      kind: dir.kind,
      detector,
      configured: config.services[detector].source === pipe.source,
      publisher: new ChangePublisher(ctx.kafka, { detector, source: pipe.source, eventsTopic, checkpointTopic: topics.checkpoints.name }),
      checkpoint: null,
      checkpointError: null,
      source: null,
      checkpointAt: null,
    });
  }
  const sources = Promise.all(
    [...directories.values()].map(async (dir) => {
      dir.source = await readSource(ctx, dir);
    }),
  );
  for (const dir of directories.values()) {
    try {
      dir.checkpoint = existing.has(topics.checkpoints.name) ? await fetchStoredCheckpoint(admin, dir.publisher.checkpointGroup, topics.checkpoints.name) : null;
    } catch (error) {
      dir.checkpointError = error instanceof Error ? error.message : String(error);
    }
  }

  const controls = existing.has(topics.checkpoints.name) ? await readPipeControls(ctx) : new PipeControls();

  // Consumer groups: committed offsets and the ranges to count.
  const ranges: OffsetRange[] = [];
  const groups: { service: ConsumerService; groupId: string; state: string; members: number; topics: { topic: string; partitions: CommittedPartition[] }[]; missing: string[] }[] = [];
  const groupIds = CONSUMER_SERVICES.map((service) => serviceGroupId(config, service));
  const described = await admin.describeGroups(groupIds);
  for (const service of CONSUMER_SERVICES) {
    const groupId = serviceGroupId(config, service);
    const description = described.find((g) => g.groupId === groupId);
    const entry = {
      service,
      groupId,
      state: description?.state ?? 'Unknown',
      members: description?.members.length ?? 0,
      topics: [] as { topic: string; partitions: CommittedPartition[] }[],
      missing: [] as string[],
    };
    for (const topic of serviceTopics(config, service)) {
      const partitions = await topicOffsets(admin, existing, topic);
      if (partitions === null) {
        entry.missing.push(topic);
        continue;
      }
      const committed = await committedOffsets(admin, groupId, topic, partitions);
      entry.topics.push({ topic, partitions: committed });
      ranges.push(...rangesToCount(topic, committed, options.countLimit));
    }
    groups.push(entry);
  }

  // Dead letters: the whole topic when small, else the newest records of each partition.
  const deadLetterTopic = topics.deadLetter.name;
  const deadLetterOffsets = await topicOffsets(admin, existing, deadLetterTopic);
  const deadLetterTotal = (deadLetterOffsets ?? []).reduce((sum, p) => sum + (p.high - p.low), 0);
  const deadLetterExact = deadLetterTotal <= options.countLimit;
  const perPartition = deadLetterExact ? Number.MAX_SAFE_INTEGER : Math.max(1, Math.floor(options.countLimit / Math.max(1, deadLetterOffsets?.length ?? 1)));
  const deadLetterRanges = tailRanges(deadLetterTopic, deadLetterOffsets ?? [], perPartition);
  const letters: DeadLetterSample[] = [];

  // Checkpoint ages: the newest record with each detector's key on the checkpoints topic.
  const checkpointOffsets = await topicOffsets(admin, existing, topics.checkpoints.name);
  const keys = new Map([...directories.values()].map((dir) => [dir.publisher.checkpointKey, dir]));
  const checkpointTimes = new Map<string, number>();
  const onRecord = (record: RangeRecord): void => {
    if (record.topic === deadLetterTopic) {
      try {
        const letter = decodeDeadLetter(record.value);
        letters.push({ stage: letter.stage, reason: letter.reason, failedAt: letter.failedAt, topic: letter.topic, partition: letter.partition, offset: letter.offset });
      } catch (error) {
        letters.push({
          stage: '(undecodable)',
          reason: error instanceof Error ? error.message : String(error),
          failedAt: record.timestamp,
          topic: record.topic,
          partition: record.partition,
          offset: String(record.offset),
        });
      }
    } else if (record.topic === topics.checkpoints.name && record.key !== null) {
      const key = record.key.toString('utf8');
      if (keys.has(key) && record.timestamp > (checkpointTimes.get(key) ?? 0)) checkpointTimes.set(key, record.timestamp);
    }
  };
  const checkpointRanges = tailRanges(topics.checkpoints.name, checkpointOffsets ?? [], CHECKPOINT_TAIL);
  const counted = await readRanges(ctx.kafka, admin, config.kafka.clientId, [...ranges, ...deadLetterRanges, ...checkpointRanges], { onRecord });
  // A detector idle for long may have its last checkpoint record further back: look once more, deeper.
  const unseen = [...directories.values()].some((dir) => dir.checkpoint !== null && !checkpointTimes.has(dir.publisher.checkpointKey));
  if (unseen) {
    const deeper = checkpointRanges
      .map((r) => ({ ...r, from: Math.max(checkpointOffsets?.find((p) => p.partition === r.partition)?.low ?? 0, r.from - CHECKPOINT_TAIL * 16), to: r.from }))
      .filter((r) => r.to > r.from);
    if (deeper.length > 0) await readRanges(ctx.kafka, admin, config.kafka.clientId, deeper, { onRecord });
  }
  for (const dir of directories.values()) dir.checkpointAt = checkpointTimes.get(dir.publisher.checkpointKey) ?? null;

  const counts = new Map<string, number>();
  for (const range of ranges) {
    const result = counted.get(range);
    if (result?.complete) counts.set(rangeKey(range.topic, range.partition), result.records);
  }
  await sources;

  const now = ctx.io.now();
  const consumers: ConsumerReport[] = groups.map((g) => {
    const lags = g.topics.map((t) => topicLag(t.topic, t.partitions, counts));
    return {
      service: g.service,
      groupId: g.groupId,
      state: g.state,
      members: g.members,
      lag: lags.reduce((sum, t) => sum + t.lag, 0),
      exact: lags.every((t) => t.exact),
      topics: lags,
      missingTopics: g.missing,
    };
  });
  const deadLetterReads = deadLetterRanges.every((r) => counted.get(r)?.complete !== false);
  const summary = summarizeDeadLetters(letters, deadLetterTotal, deadLetterExact && deadLetterReads);
  return {
    generatedAt: new Date(now).toISOString(),
    pipes: config.pipes.map((pipe) => {
      const control = controls.of(pipe.name);
      const paused = control?.state === 'paused' ? { since: new Date(control.at).toISOString(), by: control.by, reason: control.reason ?? null } : null;
      return { name: pipe.name, source: pipe.source, destination: pipe.destination, detector: detectorReport(directories.get(pipe.source), now), paused };
    }),
    consumers,
    deadLetters:
      deadLetterOffsets === null
        ? { topic: deadLetterTopic, missing: true }
        : { topic: deadLetterTopic, ...summary, last: summary.last === null ? null : { ...summary.last, failedAt: new Date(summary.last.failedAt).toISOString() } },
    unreachable: [...directories.values()].filter((d) => d.source !== null && !d.source.reachable).map((d) => d.name),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

function positionText(position: DetectorPosition | null): string {
  if (position === null) return 'none yet';
  switch (position.kind) {
    case 'change-number':
      return `change ${position.changeNumber}`;
    case 'dirsync':
      return `USN ${position.usn}`;
    case 'unreadable':
      return 'unreadable';
  }
}

function sourceText(source: SourceState | null): string {
  if (source === null) return '-';
  if (!source.reachable) return `unreachable: ${source.error}`;
  if ('lastChangeNumber' in source) return `change ${source.lastChangeNumber}`;
  return `USN ${source.highestCommittedUsn}`;
}

function lagText(detector: DetectorReport): string {
  if (detector.lag === null) return '?';
  return detector.lag.unit === 'changes' ? `${formatCount(detector.lag.value)} changes` : `${formatCount(detector.lag.value)} USN behind`;
}

/** One line per kind of note, naming the partitions unless it is all of them. */
function topicNotes(topic: TopicLag): string {
  const byNote = new Map<LagNote, number[]>();
  for (const p of topic.partitions) if (p.note !== null) byNote.set(p.note, [...(byNote.get(p.note) ?? []), p.partition]);
  return [...byNote].map(([note, partitions]) => (partitions.length === topic.partitions.length ? describeLagNote(note) : `partition ${partitions.join(', ')}: ${describeLagNote(note)}`)).join('; ');
}

function countText(value: number, exact: boolean): string {
  return exact ? formatCount(value) : `~${formatCount(value)}`;
}

export function renderStatus(report: StatusReport, now: number): string {
  const out: string[] = [];
  out.push('Pipes and detectors\n');
  if (report.pipes.length === 0) out.push('(no pipes in the configuration)\n');
  else {
    out.push(
      table(report.pipes, [
        { header: 'PIPE', value: (p) => p.name },
        { header: 'STATE', value: (p) => (p.paused === null ? 'running' : `paused ${formatAge(Date.parse(p.paused.since), now)} by ${p.paused.by}`) },
        { header: 'SOURCE', value: (p) => `${p.source} -> ${p.destination}` },
        { header: 'DETECTOR', value: (p) => p.detector.service },
        { header: 'POSITION', value: (p) => positionText(p.detector.position) },
        { header: 'SOURCE END', value: (p) => sourceText(p.detector.source) },
        { header: 'LAG', value: (p) => lagText(p.detector), align: 'right' },
        {
          header: 'CHECKPOINT',
          value: (p) => (p.detector.checkpointAt === null ? (p.detector.position === null ? '-' : 'older than the records read') : formatAge(Date.parse(p.detector.checkpointAt), now)),
        },
      ]),
    );
    const problems = report.pipes.filter((p) => p.detector.problem !== null);
    for (const p of problems) out.push(`  ${p.name}: ${p.detector.problem}\n`);
  }

  out.push('\nConsumer lag (records not yet processed)\n');
  const rows = report.consumers.flatMap((c) =>
    c.topics.length === 0 && c.missingTopics.length === 0
      ? [{ c, topic: '-', lag: '-', gap: '-', note: '' }]
      : [
          ...c.topics.map((t) => ({
            c,
            topic: t.topic,
            lag: countText(t.lag, t.exact),
            gap: formatCount(t.offsetGap),
            note: topicNotes(t),
          })),
          ...c.missingTopics.map((topic) => ({ c, topic, lag: '-', gap: '-', note: 'topic does not exist yet (created when the services start)' })),
        ],
  );
  out.push(
    table(rows, [
      { header: 'SERVICE', value: (r) => r.c.service },
      { header: 'GROUP', value: (r) => r.c.groupId },
      { header: 'STATE', value: (r) => `${r.c.state}${r.c.members > 0 ? ` (${r.c.members})` : ''}` },
      { header: 'TOPIC', value: (r) => r.topic },
      { header: 'LAG', value: (r) => r.lag, align: 'right' },
      { header: 'OFFSET GAP', value: (r) => r.gap, align: 'right' },
      { header: 'NOTE', value: (r) => r.note },
    ]),
  );
  if (report.consumers.some((c) => !c.exact)) out.push('  ~ : not counted (gap above --max-count, or the records could not be read in time): offset difference, an upper bound\n');

  const dl = report.deadLetters;
  out.push(`\nDead letters (${dl.topic})\n`);
  if ('missing' in dl) out.push('  the topic does not exist yet\n');
  else if (dl.total === 0) out.push('  none\n');
  else {
    const stages = Object.entries(dl.byStage).sort(([a], [b]) => a.localeCompare(b));
    out.push(
      table(stages, [
        { header: 'STAGE', value: ([stage]) => stage },
        { header: dl.exact ? 'COUNT' : 'COUNT (newest read)', value: ([, n]) => n },
      ]),
    );
    out.push(`  total ${formatCount(dl.total)}${dl.exact ? '' : ' (too many to read whole: per-stage counts are of the newest records)'}\n`);
    if (dl.last !== null) {
      out.push(`  last error: ${dl.last.stage}, ${formatAge(Date.parse(dl.last.failedAt), now)} (${dl.last.failedAt}), ${dl.last.topic}[${dl.last.partition}]@${dl.last.offset}\n`);
      out.push(`    ${dl.last.reason}\n`);
    }
  }
  return out.join('');
}
