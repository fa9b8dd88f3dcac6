/**
 * Kafka clients for Node.js compared on the local broker (needs-stack: Kafka): kafkajs (the product's client, the
 * baseline) against @platformatic/kafka and @confluentinc/kafka-javascript, each in a fresh process, one client
 * instance per role, with the same settings: acks=all, idempotent producer, keyed records of 1 KiB, the same topics
 * layout (PARTITIONS partitions), read_committed consumers.
 *   (a) produce: RECORDS records sent in sequential batches of BATCH (one send per batch, as the services do);
 *   (b) transactions, the mapper's consume-transform-produce shape: read an input topic, and for every M records of a
 *       partition one transaction = produce M records to an output topic + commit the input offsets (sendOffsets);
 *       N transactions; records/s from the first record read to the last commit, p50/p99 per transaction;
 *   (c) consume: RECORDS records from the beginning of a topic written in transactions of 1,000, read_committed;
 *   (d) the process's RSS and heap (after a GC) at the end, and its peak RSS;
 *   (e) KIP-848: (b) again with group.protocol=consumer, for the clients that have it;
 *   (f) a detector checkpoint: offset metadata committed in a transaction for a group without members, read back
 *       with the product's reader (kafkajs admin.fetchOffsets); and one written by kafkajs, read with the client.
 * Each run does ROUNDS rounds, the clients' order rotating, and prints median (min–max) of the rounds.
 * The candidates come from bench/kafka-clients/ (own package.json, installed by scripts/bench.sh on demand; never
 * dependencies of the product). A client that is not installed is reported as such.
 *   npm run bench -- kafka-clients [RECORDS] [N] [M] [clients] [ROUNDS]   defaults: 100000 300 100 kafkajs,platformatic,confluent 3
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { stackEnv, stackKafkaOptions } from '../tests/integration/support/local-stack.ts';

// The local stack's Kafka as its administrator: TLS with the stack's CA, SCRAM-SHA-512 (the same for every client).
const STACK = stackEnv();
const ADMIN = stackKafkaOptions(STACK);
const BROKERS = process.env['KAFKA_BROKERS']?.split(',') ?? ADMIN.brokers;
const SASL = { username: ADMIN.sasl.username, password: ADMIN.sasl.password };
/** kafkajs (and confluent's KafkaJS-compatible) security settings. */
const KAFKAJS_SECURITY = { ssl: ADMIN.ssl, sasl: ADMIN.sasl };
/** librdkafka's (node-rdkafka API) security settings. */
const RDKAFKA_SECURITY = {
  'security.protocol': 'sasl_ssl',
  'sasl.mechanisms': 'SCRAM-SHA-512',
  'sasl.username': SASL.username,
  'sasl.password': SASL.password,
  'ssl.ca.location': STACK['KAFKA_CA_FILE'],
};
/** @platformatic/kafka's connection options (ConnectionOptions: tls, sasl). */
const PLATFORMATIC_SECURITY = { tls: ADMIN.ssl, sasl: { mechanism: 'SCRAM-SHA-512', ...SASL } };
const PARTITIONS = 6;
const BATCH = 1_000;
const VALUE_BYTES = 1_024;
const MAX_BYTES_PER_PARTITION = 1_048_576;
const MAX_BYTES = 10_485_760;
const MAX_WAIT_MS = 1_000;
/** Retries: the same backoff for all (librdkafka's default retry.backoff.ms); a new transaction that meets the previous
 * one still completing (CONCURRENT_TRANSACTIONS) waits this long. Defaults: kafkajs 300 ms, @platformatic/kafka 1 s. */
const RETRY_MS = 100;
const RETRIES = 10;
const CHILD_TIMEOUT_MS = 240_000;
const CLIENTS = ['kafkajs', 'platformatic', 'confluent'] as const;
type ClientName = (typeof CLIENTS)[number];
const PACKAGES: Record<ClientName, string> = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka', confluent: '@confluentinc/kafka-javascript' };
const candidates = createRequire(join(import.meta.dirname, 'kafka-clients', 'package.json'));

// ------------------------------------------------------------------ data and measures, the same for every client
interface Plan {
  readonly run: string;
  readonly round: number;
  readonly records: number;
  readonly transactions: number;
  readonly perTransaction: number;
  readonly sourceTopic: string;
  readonly txInputTopic: string;
}

const key = (i: number): Buffer => Buffer.from(`${i.toString(16).padStart(8, '0')}-0000-4000-8000-${(i * 7919).toString(16).padStart(12, '0').slice(-12)}`);
const VALUES = Array.from({ length: 64 }, (_, i) => Buffer.alloc(VALUE_BYTES, (i * 37) % 251));
const value = (i: number): Buffer => VALUES[i % VALUES.length] as Buffer;
const produceTopic = (plan: Plan, client: string): string => `idsync.bench.clients.${plan.run}.produce.${client}`;
const txOutputTopic = (plan: Plan, client: string, protocol: string): string => `idsync.bench.clients.${plan.run}.txout.${client}.${protocol}`;
const group = (plan: Plan, client: string, what: string): string => `idsync.bench.clients.${plan.run}.r${plan.round}.${client}.${what}`;

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);
}

