import { detectorCheckpointGroup, detectorTransactionalId } from '@idsync/config';
import { setTimeout as sleep } from 'node:timers/promises';
import { DcIdentity, DIRSYNC_FLAGS, DirSyncCookie, DirSyncReader, type DirSyncPage } from '@idsync/detector/ad';
import { ChangeNumber, ChangelogReader, changeNumberOf, parseGeneralizedTime, type ChangelogWindow, type RawChangelogEntry } from '@idsync/detector/ds';
import { ChangePublisher, DirectoryBindError, DirectoryUnavailableError, ensureTopics, fetchStoredCheckpoint, type StoredCheckpoint } from '@idsync/platform';
import { type CliCommand } from '../command';
import { CommandContext, kafkaUnreachable } from '../context';
import { formatCount, formatDuration } from '../format';
import { CliError, type CliIo, EXIT_CODES, RefusedError, UsageError } from '../io';
import { GLOBAL_HELP, integerOption, parseCommandArgs, timeOption } from '../options';
import { Progress } from '../progress';
import {
  AD_ALTERNATIVES,
  CHOICE_OPTIONS,
  adChoiceUnsupported,
  changelogEffect,
  changelogStart,
  describeChangelogEffect,
  describeWindow,
  detectorNames,
  findFirstChangeAtOrAfter,
  resolveDetector,
  type DetectorName,
  type StartChoice,
  type TimedChange,
} from '../core/startpoint';

const NAME = 'set-startpoint';

const HELP = `idsync set-startpoint: move the position a detector continues from

usage: idsync set-startpoint <detector> (--beginning | --end | --change-number N | --time T) [--yes] [--json]

<detector> is ad-detector or ds-detector; ad, ds, or the name of the directory the detector reads
(services.<detector>.source) mean the same. The next changes the detector publishes start at the new position.

Where to start (exactly one):
  --beginning          ds-detector: before the oldest change cn=changelog still keeps (firstChangeNumber): every
                       change the server kept is published again. ad-detector: the empty DirSync cookie: the
                       detector's next pass publishes every object of the domain in its scope, a full load.
  --end                only changes made from now on are published; whatever was not published yet is skipped.
                       ds-detector: the server's lastChangeNumber. ad-detector: a DirSync pass from an empty
                       cookie to the end that reads the whole domain, publishes nothing and keeps the final
                       cookie (minutes on a large domain; progress on stderr).
  --change-number N    ds-detector only: change N and every later one are published. N must be in the
                       changelog: from firstChangeNumber to lastChangeNumber + 1 (the next change to be made).
  --time T             ds-detector only: from the first change made at or after T, found by a binary search
                       over change numbers (changeTime has one-second precision). T: ISO 8601
                       (2026-11-25T10:00:00Z), epoch milliseconds, or a duration ago (90s, 15m, 2h, 7d).
  DirSync has neither change numbers nor times: for the ad-detector use --end or --beginning, or bring the
  destination level with \`idsync resync\`.

  -y, --yes            write without asking. Moving a start point skips or repeats changes: without --yes the
                       command asks on a terminal, and elsewhere refuses (exit 3, nothing changed).

It shows the current start point, the new one and what the move skips or repeats before writing anything.

What happens to a running detector:
  The position is written the way the detector writes its own: a Kafka transaction with the detector's
  transactional id (idsync.<detector>.<source>), which fences the running detector. The batch it has in flight
  is not published; at its next publish it logs <detector>.fenced, pauses a moment, reconnects, reads the new
  start point and continues from there. It keeps running (health stays up) and needs no restart. A stopped
  detector starts from the new position at its next start.

Where the position lives: the offset metadata of consumer group idsync.checkpoint.<detector>.<source>, and a
record on the checkpoints topic (kafka.topics.checkpoints). A ds-detector position is the last change number
published (with the LDAP URL that answered); an ad-detector position is a DirSync cookie and the DC it belongs to.

Examples:
  idsync set-startpoint ds-detector --end --yes
      skip everything not yet published; publish the changes made from now on
  idsync set-startpoint ds --change-number 5120
      publish change 5120 and every later one again (asks first)
  idsync set-startpoint ds-detector --time 2h --yes
      publish again the directory's changes of the last two hours
  idsync set-startpoint ds-detector --time 2026-11-25T08:00:00Z --yes --json
  idsync set-startpoint ad-detector --end --yes
      after a resync, or when the checkpoint's DC is gone: stream from the domain's current state
  idsync set-startpoint ad --beginning --yes
      the ad-detector's next pass publishes the whole domain through the pipeline

${GLOBAL_HELP}

Exit status: 0 written (or already there), 1 a server failed, 2 wrong detector name or options (--change-number
or --time for the ad-detector), 3 refused: no --yes and no terminal, answered no, or --change-number outside the
changelog. When it refuses, nothing was changed.
`;

