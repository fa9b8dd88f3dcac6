import { randomUUID } from 'node:crypto';
import { parsePipeControl, type PipeControl, PipeControls } from '@idsync/mapping';
import { type JsonLogger, type KafkaClient, readRanges, TopicFollower } from '@idsync/platform';

export interface PipeControlViewOptions {
  readonly kafka: KafkaClient;
  /** The checkpoints topic (compacted), where `pipe-control/<pipe>` records say which pipes are paused. */
  readonly topic: string;
  readonly logger: JsonLogger;
  /** Prefix of the reader's throw-away consumer groups. */
  readonly groupPrefix: string;
}

/**
 * The pipes' pause state as the checkpoints topic has it: read to its end before the mapper consumes anything (a pipe
 * paused before a restart stays paused), then followed (`idsync pipe pause|resume` takes effect within a fetch).
 */
export class PipeControlView {
  readonly controls = new PipeControls();
  private follower: TopicFollower | undefined;

  constructor(private readonly options: PipeControlViewOptions) {}

  isPaused(pipe: string): boolean {
    return this.controls.isPaused(pipe);
  }

  get paused(): PipeControl[] {
    return this.controls.paused;
  }

  async start(): Promise<void> {
    const { kafka, topic, logger } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ranges = (await admin.topicOffsets(topic)).map((p) => ({ topic, partition: p.partition, from: p.low, to: p.high }));
      const results = await readRanges(kafka, admin, `${this.options.groupPrefix}-pipes-load`, ranges, { timeoutMs: 60_000, onRecord: (record) => this.read(record.key, record.value, false) });
      if ([...results.values()].some((result) => !result.complete)) throw new Error(`could not read ${topic} to its end for the pipes' pause state`);
    } finally {
      await admin.disconnect();
    }
    for (const control of this.paused)
      logger.event('warn', 'mapper.pipe.still-paused', { pipe: control.pipe, since: new Date(control.at).toISOString(), by: control.by, resume: `idsync pipe resume ${control.pipe}` });
    const follower = new TopicFollower(kafka, {
      topic,
      groupId: `${this.options.groupPrefix}-pipes-${randomUUID()}`,
      onBatch: (batch) => {
        for (const record of batch.records) this.read(record.key, record.value, true);
      },
      onCrash: (error) => logger.event('error', 'mapper.pipe.control.crashed', { topic, error: error.message }),
    });
    await follower.start();
    this.follower = follower;
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }

  private read(key: Buffer | null, value: Buffer | null, live: boolean): void {
    const control = parsePipeControl(key, value);
    if (control === null || !this.controls.observe(control) || !live) return;
    this.options.logger.event(control.state === 'paused' ? 'warn' : 'info', `mapper.pipe.${control.state === 'paused' ? 'paused' : 'resumed'}`, {
      pipe: control.pipe,
      by: control.by,
      at: new Date(control.at).toISOString(),
      ...(control.reason === undefined ? {} : { reason: control.reason }),
    });
  }
}
