import { randomUUID } from 'node:crypto';
import { type JsonLogger, type KafkaAdmin, type KafkaClient, readRanges, type RecordProducer, TopicFollower } from '@idsync/platform';
import { type BreakerControl, breakerKey, type DeleteBreaker, encodeBreakerControl, parseBreakerControl } from './delete-breaker';

/**
 * A destination's last control record on the checkpoints topic, reading the topic (compacted) to its end now; null
 * when there is none. `groupId`: the reader's own throw-away group.
 */
export async function readBreakerControl(kafka: KafkaClient, admin: KafkaAdmin, topic: string, destination: string, groupId: string): Promise<BreakerControl | null> {
  const key = breakerKey(destination);
  const ranges = (await admin.topicOffsets(topic)).map((p) => ({ topic, partition: p.partition, from: p.low, to: p.high }));
  let last: BreakerControl | null = null;
  const results = await readRanges(kafka, admin, groupId, ranges, {
    timeoutMs: 60_000,
    onRecord: (record) => {
      if (record.key?.toString('utf8') !== key) return;
      const control = parseBreakerControl(record.value);
      if (control !== null && (last === null || control.at >= last.at)) last = control;
    },
  });
  if ([...results.values()].some((result) => !result.complete)) throw new Error(`could not read ${topic} to its end for the delete breaker's state`);
  return last;
}

export interface BreakerControlOptions {
  readonly kafka: KafkaClient;
  /** The checkpoints topic (compacted), where `delete-breaker/<destination>` holds the breaker's state. */
  readonly topic: string;
  readonly destination: string;
  readonly breaker: DeleteBreaker;
  readonly logger: JsonLogger;
  readonly service: string;
  /** Prefix of the reader's throw-away consumer groups. */
  readonly groupPrefix: string;
}

/**
 * The breaker's shared state on the checkpoints topic: read to its end before the writer starts (so a breaker tripped
 * before a restart is still tripped), then followed (an operator's decision, another replica's trip), and written
 * when this writer trips it.
 */
export class BreakerControlView {
  private follower: TopicFollower | undefined;
  private readonly key: string;

  constructor(private readonly options: BreakerControlOptions) {
    this.key = breakerKey(options.destination);
  }

  async start(): Promise<void> {
    const { kafka, topic } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const control = await readBreakerControl(kafka, admin, topic, this.options.destination, `${this.options.groupPrefix}-breaker-load`);
      if (control !== null) this.options.breaker.observe(control);
    } finally {
      await admin.disconnect();
    }
    const follower = new TopicFollower(kafka, {
      topic,
      groupId: `${this.options.groupPrefix}-breaker-${randomUUID()}`,
      onBatch: (batch) => {
        for (const record of batch.records) this.read(record.key, record.value);
      },
      onCrash: (error) => this.options.logger.event('error', `${this.options.service}.deletes.control.crashed`, { topic, error: error.message }),
    });
    await follower.start();
    this.follower = follower;
    const state = this.options.breaker.state;
    if (state?.state === 'tripped')
      this.options.logger.event('warn', `${this.options.service}.deletes.still-tripped`, { since: new Date(state.at).toISOString(), by: state.by, decide: 'idsync deletes approve|discard' });
  }

  /** Publishes this writer's trip (before any delete is held, so status shows it). */
  async publish(producer: RecordProducer, control: BreakerControl): Promise<void> {
    await producer.send({ topic: this.options.topic, messages: [{ key: this.key, value: encodeBreakerControl(control) }] });
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }

  private read(key: Buffer | null, value: Buffer | null): void {
    if (key?.toString('utf8') !== this.key) return;
    const control = parseBreakerControl(value);
    if (control === null) return;
    const before = this.options.breaker.state;
    this.options.breaker.observe(control);
    if (before?.at !== control.at && control.state !== 'tripped' && before?.state === 'tripped') {
      this.options.logger.event('info', `${this.options.service}.deletes.${control.state}`, { by: control.by, at: new Date(control.at).toISOString() });
    }
  }
}