const OPTIONS = {
  beginning: { type: 'boolean', default: false },
  end: { type: 'boolean', default: false },
  'change-number': { type: 'string' },
  time: { type: 'string' },
  yes: { type: 'boolean', short: 'y', default: false },
} as const;

export const setStartpointCommand: CliCommand = {
  name: NAME,
  summary: 'move where a detector continues from (beginning, end, change number, time)',
  help: HELP,
  run,
};

/** The detector whose position moves, and where that position lives. */
interface Target {
  readonly detector: DetectorName;
  readonly source: string;
  readonly checkpointGroup: string;
  readonly transactionalId: string;
  readonly eventsTopic: string;
  readonly checkpointTopic: string;
}

interface Resolved {
  readonly checkpoint: StoredCheckpoint;
  readonly lines: [string, string][];
  readonly json: Record<string, unknown>;
  /** Where the detector goes on from, for the last line: "with change 5433", "with a full pass of the domain". */
  readonly continues: string;
}

/** What the command found and will write; `resolve` gives the position to write (the AD pass runs there). */
interface Plan {
  readonly lines: [string, string][];
  readonly warnings: string[];
  /** Shown and written as is; null while the position is only known after confirmation (AD --end). */
  readonly next: StoredCheckpoint | null;
  readonly unchanged: boolean;
  readonly json: Record<string, unknown>;
  resolve(): Promise<Resolved>;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(NAME, argv, OPTIONS);
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? 'name the detector: ad-detector or ds-detector' : `one detector at a time, not ${positionals.join(' ')}`,
      'idsync set-startpoint <detector> (--beginning | --end | --change-number N | --time T); see --help',
    );
  }
  const choice = parseChoice(values, io);
  const ctx = await CommandContext.open(io, values.config);
  try {
    const target = resolveTarget(ctx, positionals[0] ?? '');
    if (target.detector === 'ad-detector') {
      const why = adChoiceUnsupported(choice.kind);
      if (why) throw new UsageError(why, AD_ALTERNATIVES);
    }
    const current = await readCheckpoint(ctx, target);
    const plan = target.detector === 'ds-detector' ? await planChangelog(ctx, target, choice, current) : await planDirSync(ctx, target, choice, current, io);
    const head = {
      detector: target.detector,
      source: target.source,
      checkpointGroup: target.checkpointGroup,
      transactionalId: target.transactionalId,
      choice: choiceJson(choice),
      current,
      ...plan.json,
    };
    if (!values.json) {
      io.out(`${target.detector}: start point of source '${target.source}' (checkpoint group ${target.checkpointGroup})\n${lines(plan.lines)}`);
    }
    for (const warning of plan.warnings) io.err(`warning: ${warning}\n`);

    if (plan.unchanged) {
      if (values.json) io.out(`${JSON.stringify({ ...head, new: plan.next, written: false, unchanged: true }, null, 2)}\n`);
      else io.out('Nothing to write: the detector is already there.\n');
      return EXIT_CODES.ok;
    }
    if (!values.json) {
      io.out(`A running ${target.detector} is fenced by the write: its batch in flight is not published; it logs ${target.detector}.fenced, reconnects and continues from the new start point.\n`);
    }
    if (!values.yes) {
      const refusal = 'moving a start point skips or repeats changes';
      if (!io.confirm) {
        if (values.json) io.out(`${JSON.stringify({ ...head, new: plan.next, written: false }, null, 2)}\n`);
        throw new RefusedError(`not written: ${refusal}; nothing was changed`, 'run it again with --yes to write the new start point');
      }
      if (!(await io.confirm(`Move the start point of ${target.detector} (source ${target.source})?`))) {
        io.err('Not written: nothing was changed.\n');
        return EXIT_CODES.refused;
      }
    }

    const resolved = await plan.resolve();
    if (!values.json && resolved.lines.length > 0) io.out(lines(resolved.lines));
    const check = await writeCheckpoint(ctx, target, resolved.checkpoint);
    if (values.json) {
      io.out(`${JSON.stringify({ ...head, ...resolved.json, new: resolved.checkpoint, written: true, ...(check.readBack ? {} : { readBackNote: check.note }) }, null, 2)}\n`);
    } else {
      io.out(`Written: the ${target.detector} continues ${resolved.continues}${check.created.length > 0 ? ` (created topics ${check.created.join(', ')})` : ''}.\n`);
      if (!check.readBack) io.err(`note: ${check.note}\n`);
    }
    return EXIT_CODES.ok;
  } finally {
    await ctx.close();
  }
}

