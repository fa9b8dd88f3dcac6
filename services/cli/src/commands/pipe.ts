import { encodePipeControl, type PipeControl, pipeControlKey } from '@idsync/mapping';
import { type CliCommand } from '../command';
import { CommandContext, kafkaCall } from '../context';
import { table } from '../format';
import { EXIT_CODES, RefusedError, UsageError } from '../io';
import { GLOBAL_HELP, parseCommandArgs } from '../options';
import { readPipeControls } from '../pipe-controls';

const SUBCOMMANDS = ['pause', 'resume', 'status'] as const;

const HELP = `idsync pipe: pause and resume one sync pipe

usage: idsync pipe pause <pipe> [--reason TEXT] [--json]
       idsync pipe resume <pipe> [--json]
       idsync pipe status [--json]

A paused pipe stops emitting: the mapper produces nothing for it and holds its input where it is. The records of its
source's change topic wait, uncommitted, from the first one the pipe would have written on each partition; when the
pipe is resumed they flow in order, so nothing is lost or skipped. A record holds its partition (per-entry order),
so another pipe reading the same source waits with it on that partition. The detectors go on reading (their topics
keep the changes), the writers apply what was mapped before the pause.

The state is a record on the checkpoints topic (kafka.topics.checkpoints, compacted; key pipe-control/<pipe>) that
every mapper replica follows: it takes effect within a second, and survives restarts. The mapper's /health (probe
"pipes"), its metric idsync_mapper_pipe_paused{pipe} and idsync status show it.

Subcommands:
  pause <pipe>    pause a pipe of the configuration
    --reason TEXT   recorded with the pause (shown by status)
  resume <pipe>   resume it: held records are mapped from where they wait
  status          every configured pipe: running or paused (since when, by whom, why)

${GLOBAL_HELP}

Exit status: 0 done; 1 Kafka failed; 2 wrong subcommand, option, or a pipe the configuration does not have;
3 refused: pausing a paused pipe, resuming a running one.
`;

export const pipeCommand: CliCommand = {
  name: 'pipe',
  summary: "pause, resume or show sync pipes (the mapper holds a paused pipe's input)",
  help: HELP,
  run: async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(sub === undefined ? 'which subcommand?' : `unknown subcommand '${sub}'`, `subcommands: ${SUBCOMMANDS.join(', ')}; see idsync pipe --help`);
    }
    const { values, positionals } = parseCommandArgs('pipe', rest, { reason: { type: 'string' } });
    const ctx = await CommandContext.open(io, values.config);
    try {
      const configured = ctx.config.pipes.map((pipe) => pipe.name);
      const controls = await readPipeControls(ctx);
      if (sub === 'status') {
        if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'idsync pipe status shows every pipe');
        const rows = configured.map((pipe) => ({ pipe, control: controls.of(pipe) }));
        if (values.json) {
          io.out(
            `${JSON.stringify({ pipes: rows.map(({ pipe, control }) => ({ pipe, state: control?.state ?? 'running', ...(control === undefined ? {} : { since: new Date(control.at).toISOString(), by: control.by, reason: control.reason ?? null }) })) }, null, 2)}\n`,
          );
        } else {
          io.out(
            table(rows, [
              { header: 'PIPE', value: (r) => r.pipe },
              { header: 'STATE', value: (r) => r.control?.state ?? 'running' },
              { header: 'SINCE', value: (r) => (r.control === undefined ? '' : new Date(r.control.at).toISOString()) },
              { header: 'BY', value: (r) => r.control?.by ?? '' },
              { header: 'REASON', value: (r) => r.control?.reason ?? '' },
            ]),
          );
        }
        return EXIT_CODES.ok;
      }
      if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'which pipe?' : 'one pipe at a time', `pipes: ${configured.join(', ')}`);
      const pipe = positionals[0] as string;
      if (!configured.includes(pipe)) throw new UsageError(`no pipe '${pipe}' in the configuration`, `pipes: ${configured.join(', ')}`);
      const pausing = sub === 'pause';
      if (pausing === controls.isPaused(pipe)) {
        const control = controls.of(pipe);
        throw new RefusedError(
          pausing ? `pipe ${pipe} is already paused (since ${new Date(control?.at ?? 0).toISOString()}, by ${control?.by ?? '?'})` : `pipe ${pipe} is not paused`,
          pausing ? `resume it with idsync pipe resume ${pipe}` : 'idsync pipe status shows every pipe',
        );
      }
      if (!pausing && values.reason !== undefined) throw new UsageError('--reason goes with pause', 'idsync pipe resume <pipe>');
      const control: PipeControl = {
        pipe,
        state: pausing ? 'paused' : 'running',
        at: io.now(),
        by: io.env['USER'] ?? io.env['LOGNAME'] ?? 'idsync',
        ...(values.reason === undefined ? {} : { reason: values.reason }),
      };
      const producer = ctx.kafka.producer();
      await kafkaCall(ctx, () => producer.connect());
      try {
        await kafkaCall(ctx, () => producer.send({ topic: ctx.config.kafka.topics.checkpoints.name, messages: [{ key: pipeControlKey(pipe), value: encodePipeControl(control) }] }));
      } finally {
        await producer.disconnect().catch(() => undefined);
      }
      if (values.json) io.out(`${JSON.stringify({ pipe, state: control.state, at: new Date(control.at).toISOString(), by: control.by, reason: control.reason ?? null })}\n`);
      else
        io.out(
          pausing
            ? `pipe ${pipe} paused: the mapper holds its input from its next batch (within a second); resume with idsync pipe resume ${pipe}\n`
            : `pipe ${pipe} resumed: its held records are mapped in order\n`,
        );
      return EXIT_CODES.ok;
    } finally {
      await ctx.close();
    }
  },
};