/** TCP connections of this process to the broker port (from /proc: socket inodes of our fds in /proc/net/tcp*). */
function brokerConnections(): number {
  const port = Number(BROKERS[0]?.split(':')[1] ?? 9092)
    .toString(16)
    .toUpperCase()
    .padStart(4, '0');
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let count = 0;
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[2]?.endsWith(`:${port}`) && cols[3] === '01' && inodes.has(cols[9] as string)) count += 1;
    }
  }
  return count;
}

interface TxResult {
  readonly ms: number;
  readonly joinMs: number;
  readonly transactions: number;
  readonly records: number;
  readonly latenciesMs: number[];
  readonly connections: number;
}

interface Figures {
  client: string;
  version: string;
  error?: string;
  produce?: { ms: number; records: number; connections: number };
  tx?: TxResult | { error: string };
  consume?: { ms: number; joinMs: number; records: number; connections: number };
  kip848?: TxResult | { error: string };
  checkpoint?: { written: string; readByKafkajs: string | null } | { error: string };
  /** A checkpoint written the product's way (kafkajs), read back with the client: what a switch starts from. */
  existingCheckpoint?: { written: string; readByClient: string | null } | { error: string };
  memory?: { rssMb: number; heapMb: number; maxRssMb: number };
  notes?: string[];
}

/**
 * Per-partition buffers flushed as one transaction every M records: the same transactions whatever the client's
 * fetch sizes (each partition of the input holds a multiple of M records).
 */
class Chunker<T> {
  private readonly buffers = new Map<number, T[]>();
  private readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  add(partition: number, item: T): T[] | undefined {
    const buffer = this.buffers.get(partition) ?? [];
    buffer.push(item);
    this.buffers.set(partition, buffer);
    if (buffer.length < this.size) return undefined;
    this.buffers.set(partition, []);
    return buffer;
  }
}

class TxMeter {
  readonly latencies: number[] = [];
  records = 0;
  first = 0;
  last = 0;
  started = performance.now();
  joined = 0;
  seen(): void {
    if (this.first === 0) {
      this.first = performance.now();
      this.joined = this.first - this.started;
    }
  }
  async measure(records: number, work: () => Promise<void>): Promise<void> {
    const t = performance.now();
    await work();
    this.last = performance.now();
    this.latencies.push(this.last - t);
    this.records += records;
  }
  result(connections: number): TxResult {
    return { ms: this.last - this.first, joinMs: this.joined, transactions: this.latencies.length, records: this.records, latenciesMs: this.latencies, connections };
  }
}

/** An error with what the clients nest in it (AggregateError.errors, cause, Kafka error codes). */
function describeError(error: unknown, depth = 0): string {
  const e = error as { message?: string; code?: string | number; apiCode?: number; errors?: unknown[]; cause?: unknown; response?: unknown };
  let text = `${e.message ?? String(error)}${e.code !== undefined ? ` [${String(e.code)}]` : ''}${e.apiCode !== undefined ? ` [api ${String(e.apiCode)}]` : ''}`;
  if (depth < 3) {
    const nested = [...(Array.isArray(e.errors) ? e.errors : []), ...(e.cause ? [e.cause] : [])];
    const inner = [...new Set(nested.map((n) => describeError(n, depth + 1)))];
    if (inner.length > 0) text += ` <- ${inner.join('; ')}`;
  }
  return text;
}

const transform = (v: Buffer | null | undefined): Buffer => Buffer.from(v ?? Buffer.alloc(0));

function waitFor(condition: () => boolean, what: string, timeoutMs = 180_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

// ------------------------------------------------------------------ the clients
interface ClientBench {
  readonly version: string;
  readonly notes?: string[];
  produce(topic: string, records: number): Promise<{ ms: number; connections: number }>;
  transactions(plan: Plan, protocol: 'classic' | 'consumer'): Promise<TxResult>;
  consume(plan: Plan): Promise<{ ms: number; joinMs: number; records: number; connections: number }>;
  checkpoint(plan: Plan, groupId: string, topic: string, metadata: string): Promise<string | null>;
  /** The metadata committed for partition 0 of topic, read with the client's own admin API. */
  readCheckpoint(groupId: string, topic: string): Promise<string | null>;
}

const kafkajsOf = (clientId: string): Kafka => new Kafka({ clientId, brokers: BROKERS, ...KAFKAJS_SECURITY, logLevel: logLevel.NOTHING, retry: { initialRetryTime: RETRY_MS, retries: RETRIES } });

async function kafkajsCheckpointRead(groupId: string, topic: string): Promise<string | null> {
  const admin = kafkajsOf('bench-clients-reader').admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets?.partitions.find((p) => p.partition === 0)?.metadata ?? null;
  } finally {
    await admin.disconnect();
  }
}

