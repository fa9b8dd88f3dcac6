// needs-stack
// Where a pipeline run spent its time, from the topics it left behind: each record's timestamp (CreateTime: when its
// stage produced it) on the change topics (detectors), the operations topics (mapper) and the links topic (writers,
// one link per entry created). Per topic: records, first and last timestamp relative to the first change, and the
// rate from its first to its last record. A stage that keeps up ends close to the stage before it; the one where the
// gap opens is the one that limits the drain.
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

interface Span {
  count: number;
  first: number;
  last: number;
}

async function span(topic: string): Promise<Span> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const result: Span = { count: 0, first: Infinity, last: -Infinity };
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
          if (ts < SINCE) continue;
          result.count++;
          result.first = Math.min(result.first, ts);
          result.last = Math.max(result.last, ts);
        }
        if (seen >= total) resolve();
      },
    });
  });
  // Transaction markers take offsets too: stop when nothing more arrives.
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  await consumer.disconnect();
  return result;
}

const spans = new Map<string, Span>();
for (const topic of topics) spans.set(topic, await span(topic));
const origin = Math.min(...[...spans.values()].filter((s) => s.count > 0).map((s) => s.first));
console.log(`stage times of ${PREFIX}* (ms after the first record of the run)`);
for (const [topic, s] of spans) {
  if (s.count === 0) {
    console.log(`  ${topic.slice(PREFIX.length).padEnd(16)} no records`);
    continue;
  }
  const seconds = (s.last - s.first) / 1000;
  console.log(`  ${topic.slice(PREFIX.length).padEnd(16)} ${String(s.count).padStart(6)} records  first +${s.first - origin} ms  last +${s.last - origin} ms  ${seconds > 0 ? (s.count / seconds).toFixed(0) : '-'} records/s`);
}
await admin.disconnect();
process.exit(0);
