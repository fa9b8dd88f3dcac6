import { redriveTransactionalId } from '@idsync/config';
import { decodeDeadLetter, UndecodableRecordError } from '@idsync/contracts';
import { type KafkaTransaction } from '@idsync/platform';
import { signingKeyring, withSignature } from '@idsync/secrets';
import { waitTopicOf } from '@idsync/writer';
import { type CliCommand } from '../command';
import { CommandContext, kafkaCall } from '../context';
import { readWindows, topicWindows, type Window } from '../topic-windows';
import {
  type DeadLetterId,
  deadLetterJson,
  deadLetterRow,
  formatDeadLetterId,
  formatKey,
  formatPosition,
  formatTime,
  idWindows,
  isStage,
  type ListedDeadLetter,
  parseDeadLetterIds,
  parseRedriveMarker,
  planRedrive,
  type RecordPosition,
  type RecordSummary,
  type RedriveFailure,
  type RedriveItem,
  type RedriveMarker,
  redriveMarkerValue,
  type RedriveSelection,
  REDRIVEN_FROM_HEADER,
  selectDeadLetters,
  selectForRedrive,
  STAGES,
  statusText,
  summarizeRecord,
  withMarkers,
} from '../core/dead-letters';
import { table } from '../format';
import { CliError, type CliIo, EXIT_CODES, RefusedError, UsageError } from '../io';
import { GLOBAL_HELP, integerOption, parseCommandArgs, timeOption } from '../options';
import { Progress } from '../progress';

const SUBCOMMANDS = ['list', 'show', 'redrive'] as const;

const HELP = `idsync dlq: list, show and re-drive dead-lettered records

usage: idsync dlq list [--stage S] [--since T] [--limit N] [--json]
       idsync dlq show <id> [--json]
       idsync dlq redrive (<id>... | --all [--stage S] [--since T]) [--dry-run] [--yes] [--force] [--json]

The mapper and the writers move a record they cannot handle (undecodable, unmappable, refused by the destination
for a reason a retry cannot fix) to the dead-letter topic (kafka.topics.deadLetter), with the stage, the reason,
the original topic/partition/offset, key and value. A dead letter's id is <partition>:<offset> on that topic.

Subcommands:
  list        every dead letter, oldest first: id, failed at, stage, original record, entry key, reason
              (shortened), status (pending, or re-driven at <time>). Reads the topic from the beginning up to
              its current end, then stops.
    --stage S   only dead letters of that stage (${STAGES.join(', ')})
    --since T   only those that failed at or after T: ISO 8601 time, epoch ms, or a duration ago (30m, 2h, 7d)
    --limit N   only the N most recent

  show <id>   one dead letter in full: the whole reason and the original record decoded (an entry change or a
              write request: op, DN, previous DN, entry id, attributes with their values). Password values
              (idsyncPassword, unicodePwd, userPassword, unhashed#user#password) are never shown (***); binary
              values show as <N bytes>.

  redrive     after fixing the cause, produces each original key and value back to its original topic, where
              the stage that failed consumes it again, with the header ${REDRIVEN_FROM_HEADER}:
              <dead-letter topic>/<partition>/<offset>. What was re-driven is recorded on the checkpoints topic
              (kafka.topics.checkpoints, compacted; key dlq-redriven/<dead-letter topic>/<partition>/<offset>),
              in the same Kafka transaction as the record itself: \`list\` shows it, and re-driving it again is
              refused unless --force.
    <id>...     the dead letters to re-drive
    --all       every pending dead letter (with --stage / --since: those only)
    --dry-run   say what would be produced, produce nothing
    -y, --yes   no question before producing more than one record (needed when not on a terminal)
    --force     re-drive records that were re-driven before (with --all: include them)
  A record without a value, or whose original topic no longer exists, is reported by id and the others are
  still re-driven; the command then exits 1 with the list of failures.

Examples:
  idsync dlq list                       # what is there, and what was re-driven
  idsync dlq list --stage ds-writer --since 2h --json
  idsync dlq show 0:17                  # the reason in full and the record: fix the cause from this
  idsync dlq redrive 0:17               # after the fix; the stage must be running to consume it
  idsync dlq redrive 0:17 2:4 --dry-run
  idsync dlq redrive --all --stage ds-writer --since 1d --yes
  idsync dlq redrive 0:17 --force       # once more, after it was re-driven already

${GLOBAL_HELP}

Exit status: 0 done; 1 a server failed or some records could not be re-driven (listed); 2 wrong subcommand,
option, or unknown id; 3 refused (more than one record without --yes, or re-driven before without --force).
`;

