import { CONSUMER_SERVICES, serviceGroupId } from '@idsync/config';
import { type CliCommand } from '../command';
import { CommandContext } from '../context';
import { DEFAULT_COUNT_LIMIT, type OffsetRange } from '../core/lag';
import {
  affectedRange,
  CHECKPOINT_GROUP_PREFIX,
  describeTarget,
  planReplay,
  type RangeCount,
  ReplayPlanError,
  type ReplayGroup,
  type ReplayPartitionInput,
  type ReplayRow,
  type ReplayTarget,
  resolveReplayGroup,
  selectPartitions,
  summarizePlan,
} from '../core/replay-plan';
import { formatCount, table } from '../format';
import { CliError, type CliIo, EXIT_CODES, RefusedError, UsageError } from '../io';
import { GLOBAL_HELP, integerOption, parseCommandArgs, timeOption } from '../options';
import { type KafkaAdmin, readRanges } from '@idsync/platform';

export const REPLAY_HELP = `idsync replay: move a stage's consumer group back (replay) or forward (skip)

usage: idsync replay <mapper|ad-writer|ds-writer|GROUP-ID> (--to-time T | --to-offset N | --to-beginning | --to-end)
                     [--topic NAME] [--partition P] [--yes] [--json]

Sets the committed offsets of the group of a stage (<kafka.clientId>-<stage>: the mapper on the AD and directory
change topics, the ad-writer on the AD operations topic, the ds-writer on the directory operations topic), or of any
consumer group given by id. The stage then processes again the records after the new offsets (a rewind), or never
processes the records it jumps over (a forward).

First the plan: per topic and partition the committed offset, the target offset, how many records will be processed
again (or skipped) -- records counted, transaction markers excluded -- and the time range they cover. The offsets are
changed only with --yes (or a "y" at the prompt on a terminal); otherwise nothing is changed and the exit status is 3.

The group must have no running member: Kafka only lets an empty group's offsets be set, and a running stage would
overwrite them at its next commit. Stop the stage first, e.g.
  kubectl scale deployment/idsync-ds-writer --replicas=0
replay, then start it again (kubectl scale deployment/idsync-ds-writer --replicas=1). A running group: exit 3.

Why a replay is safe:
  - the writers look the destination entry up (by DN, then by the pipe's correlation attributes) and compare
    before writing: they send only the difference, and nothing when the entry already matches, so a request
    applied before ends as a no-op (or "already applied" when the server says the change is there);
  - records are keyed by the source entry's identity, so one entry's requests are replayed in their order and
    the entry ends as the newest request says;
  - the mapper is deterministic: replaying its input produces the same requests (same request ids) again.
  - each entry's replayed requests are coalesced within a fetched batch: everything before the entry's delete
    is skipped (a deleted account is not re-created for a moment), consecutive modifies merge (a member removed
    since is not re-added), and a replayed create of an entry renamed since leaves its naming attribute alone.
  What a rewind over a long history can still show: intermediate states of one entry whose requests fall into
  different fetches (about 1 MB per partition each) come back for a moment, until the replay has caught up.
  Stop the writer, replay, start it, and check "idsync status" until its lag is 0.
  Skipping (--to-end, a forward offset) loses changes: run a resync of the pipe afterwards if the destination
  must match.

Target (one of):
      --to-time T       the first record at or after T: ISO 8601 (2026-11-25T10:00:00Z), epoch ms, or ago (90s, 15m, 2h, 7d)
      --to-offset N     offset N (kept inside the log: before its start means the start)
      --to-beginning    the oldest record still kept
      --to-end          the log end: skip everything not yet processed
Options:
      --topic NAME      only this topic of the group
      --partition P     only this partition (with --topic when the group reads several topics)
      --yes             apply without asking
      --max-count N     largest offset range counted record by record (default ${DEFAULT_COUNT_LIMIT}); larger ones are shown as ~offsets
${GLOBAL_HELP}

--json prints { "groupId", "service", "target", "applied", "summary": { "replay", "skip", "exact", "changed",
"firstTimestamp", "lastTimestamp" }, "partitions": [{ "topic", "partition", "committed", "from", "target",
"direction": "replay"|"skip"|"unchanged", "offsets", "records", "exact", "firstTimestamp", "lastTimestamp", "adjusted" }] }.

Exit status: 0 applied (or nothing to change), 1 Kafka failed, 2 unknown stage, group, topic or partition (the valid
ones are listed), 3 refused: group running, or not confirmed (nothing changed).

Examples:
  idsync replay ds-writer --to-time 2h                         # plan only: what two hours of replay means
  idsync replay ds-writer --to-time 2026-11-25T10:00:00Z --yes
  idsync replay mapper --to-beginning --topic idsync.ds.changes --yes
  idsync replay ad-writer --to-offset 1200 --topic idsync.ad.operations --partition 3 --yes
`;

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: "rewind (or forward) a stage's consumer group, with a plan first",
  help: REPLAY_HELP,
  run: runReplay,
};