function kafkajsBench(): ClientBench {
  const version = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;
  return {
    version,
    async produce(topic, records) {
      const producer = kafkajsOf('bench-clients-kafkajs').producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await producer.connect();
      const started = performance.now();
      for (let sent = 0; sent < records; sent += BATCH) {
        const messages = Array.from({ length: Math.min(BATCH, records - sent) }, (_, j) => ({ key: key(sent + j), value: value(sent + j) }));
        await producer.send({ topic, acks: -1, messages });
      }
      const ms = performance.now() - started;
      const connections = brokerConnections();
      await producer.disconnect();
      return { ms, connections };
    },
    async transactions(plan, protocol) {
      if (protocol === 'consumer') throw new Error('not supported: kafkajs 2.2.4 has no ConsumerGroupHeartbeat (KIP-848), only JoinGroup/SyncGroup');
      const kafka = kafkajsOf('bench-clients-kafkajs');
      const output = txOutputTopic(plan, 'kafkajs', protocol);
      const groupId = group(plan, 'kafkajs', `tx-${protocol}`);
      const producer = kafka.producer({ transactionalId: groupId, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      const consumer = kafka.consumer({ groupId, readUncommitted: false, maxBytesPerPartition: MAX_BYTES_PER_PARTITION, maxBytes: MAX_BYTES, maxWaitTimeInMs: MAX_WAIT_MS });
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [plan.txInputTopic], fromBeginning: true });
      const meter = new TxMeter();
      const chunker = new Chunker<{ key: Buffer | null; value: Buffer | null; offset: string }>(plan.perTransaction);
      const total = plan.transactions * plan.perTransaction;
      void consumer.run({
        autoCommit: false,
        eachBatch: async (payload) => {
          const { batch } = payload;
          meter.seen();
          for (const message of batch.messages) {
            const chunk = chunker.add(batch.partition, message);
            if (!chunk) continue;
            await meter.measure(chunk.length, async () => {
              const transaction = await producer.transaction();
              await transaction.send({ topic: output, acks: -1, messages: chunk.map((m) => ({ key: m.key, value: transform(m.value) })) });
              const next = (BigInt(chunk.at(-1)?.offset ?? '0') + 1n).toString();
              await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
              await transaction.commit();
            });
            await payload.heartbeat();
          }
        },
      });
      await waitFor(() => meter.records >= total, 'kafkajs transactions');
      const connections = brokerConnections();
      await consumer.disconnect();
      await producer.disconnect();
      return meter.result(connections);
    },
    async consume(plan) {
      const consumer = kafkajsOf('bench-clients-kafkajs').consumer({
        groupId: group(plan, 'kafkajs', 'consume'),
        readUncommitted: false,
        maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
        maxBytes: MAX_BYTES,
        maxWaitTimeInMs: MAX_WAIT_MS,
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [plan.sourceTopic], fromBeginning: true });
      const started = performance.now();
      let first = 0;
      let last = 0;
      let records = 0;
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (first === 0) first = performance.now();
          for (const message of batch.messages) if (message.value !== null) records += 1;
          last = performance.now();
        },
      });
      await waitFor(() => records >= plan.records, 'kafkajs consume');
      const connections = brokerConnections();
      await consumer.disconnect();
      return { ms: last - first, joinMs: first - started, records, connections };
    },
    async checkpoint(_plan, groupId, topic, metadata) {
      // The detectors' way (libs/platform change-publisher.ts): metadata passed through sendOffsets (kafkajs types omit it).
      const producer = kafkajsOf('bench-clients-kafkajs').producer({ transactionalId: `${groupId}.writer`, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const transaction = await producer.transaction();
      await transaction.send({ topic, acks: -1, messages: [{ key: 'checkpoint', value: metadata }] });
      await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: '0', metadata } as never] }] });
      await transaction.commit();
      await producer.disconnect();
      return kafkajsCheckpointRead(groupId, topic);
    },
    readCheckpoint: kafkajsCheckpointRead,
  };
}

