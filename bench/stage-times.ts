// needs-stack
// Where a pipeline run spent its time, from the topics it left behind: each record's timestamp (CreateTime: when its
// stage produced it) on the change topics (detectors), the operations topics (mapper) and the links topic (writers,
// one link per entry created). A run's phases (creates, modifies, the latency run) are bursts separated by quiet gaps
// of more than 3 s; per topic and burst: records, first and last timestamp relative to the run's first record, and
// the rate from its first to its last record. A stage that keeps up ends close to the stage before it; the one where
// the gap opens is the one that limits the drain.
// Usage: npm run bench -- stage-times <topic prefix, e.g. idsync.bench.mx31abc.> [since epoch ms]
import { Kafka, logLevel } from 'kafkajs';
import { stackKafkaOptions } from './lib/isolated-services.ts';

const PREFIX = process.argv[2];
const SINCE = Number(process.argv[3] ?? 0);
if (!PREFIX) {
  console.error('usage: stage-times <topic prefix> [since epoch ms]');
  process.exit(2);
}

const kafka = new Kafka({ ...stackKafkaOptions(), clientId: 'bench-stage-times', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const topics = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX) && /(changes|operations|links)$/.test(t)).sort();

const GAP_MS = 3_000;

/** The record timestamps of a topic (read committed), sorted. */
async function timestamps(topic: string): Promise<number[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const result: number[] = [];
  if (total === 0) return result;
  const consumer = kafka.consumer({ groupId: `bench-stage-times-${Date.now()}-${Math.random()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          seen++;
          const ts = Number(message.timestamp);
          if (ts >= SINCE) result.push(ts);
        }
        if (seen >= total) resolve();
      },
    });
  });
  // Transaction markers take offsets too: stop when nothing more arrives.
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  await consumer.disconnect();
  return result.sort((a, b) => a - b);
}

/** Bursts of records: runs of timestamps with no gap over GAP_MS. */
function bursts(sorted: readonly number[]): { count: number; first: number; last: number }[] {
  const out: { count: number; first: number; last: number }[] = [];
  for (const ts of sorted) {
    const current = out.at(-1);
    if (current && ts - current.last <= GAP_MS) {
      current.count++;
      current.last = ts;
    } else out.push({ count: 1, first: ts, last: ts });
  }
  return out;
}

const series = new Map<string, number[]>();
for (const topic of topics) series.set(topic, await timestamps(topic));
const origin = Math.min(...[...series.values()].flatMap((ts) => (ts.length > 0 ? [ts[0] as number] : [])));
console.log(`stage times of ${PREFIX}* (ms after the run's first record; bursts split by quiet gaps over ${GAP_MS} ms)`);
for (const [topic, ts] of series) {
  const name = topic.slice(PREFIX.length).padEnd(16);
  if (ts.length === 0) {
    console.log(`  ${name} no records`);
    continue;
  }
  for (const b of bursts(ts)) {
    const seconds = (b.last - b.first) / 1000;
    console.log(`  ${name} ${String(b.count).padStart(6)} records  +${b.first - origin} .. +${b.last - origin} ms  ${seconds > 0 ? (b.count / seconds).toFixed(0) : '-'} records/s`);
  }
}
await admin.disconnect();
process.exit(0);
