import { parsePipeControl, PipeControls } from '@idsync/mapping';
import { readRanges } from '@idsync/platform';
import { type CommandContext, kafkaCall } from './context';
import { CliError } from './io';

/** Every pipe's latest control record on the checkpoints topic, read to its end now. */
export async function readPipeControls(ctx: CommandContext): Promise<PipeControls> {
  const topic = ctx.config.kafka.topics.checkpoints.name;
  const admin = await ctx.admin();
  const controls = new PipeControls();
  if (!(await kafkaCall(ctx, () => admin.listTopics())).includes(topic)) return controls;
  const ranges = (await kafkaCall(ctx, () => admin.topicOffsets(topic))).map((p) => ({ topic, partition: p.partition, from: p.low, to: p.high }));
  const results = await readRanges(ctx.kafka, admin, `${ctx.config.kafka.clientId}-cli-pipes-${Date.now()}`, ranges, {
    timeoutMs: 60_000,
    onRecord: (record) => {
      const control = parsePipeControl(record.key, record.value);
      if (control !== null) controls.observe(control);
    },
  });
  if ([...results.values()].some((result) => !result.complete)) throw new CliError(`could not read ${topic} to its end`, { retriable: true, hint: 'try again' });
  return controls;
}