async function platformaticBench(): Promise<ClientBench> {
  const main = candidates.resolve('@platformatic/kafka');
  const lib: any = await import(pathToFileURL(main).href);
  // Its "exports" hides package.json: read it beside dist/.
  const version = (JSON.parse(readFileSync(join(main.slice(0, main.lastIndexOf('/dist/')), 'package.json'), 'utf8')) as { version: string }).version;
  // Its retryDelay is fixed (1 s by default): a transaction begun while the previous one is still completing waits it
  // whole on CONCURRENT_TRANSACTIONS. librdkafka retries that one after 20 ms; a migration would do the same.
  const concurrent = (error: unknown): boolean => {
    const e = error as { apiCode?: number; errors?: unknown[]; cause?: unknown };
    return e.apiCode === 51 || (e.errors ?? []).some(concurrent) || (e.cause !== undefined && concurrent(e.cause));
  };
  // Those waits can last a few hundred ms (seen here up to ~1 s): 20 ms for up to 50 attempts, RETRY_MS otherwise.
  const retryDelay = (_client: unknown, _operation: string, _attempt: number, _retries: number, error: unknown): number => (concurrent(error) ? 20 : RETRY_MS);
  const base = { clientId: 'bench-clients-platformatic', bootstrapBrokers: BROKERS, ...PLATFORMATIC_SECURITY, retries: 50, retryDelay };
  // The Java/kafkajs-compatible murmur2 (its default partitioner differs for half of the keys, see the README).
  const producerOptions = { ...base, idempotent: true, acks: lib.ProduceAcks.ALL, partitioner: lib.compatibilityPartitioner, autocreateTopics: false };
  const consumerOptions = (groupId: string, protocol: 'classic' | 'consumer'): Record<string, unknown> => ({
    ...base,
    groupId,
    ...(protocol === 'consumer' ? { groupProtocol: 'consumer' } : {}),
    autocommit: false,
    isolationLevel: lib.FetchIsolationLevels.READ_COMMITTED,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    maxBytes: MAX_BYTES,
    maxWaitTime: MAX_WAIT_MS,
  });
  const keys = Array.from({ length: 10_000 }, (_, i) => key(i));
  const moved = keys.filter((k) => lib.defaultPartitioner(undefined, k) % PARTITIONS !== lib.compatibilityPartitioner(undefined, k) % PARTITIONS).length;
  return {
    version,
    notes: [`its default partitioner puts ${fmt((100 * moved) / keys.length, 1)}% of the bench's keys on another of ${PARTITIONS} partitions than kafkajs/Java (compatibilityPartitioner used here)`],
    async produce(topic, records) {
      const producer = new lib.Producer(producerOptions);
      const started = performance.now();
      for (let sent = 0; sent < records; sent += BATCH) {
        const messages = Array.from({ length: Math.min(BATCH, records - sent) }, (_, j) => ({ topic, key: key(sent + j), value: value(sent + j) }));
        await producer.send({ messages });
      }
      const ms = performance.now() - started;
      const connections = brokerConnections();
      await producer.close();
      return { ms, connections };
    },
    async transactions(plan, protocol) {
      const output = txOutputTopic(plan, 'platformatic', protocol);
      const groupId = group(plan, 'platformatic', `tx-${protocol}`);
      const producer = new lib.Producer({ ...producerOptions, transactionalId: groupId });
      const consumer = new lib.Consumer(consumerOptions(groupId, protocol));
      const meter = new TxMeter();
      const stream = await consumer.consume({ topics: [plan.txInputTopic], mode: lib.MessagesStreamModes.COMMITTED, fallbackMode: lib.MessagesStreamFallbackModes.EARLIEST, autocommit: false });
      const chunker = new Chunker<any>(plan.perTransaction);
      const total = plan.transactions * plan.perTransaction;
      for await (const message of stream) {
        meter.seen();
        const chunk = chunker.add(message.partition, message);
        if (!chunk) continue;
        await meter.measure(chunk.length, async () => {
          const transaction = await producer.beginTransaction();
          try {
            await transaction.send({ messages: chunk.map((m: any) => ({ topic: output, key: m.key, value: transform(m.value) })) });
            await transaction.addConsumer(consumer);
            await transaction.addOffset(chunk.at(-1)); // TxnOffsetCommit with the consumer's generation and member id (KIP-447)
            await transaction.commit();
          } catch (error) {
            await transaction.abort().catch(() => undefined);
            throw error;
          }
        });
        if (meter.records >= total) break;
      }
      const connections = brokerConnections();
      await stream.close();
      await consumer.close();
      await producer.close();
      return meter.result(connections);
    },
    async consume(plan) {
      const consumer = new lib.Consumer(consumerOptions(group(plan, 'platformatic', 'consume'), 'classic'));
      const started = performance.now();
      const stream = await consumer.consume({ topics: [plan.sourceTopic], mode: lib.MessagesStreamModes.EARLIEST, autocommit: false });
      let first = 0;
      let records = 0;
      for await (const message of stream) {
        if (first === 0) first = performance.now();
        if (message.value !== undefined && message.value !== null) records += 1;
        if (records >= plan.records) break;
      }
      const last = performance.now();
      const connections = brokerConnections();
      await stream.close();
      await consumer.close();
      return { ms: last - first, joinMs: first - started, records, connections };
    },
    async checkpoint() {
      throw new Error(
        'not possible through its API: Transaction.addOffset() takes a message read by a member of the group and sends TxnOffsetCommit without committed_metadata; consumer.commit() and admin.alterConsumerGroupOffsets() take no metadata either',
      );
    },
    async readCheckpoint(groupId, topic) {
      const admin = new lib.Admin(base);
      try {
        const groups = await admin.listConsumerGroupOffsets({ groups: [groupId] });
        const found = [...(groups.values?.() ?? groups)] as any[];
        return found[0]?.topics?.find((t: any) => t.name === topic)?.partitions?.find((p: any) => p.partitionIndex === 0)?.metadata ?? null;
      } finally {
        await admin.close();
      }
    },
  };
}

