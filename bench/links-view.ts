/**
 * A writer's start-up with a large links topic (needs-stack: Kafka): N link records (1% tombstones) produced to a
 * compacted topic of this run, then, each in a fresh process, (a) the writer's LinksView rebuilding its SQLite view
 * from the topic (the time a writer takes before it consumes), then counterpart lookups and read barriers, and
 * (b) the bare baseline: a kafkajs consumer reading and decoding the same records the same way, storing nothing.
 * Memory is the child's RSS and heap after a GC.
 *   npm run bench -- links-view [records]
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Kafka, logLevel } from 'kafkajs';
import { decodeLink, encodeLink, type EntryLink, linkKey } from '@idsync/contracts';
import { LinksView, LinkStore } from '@idsync/links';
import { JsonLogger, KafkaClient, SecretRedactor } from '@idsync/platform';
import { stackKafkaOptions } from './lib/isolated-services.ts';

const PARTITIONS = 6;
const LOOKUPS = 200_000;
const BARRIERS = 200;

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function memory(): { rssMb: number; heapMb: number } {
  gc();
  const m = process.memoryUsage();
  return { rssMb: Math.round(m.rss / 1e6), heapMb: Math.round(m.heapUsed / 1e6) };
}

const kafka = (clientId: string): Kafka => new Kafka({ ...stackKafkaOptions(), clientId, logLevel: logLevel.NOTHING });

async function produce(topic: string, total: number): Promise<{ ms: number; sample: string[] }> {
  const admin = kafka('bench-links-admin').admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  await admin.disconnect();
  const producer = kafka('bench-links-producer').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const started = Date.now();
  const sample: string[] = [];
  let linkedAt = 1_760_000_000_000;
  for (let sent = 0; sent < total;) {
    const messages: { key: string; value: Buffer | null }[] = [];
    for (let i = 0; i < 10_000 && sent < total; i++, sent++) {
      const link: EntryLink = {
        pipe: 'ad-to-ds',
        source: { directory: 'ad', kind: 'objectGUID', value: randomUUID() },
        destination: { directory: 'ds', kind: 'entryUUID', value: randomUUID() },
        origin: 'created',
        linkedAt: linkedAt++,
        linkedBy: 'ds-writer',
      };
      messages.push({ key: linkKey(link), value: encodeLink(link) });
      if (sent % 100 === 99) messages.push({ key: linkKey(link), value: null });
      if (sent % 5 === 0) sample.push(link.source.value);
    }
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  return { ms: Date.now() - started, sample: sample.slice(0, 20_000) };
}

async function child(mode: 'view' | 'bare', topic: string, sample: string[]): Promise<void> {
  const before = memory();
  const started = Date.now();
  const out: Record<string, unknown> = { mode, before };
  if (mode === 'bare') {
    const consumer = kafka('bench-links-bare').consumer({ groupId: `bench-links-bare-${randomUUID()}`, maxBytesPerPartition: 4 * 1024 * 1024 });
    const admin = kafka('bench-links-bare-admin').admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
    await admin.disconnect();
    let records = 0;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            if (message.value !== null) decodeLink(message.value);
            records += 1;
          }
          if (batch.messages.length > 0 && BigInt(batch.lastOffset()) + 1n >= (ends.get(batch.partition) ?? 0n)) ends.delete(batch.partition);
          if (ends.size === 0) resolve();
        },
      });
    });
    out['loadMs'] = Date.now() - started;
    out['records'] = records;
    out['after'] = memory();
    await consumer.disconnect();
  } else {
    const logger = new JsonLogger('bench', 'warn', new SecretRedactor([]), () => undefined);
    const store = LinkStore.open();
    const view = new LinksView({ kafka: KafkaClient.wrap(kafka('bench-links-view'), { clientId: 'bench-links-view' }), topic, store, logger, groupPrefix: 'bench-links' });
    await view.start();
    out['loadMs'] = Date.now() - started;
    out['records'] = view.status().recordsRead;
    out['links'] = view.status().links;
    out['retired'] = view.status().retired;
    out['after'] = memory();
    const lookupStart = process.hrtime.bigint();
    let hits = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const id = i % 2 === 0 ? (sample[i % sample.length] as string) : randomUUID();
      if (store.counterpart('ad', id, 'ds') !== null) hits += 1;
    }
    out['lookupsPerSecond'] = Math.round(LOOKUPS / (Number(process.hrtime.bigint() - lookupStart) / 1e9));
    out['lookupHits'] = hits;
    const barriers: number[] = [];
    for (let i = 0; i < BARRIERS; i++) {
      const t = process.hrtime.bigint();
      await view.catchUp();
      barriers.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    barriers.sort((a, b) => a - b);
    out['catchUpP50Ms'] = Number((barriers[Math.floor(BARRIERS / 2)] ?? 0).toFixed(2));
    out['catchUpP99Ms'] = Number((barriers[Math.floor(BARRIERS * 0.99)] ?? 0).toFixed(2));
    out['afterLookups'] = memory();
    await view.stop();
    store.close();
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const [mode, topic, sampleJson] = process.argv.slice(3);
    await child(mode as 'view' | 'bare', topic as string, JSON.parse(sampleJson ?? '[]') as string[]);
    return;
  }
  const total = Number(process.argv[2] ?? 1_000_000);
  const topic = `idsync.bench.links.${Date.now().toString(36)}`;
  console.log(`links-view: ${total.toLocaleString('en-US')} link records (1% tombstones) on ${topic}, ${PARTITIONS} partitions`);
  const produced = await produce(topic, total);
  console.log(`produced in ${(produced.ms / 1000).toFixed(1)} s`);
  const self = fileURLToPath(import.meta.url);
  const sample = JSON.stringify(produced.sample.slice(0, 2_000));
  const results: Record<string, unknown>[] = [];
  for (const mode of ['bare', 'view', 'bare', 'view'] as const) {
    const run = spawnSync(process.execPath, [self, '--child', mode, topic, sample], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    if (run.status !== 0) throw new Error(`${mode} child failed: ${run.stderr}`);
    results.push(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>);
  }
  console.log('| run | read to the end | records/s | RSS after (MB) | heap after (MB) | other |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const after = r['after'] as { rssMb: number; heapMb: number };
    const rate = Math.round((r['records'] as number) / ((r['loadMs'] as number) / 1000));
    const other =
      r['mode'] === 'view'
        ? `${(r['links'] as number).toLocaleString('en-US')} links, ${(r['retired'] as number).toLocaleString('en-US')} retired; ${(r['lookupsPerSecond'] as number).toLocaleString('en-US')} lookups/s; catchUp p50 ${r['catchUpP50Ms'] as number} ms, p99 ${r['catchUpP99Ms'] as number} ms; RSS after lookups ${(r['afterLookups'] as { rssMb: number }).rssMb} MB`
        : 'decode only, nothing kept';
    console.log(
      `| ${r['mode'] === 'view' ? 'LinksView (SQLite)' : 'bare kafkajs read'} | ${((r['loadMs'] as number) / 1000).toFixed(1)} s | ${rate.toLocaleString('en-US')} | ${after.rssMb} | ${after.heapMb} | ${other} |`,
    );
  }
  const admin = kafka('bench-links-admin').admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