/** Exactly one of --beginning, --end, --change-number, --time. */
function parseChoice(values: { beginning?: boolean; end?: boolean; 'change-number'?: string; time?: string }, io: CliIo): StartChoice {
  const given: StartChoice[] = [];
  if (values.beginning) given.push({ kind: 'beginning' });
  if (values.end) given.push({ kind: 'end' });
  const number = integerOption(NAME, 'change-number', values['change-number'], 1);
  if (number !== undefined) given.push({ kind: 'change-number', changeNumber: ChangeNumber.parse(String(number)) });
  if (values.time !== undefined) given.push({ kind: 'time', at: timeOption(NAME, 'time', values.time, io.now()) });
  const only = given[0];
  if (given.length === 1 && only) return only;
  const all = Object.values(CHOICE_OPTIONS).join(', ');
  if (given.length === 0) throw new UsageError(`say where the detector starts: one of ${all}`, 'see idsync set-startpoint --help for what each one means');
  throw new UsageError(`only one of ${all} at a time, not ${given.map((c) => CHOICE_OPTIONS[c.kind]).join(' and ')}`);
}

function choiceJson(choice: StartChoice): Record<string, unknown> {
  switch (choice.kind) {
    case 'change-number':
      return { kind: choice.kind, changeNumber: choice.changeNumber.format() };
    case 'time':
      return { kind: choice.kind, time: new Date(choice.at).toISOString() };
    default:
      return { kind: choice.kind };
  }
}

function resolveTarget(ctx: CommandContext, name: string): Target {
  const sources = { 'ad-detector': ctx.config.services['ad-detector'].source, 'ds-detector': ctx.config.services['ds-detector'].source };
  const detector = resolveDetector(name, sources);
  if (!detector) throw new UsageError(`no detector '${name}'`, `detectors: ${detectorNames(sources).join(', ')}`);
  const source = sources[detector];
  ctx.directory(source);
  const topics = ctx.config.kafka.topics;
  return {
    detector,
    source,
    checkpointGroup: detectorCheckpointGroup(detector, source),
    transactionalId: detectorTransactionalId(detector, source),
    eventsTopic: detector === 'ad-detector' ? topics.adChanges.name : topics.dsChanges.name,
    checkpointTopic: topics.checkpoints.name,
  };
}

