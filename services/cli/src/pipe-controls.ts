import { parsePipeControl, PipeControls } from '@idsync/mapping';
import { type CommandContext, kafkaCall } from './context';
import { readWindows, topicWindows } from './topic-windows';

/** Every pipe's latest control record on the checkpoints topic, read to its end now. */
export async function readPipeControls(ctx: CommandContext): Promise<PipeControls> {
  const topic = ctx.config.kafka.topics.checkpoints.name;
  const admin = await ctx.admin();
  const controls = new PipeControls();
  if (!(await kafkaCall(ctx, () => admin.listTopics())).includes(topic)) return controls;
  await readWindows(ctx, await topicWindows(ctx, admin, topic), (record) => {
    const control = parsePipeControl(record.key, record.value);
    if (control !== null) controls.observe(control);
  });
  return controls;
}
