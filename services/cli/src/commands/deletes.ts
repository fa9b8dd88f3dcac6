import { decodeWriteRequest, UndecodableRecordError } from '@idsync/contracts';
import { serviceGroupId, type SyncConfig } from '@idsync/config';
import { type KafkaAdmin, type RangeRecord, readRanges } from '@idsync/platform';
import { type BreakerControl, breakerKey, encodeBreakerControl, HELD_AT_HEADER, heldTopicOf, readBreakerControl } from '@idsync/writer';
import { type CliCommand } from '../command';
import { CommandContext, kafkaCall } from '../context';
import { table } from '../format';
import { type CliIo, EXIT_CODES, RefusedError, UsageError } from '../io';
import { GLOBAL_HELP, parseCommandArgs } from '../options';

const SUBCOMMANDS = ['status', 'list', 'approve', 'discard'] as const;
const WRITERS = ['ad-writer', 'ds-writer'] as const;
type Writer = (typeof WRITERS)[number];

const HELP = `idsync deletes: the delete circuit breaker — see and decide what it holds
usage: idsync deletes status [--destination D] [--json]
       idsync deletes list [--destination D] [--json]
       idsync deletes (approve | discard) --destination D [--yes]

A writer with services.<writer>.deleteBreaker (the demo's: 20 deletes per minute) applies at most maxDeletes
deletes within windowMs. The one after them trips the breaker: from then on every delete for that destination (and
the unlink of the deleted entry from groups) is held on the writer's held topic (<operations topic>.held), while
every other change keeps flowing. The breaker's state is on the checkpoints topic (key delete-breaker/<destination>),
shared by the writer's replicas and kept across restarts.

Subcommands:
  status    per destination: closed, or tripped (since, by which writer, deletes counted, limit, window), the
            deletes held and not yet decided, and the last decision.
  list      the held deletes not yet decided: held at, request id, pipe, operation, DN.
  approve   the held deletes are applied (those held up to now; the writer applies them without counting them),
            and the breaker closes: counting starts afresh.
  discard   the held deletes are dead-lettered (idsync dlq list shows them; idsync dlq redrive brings one back,
            and it counts again), and the breaker closes.
    --destination D  the destination directory (its name under directories:) or its writer (ad-writer, ds-writer)
    -y, --yes        decide without asking (needed when not on a terminal)

${GLOBAL_HELP}
Exit status: 0 done; 1 Kafka failed; 2 wrong subcommand, option or destination; 3 refused (not confirmed, or
nothing to decide).
`;

export const deletesCommand: CliCommand = {
  name: 'deletes',
  summary: 'the delete circuit breaker: status, held deletes, approve or discard them',
  help: HELP,
  run: async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(sub === undefined ? 'which subcommand?' : `unknown subcommand '${sub}'`, `subcommands: ${SUBCOMMANDS.join(', ')}; see idsync deletes --help`);
    }
    const { values, positionals } = parseCommandArgs('deletes', rest, { destination: { type: 'string' }, yes: { type: 'boolean', short: 'y', default: false } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'see idsync deletes --help');
    const ctx = await CommandContext.open(io, values.config);
    try {
      const writers = selectWriters(ctx.config, values.destination);
      if (sub === 'status' || sub === 'list') {
        const states = await Promise.all(writers.map((writer) => readState(ctx, writer, sub === 'list')));
        report(io, sub, states, values.json === true);
        return EXIT_CODES.ok;
      }
      if (values.destination === undefined) throw new UsageError(`${sub} needs --destination`, `destinations with a breaker: ${writers.map((w) => ctx.config.services[w].destination).join(', ')}`);
      return await decide(ctx, io, writers[0] as Writer, sub as 'approve' | 'discard', values.yes === true, values.json === true);
    } finally {
      await ctx.close();
    }
  },
};

/** The writers with a breaker, or the one a --destination names. */
function selectWriters(config: SyncConfig, destination: string | undefined): Writer[] {
  const withBreaker = WRITERS.filter((writer) => config.services[writer].deleteBreaker !== undefined);
  if (destination === undefined) {
    if (withBreaker.length === 0) throw new UsageError('no writer has a delete breaker (services.<writer>.deleteBreaker)', 'see README.md, "Delete circuit breaker"');
    return withBreaker;
  }
  const writer = WRITERS.find((w) => w === destination || config.services[w].destination === destination);
  if (writer === undefined) throw new UsageError(`no destination or writer '${destination}'`, `destinations: ${WRITERS.map((w) => `${config.services[w].destination} (${w})`).join(', ')}`);
  if (config.services[writer].deleteBreaker === undefined) throw new UsageError(`${writer} has no delete breaker (services.${writer}.deleteBreaker)`);
  return [writer];
}

interface HeldDelete {
  readonly partition: number;
  readonly offset: string;
  readonly heldAt: number;
  readonly requestId: string;
  readonly pipe: string;
  readonly op: string;
  readonly dn: string;
}

interface BreakerState {
  readonly writer: Writer;
  readonly destination: string;
  readonly heldTopic: string;
  readonly control: BreakerControl | null;
  /** Held deletes the writer has not consumed yet (its group's committed offsets to the topic's end). */
  readonly pending: number;
  readonly held: readonly HeldDelete[];
}

function operationsTopic(config: SyncConfig, writer: Writer): string {
  return writer === 'ad-writer' ? config.kafka.topics.adOperations.name : config.kafka.topics.dsOperations.name;
}