function publisherFor(ctx: CommandContext, target: Target): ChangePublisher {
  return new ChangePublisher(ctx.kafka, { detector: target.detector, source: target.source, eventsTopic: target.eventsTopic, checkpointTopic: target.checkpointTopic });
}

/** The committed position, read without fencing anyone (reading with the admin client, not the transactional producer). */
async function readCheckpoint(ctx: CommandContext, target: Target): Promise<StoredCheckpoint | null> {
  const admin = await ctx.admin();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(target.checkpointTopic)) return null;
    return await fetchStoredCheckpoint(admin, target.checkpointGroup, target.checkpointTopic);
  } catch (error) {
    throw new CliError(`cannot read the checkpoint of ${target.detector} (group ${target.checkpointGroup}): ${describe(error)}`, { retriable: true, cause: error });
  }
}

/**
 * Writes the position with a ChangePublisher for the same detector and source: connecting fences a running
 * detector, the empty batch commits the position only. Then reads it back.
 */
async function writeCheckpoint(ctx: CommandContext, target: Target, checkpoint: StoredCheckpoint): Promise<{ created: string[]; readBack: boolean; note: string }> {
  const admin = await ctx.admin();
  let created: string[];
  try {
    created = await ensureTopics(admin, ctx.config.kafka.topics);
  } catch (error) {
    throw kafkaUnreachable(ctx.config, error);
  }
  const publisher = publisherFor(ctx, target);
  try {
    await publisher.connect();
    await publisher.publish([], checkpoint);
  } catch (error) {
    throw new CliError(`could not write the start point of ${target.detector} (transactional id ${target.transactionalId}): ${describe(error)}`, {
      retriable: true,
      hint: 'nothing was written; if a detector was (re)starting at that moment, run the command again',
      cause: error,
    });
  } finally {
    await publisher.disconnect().catch(() => undefined);
  }
  // The transaction's offsets become visible once its markers are written: read back for a few seconds.
  const deadline = Date.now() + 5_000;
  let stored: StoredCheckpoint | null;
  for (;;) {
    stored = await fetchStoredCheckpoint(admin, target.checkpointGroup, target.checkpointTopic).catch(() => null);
    if (stored?.position === checkpoint.position && stored.server === checkpoint.server) return { created, readBack: true, note: '' };
    if (Date.now() >= deadline) break;
    await sleep(200);
  }
  return {
    created,
    readBack: false,
    note: `the checkpoint group now reads ${stored === null ? 'nothing' : `position '${stored.position.slice(0, 60)}'`}: a running ${target.detector} may already have moved on from the new start point`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// ds-detector: change numbers in cn=changelog.

async function planChangelog(ctx: CommandContext, target: Target, choice: StartChoice, current: StoredCheckpoint | null): Promise<Plan> {
  const reader = await openDirectory(ctx, target.source, () => ChangelogReader.open(target.source, ctx.directory(target.source)));
  try {
    const window = await reader.window().catch((error: unknown) => {
      throw new CliError(`cannot read the changelog window of '${target.source}' at ${reader.url}: ${describe(error)}`, { cause: error });
    });
    const out: [string, string][] = [['changelog', `${reader.url}: ${describeWindow(window)}`]];
    const currentNumber = storedChangeNumber(current);
    out.push(['current', describeStoredChangeNumber(current, currentNumber, window)]);

    let after: ChangeNumber;
    let how: string;
    let chosen: TimedChange | null = null;
    let lookups: number | undefined;
    if (choice.kind === 'time') {
      const result = await findFirstChangeAtOrAfter(choice.at, window, (from) => nextChange(reader, from, window.last));
      after = result.after;
      chosen = result.chosen;
      lookups = result.lookups;
      const asked = new Date(choice.at).toISOString();
      how = chosen
        ? `--time ${asked}: the first change at or after it is ${chosen.changeNumber.format()} (changeTime ${new Date(chosen.time).toISOString()}; ${result.lookups} lookups)`
        : `--time ${asked}: no change was made at or after it, so the end (${describeWindow(window)})`;
    } else {
      const start = changelogStart(choice, window);
      if (start.kind === 'refused') throw new RefusedError(`${start.message}; nothing was changed`);
      after = start.after;
      how = `${CHOICE_OPTIONS[choice.kind]}: ${start.note}`;
    }
    out.push(['new', `after change ${after.format()}: ${how}`]);
    const effect = changelogEffect(currentNumber, after, window);
    out.push(['effect', describeChangelogEffect(effect, currentNumber)]);

    const warnings: string[] = [];
    if (effect.kind === 'repeat' && effect.again) warnings.push(`up to ${formatCount(effect.count)} changes (${effect.from.format()}..${effect.to.format()}) will be published again`);
    if (effect.kind === 'repeat' && !effect.again) warnings.push(`up to ${formatCount(effect.count)} changes (${effect.from.format()}..${effect.to.format()}) will be published`);
    if (effect.kind === 'skip') warnings.push(`up to ${formatCount(effect.count)} changes (${effect.from.format()}..${effect.to.format()}) will never be published`);
    if (choice.kind === 'beginning') warnings.push('the changelog holds only changes since firstChangeNumber: entries last changed before are not loaded this way (a full load is `idsync resync`)');

    const next: StoredCheckpoint = { position: after.format(), server: reader.url };
    const unchanged = current !== null && currentNumber !== null && currentNumber.equals(after);
    const json: Record<string, unknown> = {
      window: { first: window.first.format(), last: window.last.format(), server: reader.url },
      ...(choice.kind === 'time' ? { chosenChange: chosen ? { changeNumber: chosen.changeNumber.format(), changeTime: new Date(chosen.time).toISOString() } : null, lookups } : {}),
      effect: effect.kind === 'none' ? { kind: 'none' } : { ...effect, from: effect.from.format(), to: effect.to.format() },
    };
    const continues = `with change ${after.next().format()}${after.isBefore(window.last) ? '' : ' (the next change made)'}`;
    return { lines: out, warnings, next, unchanged, json, resolve: async () => ({ checkpoint: next, lines: [], json: {}, continues }) };
  } finally {
    await reader.close();
  }
}

function storedChangeNumber(stored: StoredCheckpoint | null): ChangeNumber | null {
  if (!stored) return null;
  try {
    return ChangeNumber.parse(stored.position);
  } catch {
    return null;
  }
}

function describeStoredChangeNumber(stored: StoredCheckpoint | null, number: ChangeNumber | null, window: ChangelogWindow): string {
  if (!stored) return `none (no checkpoint: a first start begins at the end, after change ${window.last.format()})`;
  if (!number) return `unreadable position '${stored.position.slice(0, 60)}' (server ${stored.server})`;
  const behind = window.last.distanceFrom(number);
  return `after change ${number.format()} (server ${stored.server}; ${behind === 0 ? 'nothing behind' : `${formatCount(behind)} change numbers behind the last`})`;
}

/** Changelog entries read per lookup at first; widened when a stretch of change numbers is empty (a gap). */
const LOOKUP_SPAN = 8;
const LOOKUP_SPAN_MAX = 512;

/** The first change with a number of `from` or more (up to `last`) and its changeTime, for the time search. */
async function nextChange(reader: ChangelogReader, from: ChangeNumber, last: ChangeNumber): Promise<TimedChange | null> {
  let start = from;
  let span = LOOKUP_SPAN;
  while (!start.isAfter(last)) {
    const to = ChangeNumber.min(start.plus(span - 1), last);
    for (const entry of await reader.read(start, to)) {
      const changeNumber = changeNumberOf(entry);
      if (changeNumber === null) continue;
      const time = changeTimeOf(entry);
      if (time === null) {
        throw new CliError(`change ${changeNumber.format()} in cn=changelog has no readable changeTime: this server's changelog cannot be searched by time`, {
          hint: 'give the change number with --change-number instead',
        });
      }
      return { changeNumber, time };
    }
    start = to.next();
    span = Math.min(LOOKUP_SPAN_MAX, span * 4);
  }
  return null;
}

function changeTimeOf(entry: RawChangelogEntry): number | null {
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== 'changetime') continue;
    // (Array.isArray makes a readonly array any[]: the single value is what can be told apart.)
    const first = value === undefined || typeof value === 'string' || Buffer.isBuffer(value) ? value : value[0];
    try {
      return first === undefined ? null : parseGeneralizedTime(String(first));
    } catch {
      return null;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// ad-detector: DirSync cookies, which belong to one DC.

async function planDirSync(ctx: CommandContext, target: Target, choice: StartChoice, current: StoredCheckpoint | null, io: CliIo): Promise<Plan> {
  const directory = ctx.directory(target.source);
  const open = (): Promise<DirSyncReader> => openDirectory(ctx, target.source, () => DirSyncReader.open(target.source, directory));
  // The DC's identity now; the pass (--end) opens its own session once confirmed, however long the question waits.
  const { dc, url } = await open().then(async (reader) => {
    await reader.close();
    return { dc: reader.dc, url: reader.url };
  });
  const out: [string, string][] = [['DC', `${url}: ${dc.toString()}`]];
  const stored = storedCookie(current);
  out.push(['current', stored.text]);
  const warnings: string[] = [];
  if (stored.dc && !stored.dc.sameDc(dc)) {
    warnings.push(`the checkpoint belongs to DC ${stored.dc.toString()}, but ${dc.toString()} answers now: the new start point belongs to ${dc.dnsHostName}`);
  }

  if (choice.kind === 'beginning') {
    const next: StoredCheckpoint = { position: DirSyncCookie.EMPTY.format(), server: dc.format() };
    out.push(['new', `the empty DirSync cookie on ${dc.dnsHostName}: the detector's next pass reads the whole domain`]);
    out.push(['effect', "a FULL LOAD: the next pass publishes every object of the domain in the detector's scope (subscribers receive all of them again; writers apply only what differs)"]);
    warnings.push('the ad-detector will publish every object of the domain in its scope (a full load)');
    const unchanged = current !== null && stored.cookie?.isEmpty === true && stored.dc?.sameDc(dc) === true;
    return {
      lines: out,
      warnings,
      next,
      unchanged,
      json: { dc: dcJson(dc, url), effect: { kind: 'full-load' } },
      resolve: async () => ({ checkpoint: next, lines: [], json: {}, continues: 'with a full DirSync pass: every object of the domain in its scope' }),
    };
  }

  out.push(['new', `the end of the DirSync stream on ${dc.dnsHostName}: a DirSync pass from an empty cookie reads the whole domain, publishes nothing and keeps the final cookie`]);
  out.push([
    'effect',
    current === null
      ? 'none beyond what a first start does: only changes made from now on are published'
      : 'changes not yet published by the detector are SKIPPED: only changes made after the pass are published',
  ]);
  if (current !== null) warnings.push('AD changes the ad-detector has not published yet will never be published');
  return {
    lines: out,
    warnings,
    next: null,
    unchanged: false,
    json: { dc: dcJson(dc, url), effect: { kind: current === null ? 'none' : 'skip-unpublished' } },
    resolve: async () => {
      const reader = await open();
      try {
        if (!reader.dc.sameDc(dc))
          throw new CliError(`another DC answered than a moment ago (${reader.dc.toString()}, not ${dc.toString()}): nothing was written`, { retriable: true, hint: 'run the command again' });
        const pass = await readToEnd(reader, io);
        const checkpoint: StoredCheckpoint = { position: pass.cookie.format(), server: reader.dc.format() };
        return {
          checkpoint,
          lines: [
            [
              'read',
              `${formatCount(pass.objects)} objects in ${pass.pages} DirSync page${pass.pages === 1 ? '' : 's'}, ${formatDuration(pass.elapsedMs)}; new start point: ${pass.cookie.toString()} on ${dc.dnsHostName}`,
            ],
          ],
          json: { pass: { objects: pass.objects, pages: pass.pages, elapsedMs: Math.round(pass.elapsedMs) } },
          continues: `with the changes made after the pass (cookie ${pass.cookie.digest()})`,
        };
      } finally {
        await reader.close();
      }
    },
  };
}

/**
 * A DirSync pass from the empty cookie to the end: the first page that says no more results ends it (the whole
 * domain has been read, and its cookie stands for "now"). Unlike the detector's first start, it does not wait for
 * an empty page: on a domain that keeps changing every page brings something, and those changes are before the
 * new start point anyway.
 */
async function readToEnd(reader: DirSyncReader, io: CliIo): Promise<{ cookie: DirSyncCookie; objects: number; pages: number; elapsedMs: number }> {
  const progress = new Progress(io, { label: `DirSync pass on ${reader.dc.dnsHostName}`, unit: 'objects' });
  let cookie = DirSyncCookie.EMPTY;
  let pages = 0;
  for (;;) {
    let page: DirSyncPage;
    try {
      page = await reader.read(cookie, { flags: DIRSYNC_FLAGS.incrementalValues, maxBytes: 0 });
    } catch (error) {
      progress.finish();
      throw new CliError(`DirSync pass at ${reader.url} failed after ${formatCount(progress.count)} objects: ${describe(error)}`, {
        retriable: true,
        hint: 'nothing was written; run the command again',
        cause: error,
      });
    }
    pages += 1;
    progress.advance(page.entries.length);
    cookie = page.cookie;
    if (!page.moreResults) break;
  }
  const { elapsedMs } = progress.finish();
  return { cookie, objects: progress.count, pages, elapsedMs };
}

function storedCookie(stored: StoredCheckpoint | null): { text: string; cookie: DirSyncCookie | null; dc: DcIdentity | null } {
  if (!stored) return { text: 'none (no checkpoint: a first start reads to the end of the DirSync stream without publishing)', cookie: null, dc: null };
  try {
    const cookie = DirSyncCookie.parse(stored.position);
    const dc = DcIdentity.parse(stored.server);
    return { text: `${cookie.isEmpty ? 'the empty DirSync cookie (a full pass next)' : cookie.toString()} on ${dc.toString()}`, cookie, dc };
  } catch (error) {
    return { text: `unreadable (${describe(error)})`, cookie: null, dc: null };
  }
}

function dcJson(dc: DcIdentity, url: string): Record<string, string> {
  return { url, dnsHostName: dc.dnsHostName, invocationId: dc.invocationId };
}

// ---------------------------------------------------------------------------------------------------------------

/** Opens a detector's own reader; a server down or a refused bind is a CliError naming the directory. */
async function openDirectory<T>(ctx: CommandContext, name: string, open: () => Promise<T>): Promise<T> {
  const dir = ctx.directory(name);
  try {
    return await open();
  } catch (error) {
    if (error instanceof DirectoryUnavailableError) {
      throw new CliError(error.message, { retriable: true, hint: `check that ${dir.urls.join(', ')} is up and reachable from here`, cause: error });
    }
    if (error instanceof DirectoryBindError) {
      throw new CliError(error.message, { hint: `check the bind DN and password of directories.${name} in ${ctx.configFile}`, cause: error });
    }
    throw new CliError(`cannot read directory '${name}': ${describe(error)}`, { cause: error });
  }
}

function lines(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}\n`).join('');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // LDAP result codes and Kafka error codes are numbers, Node's system error codes strings.
  const code = (error as { code?: string | number }).code;
  return code === undefined ? error.message : `${error.message} (code ${String(code)})`;
}