const OPTIONS = {
  'to-time': { type: 'string' },
  'to-offset': { type: 'string' },
  'to-beginning': { type: 'boolean', default: false },
  'to-end': { type: 'boolean', default: false },
  topic: { type: 'string' },
  partition: { type: 'string' },
  yes: { type: 'boolean', short: 'y', default: false },
  'max-count': { type: 'string' },
} as const;

/** States in which a group has no member (kafkajs's setOffsets accepts only these). */
const IDLE_STATES = new Set(['Empty', 'Dead']);

function parseTarget(values: { 'to-time'?: string | undefined; 'to-offset'?: string | undefined; 'to-beginning'?: boolean | undefined; 'to-end'?: boolean | undefined }, now: number): ReplayTarget {
  const given = [
    values['to-time'] !== undefined && '--to-time',
    values['to-offset'] !== undefined && '--to-offset',
    values['to-beginning'] === true && '--to-beginning',
    values['to-end'] === true && '--to-end',
  ].filter((x): x is string => x !== false);
  if (given.length !== 1) {
    throw new UsageError(given.length === 0 ? 'needs a target: --to-time, --to-offset, --to-beginning or --to-end' : `takes one target, not ${given.join(' and ')}`, 'see idsync replay --help');
  }
  if (values['to-time'] !== undefined) return { kind: 'time', at: timeOption('replay', 'to-time', values['to-time'], now) };
  if (values['to-offset'] !== undefined) return { kind: 'offset', offset: integerOption('replay', 'to-offset', values['to-offset'], 0) as number };
  return values['to-beginning'] === true ? { kind: 'beginning' } : { kind: 'end' };
}

function usage(error: unknown): never {
  if (error instanceof ReplayPlanError) throw new UsageError(error.message, 'see idsync replay --help');
  throw error;
}