export const dlqCommand: CliCommand = {
  name: 'dlq',
  summary: 'list, show and re-drive dead-lettered records',
  help: HELP,
  run: async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(sub === undefined ? 'which subcommand?' : `unknown subcommand '${sub}'`, `subcommands: ${SUBCOMMANDS.join(', ')}; see idsync dlq --help`);
    }
    if (sub === 'list') return list(rest, io);
    if (sub === 'show') return show(rest, io);
    return redrive(rest, io);
  },
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Subcommands                                                                                                       */

function stageOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!isStage(value)) throw new UsageError(`no stage '${value}'`, `stages: ${STAGES.join(', ')}`);
  return value;
}

async function list(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('dlq', argv, {
    stage: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'to see one dead letter: idsync dlq show <id>');
  const stage = stageOption(values.stage);
  const since = values.since === undefined ? undefined : timeOption('dlq', 'since', values.since, io.now());
  const limit = integerOption('dlq', 'limit', values.limit, 1);
  const ctx = await CommandContext.open(io, values.config);
  try {
    const topic = ctx.config.kafka.topics.deadLetter.name;
    const { rows, exists } = await loadDeadLetters(ctx, since === undefined ? {} : { since });
    const shown = selectDeadLetters(rows, { stage, since, limit });
    const matching = limit === undefined ? shown.length : selectDeadLetters(rows, { stage, since }).length;
    if (values.json) {
      io.out(`${JSON.stringify({ topic, matching, deadLetters: shown.map(deadLetterJson) }, null, 2)}\n`);
      return EXIT_CODES.ok;
    }
    if (rows.length === 0) {
      io.out(`no dead letters${exists ? '' : ` (topic ${topic} does not exist yet)`}${since === undefined ? '' : ` since ${formatTime(since)}`}\n`);
      return EXIT_CODES.ok;
    }
    if (shown.length === 0) {
      io.out(`no dead letters match (${rows.length} on ${topic}${since === undefined ? '' : ` since ${formatTime(since)}`})\n`);
      return EXIT_CODES.ok;
    }
    io.out(
      table(
        shown.map((row) => deadLetterRow(row)),
        [
          { header: 'ID', value: (r) => r.id },
          { header: 'FAILED AT', value: (r) => r.failedAt },
          { header: 'STAGE', value: (r) => r.stage },
          { header: 'ORIGINAL', value: (r) => r.original },
          { header: 'KEY', value: (r) => r.key },
          { header: 'REASON', value: (r) => r.reason },
          { header: 'STATUS', value: (r) => r.status },
        ],
      ),
    );
    const pending = shown.filter((row) => row.redriven === null).length;
    const of = shown.length < matching ? `the ${shown.length} most recent of ${matching} matching` : `${shown.length}`;
    io.out(`\n${of} dead letter${matching === 1 ? '' : 's'} on ${topic}: ${pending} pending, ${shown.length - pending} re-driven\n`);
    io.out(`details: idsync dlq show <id>; re-drive after fixing the cause: idsync dlq redrive <id>\n`);
    return EXIT_CODES.ok;
  } finally {
    await ctx.close();
  }
}

async function show(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('dlq', argv, {});
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `which dead letter? give its id (<partition>:<offset>)` : `one id at a time`, 'ids are in the first column of idsync dlq list');
  }
  const { ids, invalid } = parseDeadLetterIds(positionals);
  rejectInvalidIds(invalid);
  const ctx = await CommandContext.open(io, values.config);
  try {
    const topic = ctx.config.kafka.topics.deadLetter.name;
    const { rows } = await loadDeadLetters(ctx, { ids });
    const row = rows[0];
    if (row === undefined) throw unknownIds(ids.map(formatDeadLetterId), topic);
    const summary = summarizeRecord(row.letter?.value ?? null);
    if (values.json) {
      io.out(`${JSON.stringify({ topic, ...deadLetterJson(row), record: summary }, null, 2)}\n`);
      return EXIT_CODES.ok;
    }
    io.out(describeDeadLetter(topic, row, summary));
    return EXIT_CODES.ok;
  } finally {
    await ctx.close();
  }
}