async function readState(ctx: CommandContext, writer: Writer, withRecords: boolean): Promise<BreakerState> {
  const { config } = ctx;
  const destination = config.services[writer].destination;
  const heldTopic = heldTopicOf(operationsTopic(config, writer));
  const admin = await ctx.admin();
  const control = await readControl(ctx, admin, destination);
  const topics = await kafkaCall(ctx, () => admin.listTopics());
  if (!topics.includes(heldTopic)) return { writer, destination, heldTopic, control, pending: 0, held: [] };
  const ranges = await kafkaCall(ctx, () => admin.unconsumedRanges(serviceGroupId(config, writer), heldTopic));
  const pending = ranges.reduce((sum, range) => sum + (range.to - range.from), 0);
  const held: HeldDelete[] = [];
  if (withRecords && pending > 0) {
    await kafkaCall(ctx, () => readRanges(ctx.kafka, admin, `${config.kafka.clientId}-cli-deletes`, ranges, { timeoutMs: 60_000, onRecord: (record) => void held.push(describeHeld(record)) }));
  }
  return { writer, destination, heldTopic, control, pending, held: held.sort((a, b) => a.heldAt - b.heldAt) };
}

function describeHeld(record: RangeRecord): HeldDelete {
  const base = { partition: record.partition, offset: String(record.offset), heldAt: Number(record.headers[HELD_AT_HEADER] ?? record.timestamp) };
  try {
    const request = decodeWriteRequest(record.value);
    return { ...base, requestId: request.requestId, pipe: request.pipe, op: request.op, dn: request.dn };
  } catch (error) {
    if (!(error instanceof UndecodableRecordError)) throw error;
    return { ...base, requestId: '(undecodable)', pipe: '', op: '', dn: '' };
  }
}

/** The destination's last control record on the checkpoints topic (none before the topic exists). */
async function readControl(ctx: CommandContext, admin: KafkaAdmin, destination: string): Promise<BreakerControl | null> {
  const topic = ctx.config.kafka.topics.checkpoints.name;
  if (!(await kafkaCall(ctx, () => admin.listTopics())).includes(topic)) return null;
  return kafkaCall(ctx, () => readBreakerControl(ctx.kafka, admin, topic, destination, `${ctx.config.kafka.clientId}-cli-deletes`));
}

function stateText(state: BreakerState): string {
  const control = state.control;
  if (control?.state === 'tripped') {
    return `TRIPPED since ${new Date(control.at).toISOString()} by ${control.by}: ${control.deletes} deletes within ${control.windowMs / 1000} s, limit ${control.limit}`;
  }
  return control === null ? 'closed' : `closed (${control.state} by ${control.by} at ${new Date(control.at).toISOString()})`;
}

function report(io: CliIo, sub: 'status' | 'list', states: readonly BreakerState[], json: boolean): void {
  if (json) {
    io.out(
      `${JSON.stringify(
        states.map((s) => ({
          ...s,
          control: s.control && { ...s.control, at: new Date(s.control.at).toISOString() },
          held: sub === 'list' ? s.held.map((h) => ({ ...h, heldAt: new Date(h.heldAt).toISOString() })) : undefined,
        })),
        null,
        2,
      )}\n`,
    );
    return;
  }
  for (const state of states) {
    io.out(
      `${state.destination} (${state.writer}): ${stateText(state)}; ${state.pending} held request${state.pending === 1 ? '' : 's'} not decided (deletes and their unlinks, on ${state.heldTopic})\n`,
    );
    if (sub === 'list' && state.held.length > 0) {
      io.out(
        `${table(state.held, [
          { header: 'held at', value: (h) => new Date(h.heldAt).toISOString() },
          { header: 'request', value: (h) => h.requestId },
          { header: 'pipe', value: (h) => h.pipe },
          { header: 'op', value: (h) => h.op },
          { header: 'dn', value: (h) => h.dn },
        ])}\n`,
      );
    }
    if (state.control?.state === 'tripped') io.out(`  decide: idsync deletes approve --destination ${state.destination}   or   idsync deletes discard --destination ${state.destination}\n`);
  }
}

async function decide(ctx: CommandContext, io: CliIo, writer: Writer, decision: 'approve' | 'discard', yes: boolean, json: boolean): Promise<number> {
  const state = await readState(ctx, writer, false);
  if (state.control?.state !== 'tripped' && state.pending === 0) {
    throw new RefusedError(`the breaker of ${state.destination} is not tripped and holds no deletes: nothing to ${decision}`, 'idsync deletes status shows the state');
  }
  if (!yes) {
    const question = `${decision} the ${state.pending} held request${state.pending === 1 ? '' : 's'} (deletes and their unlinks) for ${state.destination}${decision === 'approve' ? ' (they will be applied)' : ' (they go to the dead-letter topic)'}?`;
    const ok = io.confirm ? await io.confirm(question) : false;
    if (!ok) throw new RefusedError(`${decision} not confirmed: nothing changed`, 'check them with idsync deletes list, then add --yes');
  }
  const control: BreakerControl = { state: decision === 'approve' ? 'approved' : 'discarded', at: io.now(), by: io.env['USER'] ?? io.env['LOGNAME'] ?? 'idsync' };
  const producer = ctx.kafka.producer();
  await kafkaCall(ctx, () => producer.connect());
  try {
    await kafkaCall(ctx, () => producer.send({ topic: ctx.config.kafka.topics.checkpoints.name, messages: [{ key: breakerKey(state.destination), value: encodeBreakerControl(control) }] }));
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  const text = `${control.state} the deletes held for ${state.destination} (${state.pending} not yet consumed by ${writer}); the breaker is closed`;
  io.out(json ? `${JSON.stringify({ destination: state.destination, decision: control.state, by: control.by, at: new Date(control.at).toISOString(), held: state.pending })}\n` : `${text}\n`);
  return EXIT_CODES.ok;
}