async function runReplay(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('replay', argv, OPTIONS);
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? 'needs the stage or group to move: mapper, ad-writer, ds-writer, or a group id' : `takes one stage or group, not ${positionals.join(' ')}`,
      'see idsync replay --help',
    );
  }
  const target = parseTarget(values, io.now());
  const partition = integerOption('replay', 'partition', values.partition, 0);
  const countLimit = integerOption('replay', 'max-count', values['max-count'], 0) ?? DEFAULT_COUNT_LIMIT;
  const ctx = await CommandContext.open(io, values.config);
  try {
    let group: ReplayGroup;
    try {
      group = resolveReplayGroup(ctx.config, positionals[0] as string);
    } catch (error) {
      usage(error);
    }
    const admin = await ctx.admin();
    const topics = group.topics ?? (await committedTopics(ctx, admin, group.groupId));
    await refuseWhileRunning(admin, group);

    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) throw new CliError(`topic ${missing.join(', ')} of group ${group.groupId} does not exist (the services create the topics when they start)`);

    // Offsets of every partition the group reads, then the operator's selection.
    const inputs: ReplayPartitionInput[] = [];
    for (const topic of topics) {
      const offsets = await admin.topicOffsets(topic);
      const [committed] = await admin.committedOffsets(group.groupId, [topic]);
      const byTime = target.kind === 'time' ? await admin.offsetsAtTime(topic, target.at) : [];
      for (const o of offsets) {
        const c = committed?.partitions.find((p) => p.partition === o.partition);
        const t = byTime.find((p) => p.partition === o.partition);
        const input: ReplayPartitionInput = {
          topic,
          partition: o.partition,
          low: o.low,
          high: o.high,
          committed: c?.offset ?? null,
          ...(t === undefined ? {} : { timeOffset: t.offset }),
        };
        inputs.push(input);
      }
    }
    let selected: ReplayPartitionInput[];
    try {
      selected = selectPartitions(inputs, { topic: values.topic, partition });
    } catch (error) {
      usage(error);
    }

    const rows = planReplay(selected, target);
    const counts = await countRows(ctx, rows, countLimit);
    const summary = summarizePlan(rows, counts);
    const report = {
      groupId: group.groupId,
      service: group.service,
      target: describeTarget(target),
      summary: {
        ...summary,
        firstTimestamp: iso(summary.firstTimestamp),
        lastTimestamp: iso(summary.lastTimestamp),
      },
      partitions: rows.map((row) => {
        const count = counts.get(row);
        return {
          topic: row.topic,
          partition: row.partition,
          committed: row.committed,
          from: row.from,
          target: row.target,
          direction: row.direction,
          offsets: row.offsets,
          records: row.direction === 'unchanged' ? 0 : (count?.records ?? row.offsets),
          exact: row.direction === 'unchanged' || (count?.exact ?? false),
          firstTimestamp: iso(count?.firstTimestamp ?? null),
          lastTimestamp: iso(count?.lastTimestamp ?? null),
          adjusted: row.adjusted,
        };
      }),
    };
    if (!values.json) io.out(renderPlan(group, target, rows, counts, summary));

    if (summary.changed === 0) {
      if (values.json) io.out(`${JSON.stringify({ ...report, applied: false }, null, 2)}\n`);
      else io.out('\nNothing to change: the group is already there.\n');
      return EXIT_CODES.ok;
    }
    if (!values.yes) {
      const confirmed = io.confirm ? await io.confirm(`Move group ${group.groupId} as planned above?`) : false;
      if (!confirmed) {
        if (values.json) io.out(`${JSON.stringify({ ...report, applied: false }, null, 2)}\n`);
        throw new RefusedError(`not applied: nothing was changed`, `run again with --yes to move the offsets of ${group.groupId}`);
      }
    }
    // The stage may have been started while the plan was shown.
    await refuseWhileRunning(admin, group);
    await applyPlan(admin, group.groupId, rows);
    if (values.json) io.out(`${JSON.stringify({ ...report, applied: true }, null, 2)}\n`);
    else {
      const start = group.service === null ? 'the consumers of the group' : `${group.service} (kubectl scale deployment/idsync-${group.service} --replicas=1)`;
      io.out(`\nApplied: ${group.groupId} moved on ${summary.changed} partition(s). Start ${start} to process from there.\n`);
    }
    return EXIT_CODES.ok;
  } finally {
    await ctx.close();
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Topics a group given by id has committed offsets on; an unknown group is a UsageError listing the known ones. */
async function committedTopics(ctx: CommandContext, admin: KafkaAdmin, groupId: string): Promise<string[]> {
  const fetched = await admin.committedOffsets(groupId);
  const topics = fetched.filter((t) => t.partitions.some((p) => p.offset !== null)).map((t) => t.topic);
  if (topics.length > 0) return topics.sort();
  const groups = await admin.listGroups();
  const prefix = `${ctx.config.kafka.clientId}-`;
  const others = groups
    .map((g) => g.groupId)
    .filter((id) => id.startsWith(prefix) && !id.includes('-cli-') && !id.startsWith(CHECKPOINT_GROUP_PREFIX) && !CONSUMER_SERVICES.some((s) => serviceGroupId(ctx.config, s) === id))
    .sort();
  const stages = CONSUMER_SERVICES.map((s) => `${s} (${serviceGroupId(ctx.config, s)})`).join(', ');
  throw new UsageError(`no consumer group '${groupId}' with committed offsets`, `stages: ${stages}${others.length > 0 ? `; other groups of ${ctx.config.kafka.clientId}: ${others.join(', ')}` : ''}`);
}

async function refuseWhileRunning(admin: KafkaAdmin, group: ReplayGroup): Promise<void> {
  const groups = await admin.describeGroups([group.groupId]);
  const description = groups.find((g) => g.groupId === group.groupId);
  if (description === undefined || IDLE_STATES.has(description.state)) return;
  const members = description.members.map((m) => `${m.clientId}@${m.clientHost}`).join(', ');
  const stop =
    group.service === null
      ? 'stop its consumers'
      : `stop ${group.service} first: kubectl scale deployment/idsync-${group.service} --replicas=0 (or stop its process), run the replay, then start it again`;
  throw new RefusedError(
    `group ${group.groupId} is ${description.state} with ${description.members.length} member(s) (${members || 'joining'}): its offsets cannot be moved while it runs; nothing was changed`,
    stop,
  );
}

/** Counts the records each row replays or skips (ranges up to `limit` offsets). */
async function countRows(ctx: CommandContext, rows: readonly ReplayRow[], limit: number): Promise<Map<ReplayRow, RangeCount>> {
  const ranges = new Map<ReplayRow, OffsetRange>();
  for (const row of rows) {
    const range = affectedRange(row);
    if (range !== null && range.to - range.from <= limit) ranges.set(row, range);
  }
  const read = await readRanges(ctx.kafka, await ctx.admin(), ctx.config.kafka.clientId, [...ranges.values()]);
  const out = new Map<ReplayRow, RangeCount>();
  for (const row of rows) {
    const range = ranges.get(row);
    const result = range === undefined ? undefined : read.get(range);
    if (result !== undefined && result.complete) out.set(row, { records: result.records, exact: true, firstTimestamp: result.firstTimestamp, lastTimestamp: result.lastTimestamp });
    else if (row.direction !== 'unchanged') out.set(row, { records: row.offsets, exact: false, firstTimestamp: result?.firstTimestamp ?? null, lastTimestamp: result?.lastTimestamp ?? null });
  }
  return out;
}

async function applyPlan(admin: KafkaAdmin, groupId: string, rows: readonly ReplayRow[]): Promise<void> {
  const byTopic = new Map<string, ReplayRow[]>();
  for (const row of rows) {
    if (row.direction === 'unchanged') continue;
    byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
  }
  for (const [topic, list] of byTopic) {
    try {
      await admin.setGroupOffsets(
        groupId,
        topic,
        list.map((row) => ({ partition: row.partition, offset: row.target })),
      );
    } catch (error) {
      throw new CliError(`setting the offsets of ${groupId} on ${topic} failed: ${error instanceof Error ? error.message : String(error)}`, {
        retriable: true,
        hint: 'run idsync status to see where the group is, and run the replay again',
        cause: error,
      });
    }
  }
  // Read back: what Kafka now holds is what the stage will start from.
  const wrong: string[] = [];
  for (const [topic, list] of byTopic) {
    const [fetched] = await admin.committedOffsets(groupId, [topic]);
    for (const row of list) {
      const now = fetched?.partitions.find((p) => p.partition === row.partition)?.offset;
      if (now !== row.target) wrong.push(`${topic}[${row.partition}] is at ${now ?? 'nothing'}, not ${row.target}`);
    }
  }
  if (wrong.length > 0) throw new CliError(`the offsets of ${groupId} did not all move: ${wrong.join('; ')}`, { hint: 'run idsync status, and the replay again' });
}

function recordsText(row: ReplayRow, count: RangeCount | undefined): string {
  if (row.direction === 'unchanged') return '0';
  const records = count?.records ?? row.offsets;
  return `${count?.exact ? '' : '~'}${formatCount(records)} ${row.direction === 'replay' ? 'again' : 'skipped'}`;
}

function timeRange(first: number | null, last: number | null): string {
  if (first === null || last === null) return '-';
  return first === last ? new Date(first).toISOString() : `${new Date(first).toISOString()} .. ${new Date(last).toISOString()}`;
}

export function renderPlan(group: ReplayGroup, target: ReplayTarget, rows: readonly ReplayRow[], counts: ReadonlyMap<ReplayRow, RangeCount>, summary: ReturnType<typeof summarizePlan>): string {
  const out: string[] = [];
  out.push(`Replay plan for group ${group.groupId}${group.service ? ` (${group.service})` : ''}: move to ${describeTarget(target)}\n\n`);
  out.push(
    table(rows, [
      { header: 'TOPIC', value: (r) => r.topic },
      { header: 'PARTITION', value: (r) => r.partition },
      { header: 'COMMITTED', value: (r) => (r.committed === null ? 'none' : formatCount(r.committed)), align: 'right' },
      { header: 'TARGET', value: (r) => formatCount(r.target), align: 'right' },
      { header: 'RECORDS', value: (r) => recordsText(r, counts.get(r)), align: 'right' },
      { header: 'TIME RANGE', value: (r) => timeRange(counts.get(r)?.firstTimestamp ?? null, counts.get(r)?.lastTimestamp ?? null) },
      { header: 'NOTE', value: (r) => [r.committed === null ? 'never committed: starts at the log start' : '', r.adjusted ?? ''].filter(Boolean).join('; ') },
    ]),
  );
  const approx = summary.exact ? '' : ' (~: not counted, offsets: an upper bound)';
  out.push(
    `\nTotal: ${formatCount(summary.replay)} record(s) processed again, ${formatCount(summary.skip)} skipped${approx}; ${summary.changed} partition(s) change` +
      `${summary.firstTimestamp !== null ? `; records from ${timeRange(summary.firstTimestamp, summary.lastTimestamp)}` : ''}\n`,
  );
  return out.join('');
}