async function confluentBench(): Promise<ClientBench> {
  const lib: any = candidates('@confluentinc/kafka-javascript');
  const version = `${(candidates('@confluentinc/kafka-javascript/package.json') as { version: string }).version} (librdkafka ${lib.librdkafkaVersion as string})`;
  const { Kafka: CKafka, logLevel: clogLevel } = lib.KafkaJS;
  const kafka = new CKafka({
    kafkaJS: { clientId: 'bench-clients-confluent', brokers: BROKERS, ...KAFKAJS_SECURITY, logLevel: clogLevel.NOTHING, retry: { initialRetryTime: RETRY_MS, retries: RETRIES } },
  });
  const consumerOf = (groupId: string, protocol: 'classic' | 'consumer'): any =>
    kafka.consumer({
      kafkaJS: { groupId, fromBeginning: true, autoCommit: false, readUncommitted: false, maxBytesPerPartition: MAX_BYTES_PER_PARTITION, maxBytes: MAX_BYTES, maxWaitTimeInMs: MAX_WAIT_MS },
      'js.consumer.max.batch.size': -1, // batches as large as what has been fetched, like kafkajs (default 32)
      ...(protocol === 'consumer' ? { 'group.protocol': 'consumer' } : {}),
    });
  return {
    version,
    async produce(topic, records) {
      const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1, allowAutoTopicCreation: false } });
      await producer.connect();
      const started = performance.now();
      for (let sent = 0; sent < records; sent += BATCH) {
        const messages = Array.from({ length: Math.min(BATCH, records - sent) }, (_, j) => ({ key: key(sent + j), value: value(sent + j) }));
        await producer.send({ topic, messages });
      }
      const ms = performance.now() - started;
      const connections = brokerConnections();
      await producer.disconnect();
      return { ms, connections };
    },
    async transactions(plan, protocol) {
      const output = txOutputTopic(plan, 'confluent', protocol);
      const groupId = group(plan, 'confluent', `tx-${protocol}`);
      const producer = kafka.producer({ kafkaJS: { transactionalId: groupId, idempotent: true, acks: -1, allowAutoTopicCreation: false } });
      const consumer = consumerOf(groupId, protocol);
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [plan.txInputTopic] });
      const meter = new TxMeter();
      const chunker = new Chunker<any>(plan.perTransaction);
      const total = plan.transactions * plan.perTransaction;
      void consumer.run({
        eachBatch: async ({ batch }: any) => {
          meter.seen();
          for (const message of batch.messages) {
            const chunk = chunker.add(batch.partition, message);
            if (!chunk) continue;
            await meter.measure(chunk.length, async () => {
              const transaction = await producer.transaction();
              try {
                await transaction.send({ topic: output, messages: chunk.map((m: any) => ({ key: m.key, value: transform(m.value) })) });
                const next = (BigInt(chunk.at(-1).offset) + 1n).toString();
                // The consumer itself (its group metadata: generation, member id; KIP-447), not a group id.
                await transaction.sendOffsets({ consumer, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
                await transaction.commit();
              } catch (error) {
                await transaction.abort().catch(() => undefined);
                throw error;
              }
            });
          }
        },
      });
      await waitFor(() => meter.records >= total, 'confluent transactions');
      const connections = brokerConnections();
      await consumer.disconnect();
      await producer.disconnect();
      return meter.result(connections);
    },
    async consume(plan) {
      const consumer = consumerOf(group(plan, 'confluent', 'consume'), 'classic');
      await consumer.connect();
      await consumer.subscribe({ topics: [plan.sourceTopic] });
      const started = performance.now();
      let first = 0;
      let last = 0;
      let records = 0;
      void consumer.run({
        eachBatch: async ({ batch }: any) => {
          if (first === 0) first = performance.now();
          for (const message of batch.messages) if (message.value !== null) records += 1;
          last = performance.now();
        },
      });
      await waitFor(() => records >= plan.records, 'confluent consume');
      const connections = brokerConnections();
      await consumer.disconnect();
      return { ms: last - first, joinMs: first - started, records, connections };
    },
    async checkpoint(_plan, groupId, topic, metadata) {
      // The KafkaJS-compatible sendOffsets drops metadata (and wants a consumer); the node-rdkafka API keeps it.
      const { Producer, KafkaConsumer } = lib;
      const call = (fn: (cb: (error: Error | null | undefined) => void) => void): Promise<void> => new Promise((resolve, reject) => fn((error) => (error ? reject(error) : resolve())));
      const producer = new Producer({ 'bootstrap.servers': BROKERS.join(','), ...RDKAFKA_SECURITY, 'transactional.id': `${groupId}.writer`, 'enable.idempotence': true, dr_cb: false });
      const consumer = new KafkaConsumer({ 'bootstrap.servers': BROKERS.join(','), ...RDKAFKA_SECURITY, 'group.id': groupId, 'enable.auto.commit': false }, {});
      await call((cb) => producer.connect({}, cb));
      await call((cb) => consumer.connect({}, cb));
      await call((cb) => producer.initTransactions(10_000, cb));
      await call((cb) => producer.beginTransaction(cb));
      producer.produce(topic, 0, Buffer.from(metadata), 'checkpoint');
      await call((cb) => producer.sendOffsetsToTransaction([{ topic, partition: 0, offset: 0, metadata }], consumer, 10_000, cb));
      await call((cb) => producer.commitTransaction(10_000, cb));
      await call((cb) => producer.disconnect(cb));
      await call((cb) => consumer.disconnect(cb));
      return kafkajsCheckpointRead(groupId, topic);
    },
    async readCheckpoint(groupId, topic) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return offsets?.partitions.find((p: any) => p.partition === 0)?.metadata ?? null;
      } finally {
        await admin.disconnect();
      }
    },
  };
}