async function redrive(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('dlq', argv, {
    all: { type: 'boolean', default: false },
    stage: { type: 'string' },
    since: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    yes: { type: 'boolean', short: 'y', default: false },
    force: { type: 'boolean', default: false },
  });
  if (values.all && positionals.length > 0) throw new UsageError(`give ids or --all, not both`);
  if (!values.all && positionals.length === 0) throw new UsageError(`which dead letters? give their ids or --all`, 'ids are in the first column of idsync dlq list');
  if (!values.all && (values.stage !== undefined || values.since !== undefined)) {
    throw new UsageError(`--stage and --since select with --all only`, 'with ids, the ids say which records');
  }
  const stage = stageOption(values.stage);
  const since = values.since === undefined ? undefined : timeOption('dlq', 'since', values.since, io.now());
  const parsed = parseDeadLetterIds(positionals);
  rejectInvalidIds(parsed.invalid);
  const selection: RedriveSelection = values.all ? { kind: 'all', stage, since } : { kind: 'ids', ids: parsed.ids };
  const dryRun = values['dry-run'];

  const ctx = await CommandContext.open(io, values.config);
  try {
    const deadLetterTopic = ctx.config.kafka.topics.deadLetter.name;
    const checkpointsTopic = ctx.config.kafka.topics.checkpoints.name;
    const { rows } = await loadDeadLetters(ctx, selection.kind === 'ids' ? { ids: selection.ids } : since === undefined ? {} : { since });
    const { selected, unknown, skipped } = selectForRedrive(rows, selection, values.force);
    if (unknown.length > 0) throw unknownIds(unknown, deadLetterTopic);

    const admin = await ctx.admin();
    const existingTopics = new Set(await kafkaCall(ctx, () => admin.listTopics()));
    const plan = planRedrive(selected, { deadLetterTopic, existingTopics, force: values.force });
    if (plan.alreadyRedriven.length > 0) {
      throw new RefusedError(
        `already re-driven, nothing produced: ${plan.alreadyRedriven
          .map((row) => `${formatDeadLetterId(row.id)} at ${formatTime(row.redriven?.redrivenAt ?? Number.NaN)} (to ${row.redriven ? formatPosition(row.redriven.to) : '?'})`)
          .join(', ')}`,
        'check with idsync dlq list; to produce it once more anyway, add --force',
      );
    }
    if (plan.items.length > 0 && !dryRun && !existingTopics.has(checkpointsTopic)) {
      throw new CliError(`the checkpoints topic ${checkpointsTopic} does not exist, so the re-drive cannot be recorded; nothing produced`, {
        hint: 'the mapper creates the configured topics at its start: start it once, or create the topic (compacted)',
      });
    }

    if (selected.length === 0) {
      const text = `no dead letters to re-drive${skipped > 0 ? ` (${skipped} matching were re-driven before; --force includes them)` : ''}`;
      io.out(values.json ? `${JSON.stringify({ dryRun, redriven: [], failed: [], skipped }, null, 2)}\n` : `${text}\n`);
      return EXIT_CODES.ok;
    }

    if (dryRun) {
      if (values.json) {
        io.out(`${JSON.stringify({ dryRun, wouldRedrive: plan.items.map(itemJson), failed: plan.failures.map(failureJson), skipped }, null, 2)}\n`);
      } else {
        io.out(plan.items.length === 0 ? 'nothing would be re-driven\n' : `would re-drive ${plan.items.length} dead letter${plan.items.length === 1 ? '' : 's'}:\n`);
        for (const item of plan.items) io.out(`  ${describeItem(item)}\n`);
        io.out('nothing produced (--dry-run)\n');
        reportFailures(io, plan.failures, plan.items.length + plan.failures.length);
      }
      return plan.failures.length > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
    }

    if (plan.items.length > 1 && !values.yes) {
      const question = `re-drive ${plan.items.length} dead letters to their original topics (${[...new Set(plan.items.map((i) => i.topic))].join(', ')})?`;
      const confirmed = io.confirm ? await io.confirm(question) : false;
      if (!confirmed) {
        throw new RefusedError(
          `${plan.items.length} records would be produced and ${io.confirm ? 'that was not confirmed' : 'there is no terminal to confirm it'}; nothing produced`,
          'check them with --dry-run, then add --yes',
        );
      }
    }

    const { done, failures } = await produceRedrives(ctx, plan.items, checkpointsTopic, io);
    const allFailures = [...plan.failures, ...failures];
    if (values.json) {
      io.out(
        `${JSON.stringify({ dryRun, redriven: done.map((d) => ({ ...itemJson(d.item), to: formatPosition(d.marker.to), at: new Date(d.marker.redrivenAt).toISOString() })), failed: allFailures.map(failureJson), skipped }, null, 2)}\n`,
      );
    } else {
      for (const { item, marker } of done) io.out(`re-driven ${formatDeadLetterId(item.id)} (${item.stage}) to ${formatPosition(marker.to)}${item.previously ? ' (again: --force)' : ''}\n`);
      io.out(`${done.length} dead letter${done.length === 1 ? '' : 's'} re-driven${skipped > 0 ? `; ${skipped} re-driven before left out` : ''}\n`);
      reportFailures(io, allFailures, plan.items.length + plan.failures.length);
    }
    return allFailures.length > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
  } finally {
    await ctx.close();
  }
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Output                                                                                                            */

function rejectInvalidIds(invalid: readonly string[]): void {
  if (invalid.length > 0) {
    throw new UsageError(`not a dead-letter id: ${invalid.map((t) => `'${t}'`).join(', ')}`, 'an id is <partition>:<offset>, as in the first column of idsync dlq list');
  }
}

function unknownIds(ids: readonly string[], topic: string): UsageError {
  return new UsageError(`no dead letter ${ids.join(', ')} on ${topic}`, 'ids are in the first column of idsync dlq list');
}

function describeItem(item: RedriveItem): string {
  return `${formatDeadLetterId(item.id)} (${item.stage}) -> ${item.topic}, key ${formatKey(item.key) ?? '(none)'}, ${item.value.length} bytes${item.previously ? `, re-driven before at ${formatTime(item.previously.redrivenAt)}` : ''}`;
}

function itemJson(item: RedriveItem): Record<string, unknown> {
  return { id: formatDeadLetterId(item.id), stage: item.stage, topic: item.topic, key: formatKey(item.key), again: item.previously !== null };
}

function failureJson(failure: RedriveFailure): Record<string, unknown> {
  return { id: formatDeadLetterId(failure.id), problem: failure.problem };
}

function reportFailures(io: CliIo, failures: readonly RedriveFailure[], of: number): void {
  if (failures.length === 0) return;
  io.err(`${failures.length} of ${of} could not be re-driven:\n${failures.map((f) => `  ${formatDeadLetterId(f.id)}: ${f.problem}\n`).join('')}`);
}

const MAX_VALUES_SHOWN = 20;

function describeDeadLetter(topic: string, row: ListedDeadLetter, summary: RecordSummary): string {
  const lines: string[] = [];
  const field = (name: string, value: string): void => void lines.push(`  ${name.padEnd(12)} ${value}`);
  lines.push(`dead letter ${formatDeadLetterId(row.id)} on ${topic}`);
  const letter = row.letter;
  if (letter === null) {
    field('problem', row.problem ?? 'cannot be decoded');
    return `${lines.join('\n')}\n`;
  }
  field('failed at', formatTime(letter.failedAt));
  field('stage', letter.stage);
  field('status', row.redriven === null ? 'pending' : `${statusText(row)} to ${formatPosition(row.redriven.to)}`);
  field('original', formatPosition(letter));
  field('key', formatKey(letter.key) ?? '(none)');
  field('reason', letter.reason.split('\n').join(`\n  ${' '.repeat(13)}`));
  lines.push('');
  switch (summary.kind) {
    case 'empty':
      lines.push('original record: no value (nothing to re-drive)');
      break;
    case 'undecodable':
      lines.push(`original record: ${summary.bytes} bytes${summary.schemaId === null ? '' : `, schema id ${summary.schemaId}`}, not decodable: ${summary.problem}`);
      break;
    default: {
      lines.push(`original record: ${summary.kind} (schema id ${summary.schemaId}, ${summary.bytes} bytes)`);
      field('op', summary.op);
      field('dn', summary.dn);
      if (summary.previousDn !== null) field('previous dn', summary.previousDn);
      field('entry id', summary.entryId);
      for (const [name, value] of summary.details) field(name, value);
      if (summary.objectClasses.length > 0) field('classes', summary.objectClasses.join(', '));
      if (summary.attributes.length === 0) field('attributes', '(none)');
      else {
        lines.push('  attributes');
        for (const attribute of summary.attributes) {
          const shown = attribute.values.slice(0, MAX_VALUES_SHOWN);
          const more = attribute.values.length - shown.length;
          const text = attribute.values.length === 0 ? '(no values)' : `${shown.join(' | ')}${more > 0 ? ` | … ${more} more` : ''}`;
          lines.push(`    ${attribute.op} ${attribute.name}: ${text}`);
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Kafka                                                                                                             */

/**
 * The dead letters (all, those failed since a time, or the given ids) with what was re-driven of them. `exists` is
 * false when the dead-letter topic has not been created yet.
 */
async function loadDeadLetters(ctx: CommandContext, scope: { since?: number; ids?: readonly DeadLetterId[] }): Promise<{ rows: ListedDeadLetter[]; exists: boolean }> {
  const admin = await ctx.admin();
  const deadLetterTopic = ctx.config.kafka.topics.deadLetter.name;
  const checkpointsTopic = ctx.config.kafka.topics.checkpoints.name;
  const topics = new Set(await kafkaCall(ctx, () => admin.listTopics()));
  if (!topics.has(deadLetterTopic)) return { rows: [], exists: false };

  let windows = await topicWindows(ctx, admin, deadLetterTopic, scope.since);
  if (scope.ids !== undefined) {
    const wanted = idWindows(scope.ids);
    windows = windows.flatMap((w) => {
      const want = wanted.get(w.partition);
      if (want === undefined) return [];
      const from = want.from > w.from ? want.from : w.from;
      const to = want.to < w.to ? want.to : w.to;
      return from < to ? [{ ...w, from, to }] : [];
    });
  }
  const size = (list: readonly Window[]): number => list.reduce((sum, w) => sum + Number(w.to - w.from), 0);
  if (size(windows) === 0) return { rows: [], exists: true };
  if (topics.has(checkpointsTopic)) windows = [...windows, ...(await topicWindows(ctx, admin, checkpointsTopic))];
  const total = size(windows);

  const letters: Omit<ListedDeadLetter, 'redriven'>[] = [];
  const markers = new Map<string, RedriveMarker>();
  const wantedIds = scope.ids === undefined ? undefined : new Set(scope.ids.map(formatDeadLetterId));
  const progress = total > 5_000 ? new Progress(ctx.io, { label: `reading ${deadLetterTopic} and ${checkpointsTopic}`, total, unit: 'records' }) : undefined;
  await readWindows(ctx, windows, (record) => {
    progress?.advance();
    if (record.topic === deadLetterTopic) {
      const id = { partition: record.partition, offset: BigInt(record.offset) };
      if (wantedIds !== undefined && !wantedIds.has(formatDeadLetterId(id))) return;
      try {
        letters.push({ id, letter: decodeDeadLetter(record.value), problem: null });
      } catch (error) {
        // Listed as it is (stage '?'): one bad record must not hide the others.
        letters.push({ id, letter: null, problem: error instanceof UndecodableRecordError ? error.message : `cannot be read: ${String(error)}` });
      }
      return;
    }
    const found = parseRedriveMarker(deadLetterTopic, record.key?.toString('utf8') ?? null, record.value?.toString('utf8') ?? null);
    if (found?.kind === 'removed') markers.delete(formatDeadLetterId(found.id));
    else if (found?.kind === 'marker') markers.set(formatDeadLetterId(found.marker.id), found.marker);
  });
  progress?.finish();
  return { rows: withMarkers(letters, markers), exists: true };
}

/**
 * Produces each item and its marker in one transaction (stable transactional id per dead-letter topic: a run that
 * died mid-way is fenced and its open transaction aborted by the next one). A failure of one item is reported and
 * the others still go.
 */
async function produceRedrives(
  ctx: CommandContext,
  items: readonly RedriveItem[],
  checkpointsTopic: string,
  io: CliIo,
): Promise<{ done: { item: RedriveItem; marker: RedriveMarker }[]; failures: RedriveFailure[] }> {
  const done: { item: RedriveItem; marker: RedriveMarker }[] = [];
  const failures: RedriveFailure[] = [];
  if (items.length === 0) return { done, failures };
  const producer = ctx.kafka.transactionalProducer({
    transactionalId: redriveTransactionalId(ctx.config.kafka.topics.deadLetter.name),
    allowAutoTopicCreation: false,
    retries: 8,
    maxRetryTimeMs: 5_000,
  });
  // Write requests go back signed, as the mapper signs them (secrets.signOperations): writers refuse them otherwise.
  const { topics } = ctx.config.kafka;
  const writerTopics = new Set([topics.adOperations.name, topics.dsOperations.name].flatMap((name) => [name, waitTopicOf(name)]));
  const signing = signingKeyring(ctx.config.secrets);
  await kafkaCall(ctx, () => producer.connect());
  const progress = items.length > 20 ? new Progress(io, { label: 're-driving', total: items.length, unit: 'records' }) : undefined;
  try {
    for (const item of items) {
      let transaction: KafkaTransaction | undefined;
      try {
        transaction = await producer.begin();
        const headers = signing !== undefined && writerTopics.has(item.topic) ? withSignature(signing, item) : { ...item.headers };
        const [sent] = await transaction.send({ topic: item.topic, messages: [{ key: item.key, value: item.value, headers }] });
        const to: RecordPosition = { topic: item.topic, partition: sent?.partition ?? -1, offset: String(sent?.baseOffset ?? -1) };
        const marker: RedriveMarker = { id: item.id, redrivenAt: io.now(), to };
        await transaction.send({ topic: checkpointsTopic, messages: [{ key: item.markerKey, value: Buffer.from(redriveMarkerValue(marker)) }] });
        await transaction.commit();
        done.push({ item, marker });
      } catch (error) {
        await transaction?.abort().catch(() => undefined);
        failures.push({ id: item.id, problem: `producing to ${item.topic} failed: ${error instanceof Error ? error.message : String(error)}` });
      }
      progress?.advance();
    }
  } finally {
    progress?.finish();
    await producer.disconnect().catch(() => undefined);
  }
  return { done, failures };
}