// ------------------------------------------------------------------ child: one client, all phases, JSON on stdout
async function child(client: ClientName, plan: Plan): Promise<void> {
  const figures: Figures = { client, version: '' };
  let bench: ClientBench;
  try {
    bench = client === 'kafkajs' ? kafkajsBench() : client === 'platformatic' ? await platformaticBench() : await confluentBench();
  } catch (error) {
    figures.error = `not installed or not loadable (${PACKAGES[client]}): ${(error as Error).message.split('\n')[0] ?? ''}`;
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return;
  }
  figures.version = bench.version;
  if (bench.notes) figures.notes = bench.notes;
  const produced = await bench.produce(produceTopic(plan, client), plan.records);
  figures.produce = { ...produced, records: plan.records };
  figures.tx = await bench.transactions(plan, 'classic').catch((error: unknown) => ({ error: describeError(error) }));
  figures.consume = await bench.consume(plan);
  gc();
  const m = process.memoryUsage();
  figures.memory = { rssMb: Math.round(m.rss / 1e6), heapMb: Math.round(m.heapUsed / 1e6), maxRssMb: Math.round(process.resourceUsage().maxRSS / 1e3) };
  figures.kip848 = await bench.transactions(plan, 'consumer').catch((error: unknown) => ({ error: describeError(error) }));
  const checkpointGroup = group(plan, client, 'checkpoint');
  const written = JSON.stringify({ position: `cookie-${client}-${plan.run}`, server: 'dc1.example.test' });
  figures.checkpoint = await bench
    .checkpoint(plan, checkpointGroup, `idsync.bench.clients.${plan.run}.checkpoints`, written)
    .then((readByKafkajs) => ({ written, readByKafkajs }))
    .catch((error: unknown) => ({ error: describeError(error) }));
  const existingGroup = group(plan, client, 'existing-checkpoint');
  const existing = JSON.stringify({ position: `cookie-kafkajs-for-${client}-${plan.run}`, server: 'dc1.example.test' });
  figures.existingCheckpoint = await kafkajsBench()
    .checkpoint(plan, existingGroup, `idsync.bench.clients.${plan.run}.checkpoints`, existing)
    .then(() => bench.readCheckpoint(existingGroup, `idsync.bench.clients.${plan.run}.checkpoints`))
    .then((readByClient) => ({ written: existing, readByClient }))
    .catch((error: unknown) => ({ error: describeError(error) }));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

// ------------------------------------------------------------------ parent: topics, data, children, table
async function prepare(plan: Plan, clients: readonly ClientName[]): Promise<void> {
  const kafka = kafkajsOf('bench-clients-setup');
  const admin = kafka.admin();
  await admin.connect();
  const topic = (name: string, partitions = PARTITIONS): { topic: string; numPartitions: number; replicationFactor: number } => ({ topic: name, numPartitions: partitions, replicationFactor: 1 });
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      topic(plan.sourceTopic),
      topic(plan.txInputTopic),
      topic(`idsync.bench.clients.${plan.run}.checkpoints`, 1),
      ...clients.flatMap((c) => [topic(produceTopic(plan, c)), topic(txOutputTopic(plan, c, 'classic')), topic(txOutputTopic(plan, c, 'consumer'))]),
    ],
  });
  await admin.disconnect();
  // The consume source: written in transactions of 1,000 (what read_committed consumers of the product read).
  const txProducer = kafka.producer({ transactionalId: `idsync.bench.clients.${plan.run}.setup`, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await txProducer.connect();
  for (let sent = 0; sent < plan.records; sent += BATCH) {
    const transaction = await txProducer.transaction();
    await transaction.send({ topic: plan.sourceTopic, acks: -1, messages: Array.from({ length: Math.min(BATCH, plan.records - sent) }, (_, j) => ({ key: key(sent + j), value: value(sent + j) })) });
    await transaction.commit();
  }
  await txProducer.disconnect();
  // The transactions' input: the same number of records in every partition, a multiple of M.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const total = plan.transactions * plan.perTransaction;
  for (let sent = 0; sent < total; sent += BATCH) {
    await producer.send({
      topic: plan.txInputTopic,
      acks: -1,
      messages: Array.from({ length: Math.min(BATCH, total - sent) }, (_, j) => ({ key: key(sent + j), value: value(sent + j), partition: (sent + j) % PARTITIONS })),
    });
  }
  await producer.disconnect();
}

/** Committed offsets of a group on the transactions' input, summed: every record processed exactly once = N x M. */
async function committedTotal(groupId: string, topic: string): Promise<number> {
  const admin = kafkajsOf('bench-clients-check').admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The groups' types as the broker lists them (classic / consumer), through @platformatic/kafka's Admin when installed. */
async function describeGroupTypes(run: string): Promise<string | undefined> {
  try {
    const lib = (await import(pathToFileURL(candidates.resolve('@platformatic/kafka')).href)) as {
      Admin: new (o: object) => { listGroups(o: object): Promise<Map<string, { groupType?: string }>>; close(): Promise<void> };
    };
    const admin = new lib.Admin({ clientId: 'bench-clients-groups', bootstrapBrokers: BROKERS, ...PLATFORMATIC_SECURITY });
    try {
      const groups = await admin.listGroups({ types: ['classic', 'consumer'] });
      return [...groups.entries()]
        .filter(([id]) => id.includes(`.${run}.r0.`) && id.includes('.tx-'))
        .map(([id, g]) => `${id.slice(id.indexOf(run) + run.length + 4)}=${g.groupType ?? '?'}`)
        .sort()
        .join(', ');
    } finally {
      await admin.close();
    }
  } catch (error) {
    return `not listed (${(error as Error).message})`;
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? (sorted[(sorted.length - 1) / 2] as number) : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
};
/** median (min–max) over the rounds; one round: the value. */
function spread(values: readonly number[], digits = 0, unit = ''): string {
  if (values.length === 0) return '-';
  const m = `${fmt(median(values), digits)}${unit}`;
  const [min, max] = [fmt(Math.min(...values), digits), fmt(Math.max(...values), digits)];
  return min === max ? m : `${m} (${min}–${max})`;
}
const ok = <T extends object>(x: T | { error: string } | undefined): x is T => x !== undefined && !('error' in x);
const firstError = (xs: readonly (object | undefined)[]): string | undefined => (xs.find((x) => x !== undefined && 'error' in x) as { error: string } | undefined)?.error;
const short = (text: string, n = 70): string => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function txCells(txs: readonly (TxResult | { error: string } | undefined)[]): [string, string] {
  const error = firstError(txs);
  if (error) return [`fails: ${short(error)}`, '-'];
  const runs = txs.filter(ok);
  const sorted = runs.map((t) => [...t.latenciesMs].sort((a, b) => a - b));
  return [
    `${spread(runs.map((t) => t.records / (t.ms / 1000)))} rec/s`,
    `${spread(
      sorted.map((l) => percentile(l, 0.5)),
      1,
    )} / ${spread(
      sorted.map((l) => percentile(l, 0.99)),
      0,
    )} ms`,
  ];
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(process.argv[3] as ClientName, JSON.parse(process.argv[4] ?? '{}') as Plan);
    process.exit(0); // a client's leftover timers must not keep the child alive
  }
  const records = Number(process.argv[2] ?? 100_000);
  const transactions = Number(process.argv[3] ?? 300);
  const perTransaction = Number(process.argv[4] ?? 100);
  const clients = (process.argv[5] ?? CLIENTS.join(',')).split(',').filter((c): c is ClientName => (CLIENTS as readonly string[]).includes(c));
  const rounds = Number(process.argv[6] ?? 3);
  if (transactions % PARTITIONS !== 0) throw new Error(`N (${transactions}) must be a multiple of the ${PARTITIONS} partitions`);
  const run = Date.now().toString(36);
  const base = { run, records, transactions, perTransaction, sourceTopic: `idsync.bench.clients.${run}.source`, txInputTopic: `idsync.bench.clients.${run}.txin` };
  console.log(
    `kafka-clients: ${BROKERS.join(',')}, ${PARTITIONS} partitions, ${VALUE_BYTES} B values; produce/consume ${fmt(records)} records (batches of ${BATCH}); ${transactions} transactions x ${perTransaction} records; clients: ${clients.join(', ')}; ${rounds} round(s), the order rotating`,
  );
  const setupStart = Date.now();
  await prepare({ ...base, round: 0 }, clients);
  console.log(`topics ${run} prepared in ${((Date.now() - setupStart) / 1000).toFixed(1)} s`);
  const self = fileURLToPath(import.meta.url);
  const results = new Map<ClientName, Figures[]>(clients.map((c) => [c, []]));
  for (let round = 0; round < rounds; round++) {
    const plan: Plan = { ...base, round };
    const order = clients.map((_, i) => clients[(i + round) % clients.length] as ClientName);
    for (const client of order) {
      const started = Date.now();
      const out = spawnSync(process.execPath, [self, '--child', client, JSON.stringify(plan)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: CHILD_TIMEOUT_MS });
      let figures: Figures;
      try {
        figures = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '') as Figures;
      } catch {
        figures = { client, version: '?', error: `child failed (status ${out.status}, signal ${out.signal}): ${out.stderr.trim().split('\n').slice(-3).join(' | ')}` };
      }
      if (ok(figures.tx)) {
        const committed = await committedTotal(group(plan, client, 'tx-classic'), plan.txInputTopic);
        if (committed !== transactions * perTransaction) figures.tx = { error: `committed input offsets sum to ${committed}, expected ${transactions * perTransaction}` };
      }
      results.get(client)?.push(figures);
      console.log(`round ${round + 1} ${client}: ${((Date.now() - started) / 1000).toFixed(1)} s${figures.error ? ` (${figures.error})` : ''}`);
      if (figures.error) break;
    }
  }
  const groupTypes = await describeGroupTypes(run);

  const mb = (records * (VALUE_BYTES + 36)) / 1e6;
  console.log(
    `\n${rounds > 1 ? 'median (min–max) of the rounds' : 'one round'}; transactions: read → produce + sendOffsets → commit, per-transaction latency p50 / p99; consume: read_committed from the beginning`,
  );
  console.log(
    '\n| Client | Produce rec/s | MB/s | Transactions | tx p50 / p99 | Consume rec/s | RSS / heap after, peak RSS (MB) | KIP-848 transactions | Detector checkpoint in offset metadata: written by the client, read by kafkajs; written by kafkajs, read by the client |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [client, runs] of results) {
    const failed = runs.find((f) => f.error);
    if (failed) {
      console.log(`| ${client} | ${failed.error ?? ''} | | | | | | | |`);
      continue;
    }
    const version = runs[0]?.version ?? '';
    const produces = runs.map((f) => f.produce).filter((x) => x !== undefined);
    const [tx, txLatency] = txCells(runs.map((f) => f.tx));
    const consumes = runs.map((f) => f.consume).filter((x) => x !== undefined);
    const memories = runs.map((f) => f.memory).filter((x) => x !== undefined);
    const [kip848, kip848Latency] = txCells(runs.map((f) => f.kip848));
    const checkpoints = runs.map((f) => f.checkpoint);
    const checkpointError = firstError(checkpoints);
    const readBack = checkpoints.filter(ok).find((c) => c.readByKafkajs !== c.written);
    const written = checkpointError ? `fails: ${short(checkpointError, 60)}` : readBack ? `differs: ${JSON.stringify(readBack.readByKafkajs?.slice(-12))}` : 'round-trips';
    const existingError = firstError(runs.map((f) => f.existingCheckpoint));
    const existingBack = runs
      .map((f) => f.existingCheckpoint)
      .filter(ok)
      .find((c) => c.readByClient !== c.written);
    const existing = existingError ? `fails: ${short(existingError, 40)}` : existingBack ? `differs: ${JSON.stringify(existingBack.readByClient?.slice(-12))}` : 'same';
    const checkpoint = `written: ${written}; kafkajs's read: ${existing}`;
    console.log(
      `| ${client} ${version} | ${spread(produces.map((p) => p.records / (p.ms / 1000)))} | ${spread(
        produces.map((p) => mb / (p.ms / 1000)),
        1,
      )} | ${tx} | ${txLatency} | ${spread(consumes.map((c) => c.records / (c.ms / 1000)))} | ${spread(memories.map((m) => m.rssMb))} / ${spread(memories.map((m) => m.heapMb))}, ${spread(memories.map((m) => m.maxRssMb))} | ${kip848}${kip848Latency === '-' ? '' : `, ${kip848Latency}`} | ${checkpoint} |`,
    );
  }
  console.log('');
  for (const [client, runs] of results) {
    const last = runs.at(-1);
    if (!last || last.error) continue;
    const joins = runs
      .flatMap((f) => [ok(f.tx) ? f.tx.joinMs : undefined, f.consume?.joinMs])
      .filter((x) => x !== undefined)
      .map((ms) => ms / 1000);
    console.log(
      `${client}: TCP connections to the broker at the end of produce/transactions/consume ${last.produce?.connections ?? '-'}/${ok(last.tx) ? last.tx.connections : '-'}/${last.consume?.connections ?? '-'}; first record after subscribing ${spread(joins, 2)} s`,
    );
    for (const note of last.notes ?? []) console.log(`${client}: ${note}`);
    for (const [what, error] of [
      ['transactions', firstError(runs.map((f) => f.tx))],
      ['KIP-848', firstError(runs.map((f) => f.kip848))],
      ['checkpoint', firstError(runs.map((f) => f.checkpoint))],
    ] as const) {
      if (error) console.log(`${client} ${what}: ${error}`);
    }
    const readBack = runs
      .map((f) => f.checkpoint)
      .filter(ok)
      .find((c) => c.readByKafkajs !== c.written);
    if (readBack) console.log(`${client} checkpoint: wrote ${JSON.stringify(readBack.written)}, kafkajs admin.fetchOffsets read ${JSON.stringify(readBack.readByKafkajs)}`);
    const existingBack = runs
      .map((f) => f.existingCheckpoint)
      .filter(ok)
      .find((c) => c.readByClient !== c.written);
    const existingError = firstError(runs.map((f) => f.existingCheckpoint));
    if (existingBack) console.log(`${client} reading a checkpoint kafkajs wrote ${JSON.stringify(existingBack.written)}: ${JSON.stringify(existingBack.readByClient)}`);
    if (existingError) console.log(`${client} reading a checkpoint kafkajs wrote: ${existingError}`);
  }
  if (groupTypes) console.log(`group types on the broker (ListGroups): ${groupTypes}`);
}

await main();
