import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kafka } from 'kafkajs';
import { grantRunAcls, READER_MAX_WAIT_MS, stackKafka } from '../support/kafka';
import { parse, stringify } from 'yaml';
import { decodeDeadLetter, decodeLink, type DeadLetter, type EntryLink } from '@idsync/contracts';
import { loadConfig, type SyncConfig } from '@idsync/config';
import { KafkaClient, readRanges } from '@idsync/platform';
import { freePort, stackEnv } from '../support/local-stack';

/**
 * The five real services as child processes (node services/<name>/dist/main.js), on a configuration generated
 * from config/demo.yaml at test time and isolated from every other deployment on the same servers: topics
 * `idsync.e2e.<suffix>.*`, Kafka client id `idsync-e2e-<suffix>` (which namespaces the consumer groups), directory
 * names `ad<suffix>` / `ds<suffix>` (which namespace the detectors' checkpoints and transactional ids), free ports.
 */

export const SERVICES = ['ad-detector', 'ds-detector', 'mapper', 'ad-writer', 'ds-writer'] as const;
export type ServiceName = (typeof SERVICES)[number];
/** The sixth process, started only on request (it runs samba-tool as root beside the local Samba DC). */
export const PASSWORD_AGENT = 'password-agent' as const;
export type ProcessName = ServiceName | typeof PASSWORD_AGENT;
/** The stages that scale out (one consumer group per stage); a second replica of the mapper is `mapper#2`. */
export type ScalableService = 'mapper' | 'ad-writer' | 'ds-writer';
export type ReplicaName = `${ScalableService}#${number}`;
/** A process of the run: a service (its first replica), the password agent, or a further replica. */
export type RunningName = ProcessName | ReplicaName;

export interface PipelineOptions {
  /** Also start services/password-agent, with its own samba-tool cache under the run's directory. */
  readonly passwordAgent?: boolean;
  /** Start only these services now (the others can be started later with startService). Default: all five. */
  readonly only?: readonly ServiceName[];
  /** Environment for the services on top of the stack's (e.g. DS_URL through a fault test's proxy). */
  readonly env?: Readonly<Record<string, string>>;
  /** Settings merged into services' blocks of the configuration (e.g. a writer's dependencyWaitMs). */
  readonly services?: Readonly<Partial<Record<ServiceName, Readonly<Record<string, unknown>>>>>;
  /** Directories reached at another URL than the stack's (a test proxy in front of the server); plain ldap:// allowed. */
  readonly directoryUrls?: Readonly<Partial<Record<'ad' | 'ds', string>>>;
  /** Changes the demo pipes (as parsed from config/demo.yaml, before the run's renaming) in place. */
  readonly pipes?: (pipes: DemoPipe[]) => void;
  /** kafka.schemaRegistry for the run (registry mode: records carry the registry's schema ids). */
  readonly schemaRegistry?: Readonly<Record<string, unknown>>;
  /** Top-level settings of the run's configuration (logLevel, tracing...), set as given. */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** A pipe of config/demo.yaml as YAML gives it: names and keys as written, `${VARIABLES}` not replaced yet. */
export interface DemoPipe {
  name: string;
  source: string;
  destination: string;
  syncClasses: { name: string; includeFilter?: string; attributeMappings?: Record<string, unknown>[]; [key: string]: unknown }[];
  [key: string]: unknown;
}

const ROOT = join(__dirname, '..', '..', '..');
/** kafka.consumerSessionTimeoutMs of every run (the product's default is 30 s). */
const TEST_SESSION_TIMEOUT_MS = 10_000;

interface Running {
  process: ChildProcess;
  exited: Promise<number | null>;
}

/** Fails with a clear message when the services were not built (npm test builds them before jest). */
export function requireBuiltServices(names: readonly ProcessName[] = SERVICES): void {
  const missing = names.filter((name) => !existsSync(join(ROOT, 'services', name, 'dist', 'main.js')));
  if (missing.length > 0) {
    throw new Error(`services not built (${missing.join(', ')}): run \`tsc -b tsconfig.build.json\` (npm test does it before jest)`);
  }
}

/** Whether a child has ended, by an exit status or by a signal (a service's fatal exit goes through SIGTERM). */
function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitText(child: ChildProcess): string {
  return child.exitCode !== null ? `status ${child.exitCode}` : `signal ${child.signalCode ?? '?'}`;
}

/** The demo configuration text rewritten for an isolated run. Pure apart from the ports given. */
export function isolatedConfig(
  demoYaml: string,
  suffix: string,
  ports: Readonly<Partial<Record<ProcessName, number>>>,
  agent?: { readonly stateDir: string },
  settings: Readonly<Partial<Record<ServiceName, Readonly<Record<string, unknown>>>>> = {},
  directoryUrls: Readonly<Partial<Record<string, string>>> = {},
): { yaml: string; directories: Record<string, string>; topics: Record<string, string>; brokers: string[]; clientId: string } {
  const doc = parse(demoYaml) as {
    kafka: { brokers: string[]; clientId?: string; consumerSessionTimeoutMs?: number; topics: Record<string, { name: string }> };
    directories: Record<string, { urls?: string[]; startTls?: boolean; allowInsecure?: boolean }>;
    services: Record<string, { httpPort?: number; source?: string; destination?: string; stateDir?: string }>;
    pipes?: { source: string; destination: string }[];
  };
  doc.kafka.clientId = `idsync-e2e-${suffix}`;
  // A killed consumer's partitions stay unread for its session: tests kill many, and wait 10 s instead of 30.
  doc.kafka.consumerSessionTimeoutMs = TEST_SESSION_TIMEOUT_MS;
  for (const topic of Object.values(doc.kafka.topics)) topic.name = topic.name.replace(/^idsync\./, `idsync.e2e.${suffix}.`);
  const renamed: Record<string, string> = {};
  doc.directories = Object.fromEntries(
    Object.entries(doc.directories).map(([name, block]) => {
      renamed[name] = `${name}${suffix}`;
      const url = directoryUrls[name];
      if (url !== undefined) Object.assign(block, { urls: [url], startTls: false, allowInsecure: url.toLowerCase().startsWith('ldap://') });
      return [`${name}${suffix}`, block];
    }),
  );
  const rename = (name: string | undefined): string | undefined => (name === undefined ? undefined : (renamed[name] ?? name));
  // The agent's block stays only when this run starts it, with its own samba-tool cache (its DirSync position).
  const agentBlock = doc.services[PASSWORD_AGENT];
  if (agentBlock !== undefined && agent !== undefined && ports[PASSWORD_AGENT] !== undefined) agentBlock.stateDir = agent.stateDir;
  else delete doc.services[PASSWORD_AGENT];
  for (const [name, block] of Object.entries(doc.services)) {
    Object.assign(block, settings[name as ServiceName] ?? {});
    block.httpPort = ports[name as ProcessName];
    if (block.source !== undefined) block.source = rename(block.source);
    if (block.destination !== undefined) block.destination = rename(block.destination);
  }
  for (const pipe of doc.pipes ?? []) {
    pipe.source = rename(pipe.source) as string;
    pipe.destination = rename(pipe.destination) as string;
  }
  const topics = Object.fromEntries(Object.entries(doc.kafka.topics).map(([key, topic]) => [key, topic.name]));
  return { yaml: stringify(doc), directories: renamed, topics, brokers: doc.kafka.brokers, clientId: doc.kafka.clientId };
}

export class Pipeline {
  private readonly running = new Map<RunningName, Running>();
  /** Further replicas, each with its own configuration file (the same but for its HTTP port). */
  private readonly replicas = new Map<ReplicaName, { port: number; configFile: string }>();
  private readonly env: NodeJS.ProcessEnv;
  private starts = 0;
  private aclsGranted = false;

  private constructor(
    readonly suffix: string,
    readonly dir: string,
    readonly configFile: string,
    readonly ports: Readonly<Partial<Record<ProcessName, number>>>,
    readonly processes: readonly ProcessName[],
    readonly topics: Readonly<Record<string, string>>,
    readonly clientId: string,
    env: Readonly<Record<string, string>> = {},
  ) {
    this.env = { ...process.env, ...stackEnv(), ...env, IDSYNC_CONFIG: configFile };
  }

  /**
   * Writes the isolated configuration, starts the five services (and the password agent when asked) and waits
   * until all are ready and streaming.
   */
  static async start(suffix: string, timeoutMs = 90_000, options: PipelineOptions = {}): Promise<Pipeline> {
    const processes: ProcessName[] = options.passwordAgent ? [...SERVICES, PASSWORD_AGENT] : [...SERVICES];
    requireBuiltServices(processes);
    const dir = mkdtempSync(join(tmpdir(), `idsync-e2e-${suffix}-`));
    const ports: Partial<Record<ProcessName, number>> = {};
    for (const name of processes) ports[name] = await freePort();
    let demo = readFileSync(join(ROOT, 'config', 'demo.yaml'), 'utf8');
    if (options.pipes !== undefined || options.schemaRegistry !== undefined || options.settings !== undefined) {
      const doc = parse(demo) as { pipes: DemoPipe[]; kafka: Record<string, unknown> } & Record<string, unknown>;
      options.pipes?.(doc.pipes);
      if (options.schemaRegistry !== undefined) doc.kafka['schemaRegistry'] = options.schemaRegistry;
      Object.assign(doc, options.settings);
      demo = stringify(doc);
    }
    const agent = options.passwordAgent ? { stateDir: join(dir, 'password-agent') } : undefined;
    const { yaml, topics, clientId } = isolatedConfig(demo, suffix, ports, agent, options.services, options.directoryUrls);
    if (options.passwordAgent && !/^\s{2}password-agent:/m.test(yaml)) throw new Error('config/demo.yaml has no services.password-agent block');
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, yaml);
    const pipeline = new Pipeline(suffix, dir, configFile, ports, processes, topics, clientId, options.env);
    try {
      // Each service connects with its own Kafka account: the run's ACLs, as `idsync kafka-acls --apply` gives them.
      await grantRunAcls(pipeline.config);
      pipeline.aclsGranted = true;
      const first = processes.filter((name) => name === PASSWORD_AGENT || options.only === undefined || options.only.includes(name));
      for (const name of first) pipeline.spawn(name);
      await Promise.all(first.map((name) => pipeline.waitReady(name, timeoutMs)));
    } catch (error) {
      await pipeline.stop();
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${pipeline.tails()}`, { cause: error });
    }
    return pipeline;
  }

  private spawn(name: RunningName): void {
    this.starts += 1;
    const log = openSync(join(this.dir, `${name}.log`), 'a');
    const service = name.split('#')[0] as ProcessName;
    const replica = this.replicas.get(name as ReplicaName);
    const env = replica ? { ...this.env, IDSYNC_CONFIG: replica.configFile } : this.env;
    const child = spawn(process.execPath, [join(ROOT, 'services', service, 'dist', 'main.js')], { env, stdio: ['ignore', log, log] });
    closeSync(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    this.running.set(name, { process: child, exited });
  }

  /** Ready: /health answers ok (every probe up) and a detector's stream has its starting position. */
  /** The HTTP port (health, metrics) of a process of the run. */
  port(name: RunningName): number | undefined {
    return this.replicas.get(name as ReplicaName)?.port ?? this.ports[name as ProcessName];
  }

  /**
   * Starts one more replica of a stage (same consumer group, its own HTTP port) and waits until it is ready; in
   * Kubernetes terms, scaling the deployment up by one.
   */
  async addReplica(service: ScalableService, timeoutMs = 90_000): Promise<ReplicaName> {
    let n = 2;
    while (this.replicas.has(`${service}#${n}`)) n++;
    const name: ReplicaName = `${service}#${n}`;
    const port = await freePort();
    const doc = parse(readFileSync(this.configFile, 'utf8')) as { services: Record<string, { httpPort?: number }> };
    const block = doc.services[service];
    if (!block) throw new Error(`the configuration has no services.${service} block`);
    block.httpPort = port;
    const configFile = join(this.dir, `config-${service}-${n}.yaml`);
    writeFileSync(configFile, stringify(doc));
    this.replicas.set(name, { port, configFile });
    this.spawn(name);
    await this.waitReady(name, timeoutMs);
    return name;
  }

  /** Every process of the run: the services, the agent when started, and further replicas. */
  private get names(): RunningName[] {
    return [...this.processes, ...this.replicas.keys()];
  }

  async waitReady(name: RunningName, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      const running = this.running.get(name);
      if (running !== undefined && exited(running.process)) throw new Error(`${name} exited with ${exitText(running.process)} while starting`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.port(name)}/health`, { signal: AbortSignal.timeout(5_000) });
        const body = (await response.json()) as { status?: string; info?: Record<string, { state?: string }> };
        last = JSON.stringify(body);
        const streaming = name === 'ad-detector' || name === 'ds-detector' ? body.info?.['detector']?.state === 'streaming' : true;
        if (response.ok && body.status === 'ok' && streaming) return;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(250);
    }
    throw new Error(`${name} not ready after ${timeoutMs} ms: ${last}`);
  }

  /** SIGKILL: no shutdown hook runs, nothing is committed on the way out. */
  async kill(name: RunningName): Promise<void> {
    const running = this.running.get(name);
    if (!running) return;
    running.process.kill('SIGKILL');
    await running.exited;
    this.running.delete(name);
  }

  /** Starts a service that is not running and waits until it is ready. */
  async startService(name: RunningName, timeoutMs = 90_000): Promise<void> {
    if (this.running.has(name)) throw new Error(`${name} is already running`);
    this.spawn(name);
    await this.waitReady(name, timeoutMs);
  }

  /** Starts a service that is not running, without waiting for it (a fault test kills it while it starts). */
  launch(name: RunningName): void {
    if (this.running.has(name)) throw new Error(`${name} is already running`);
    this.spawn(name);
  }

  /** Graceful stop of one service (SIGTERM: it finishes its batch and commits). */
  async stopService(name: RunningName): Promise<void> {
    const running = this.running.get(name);
    if (!running) return;
    if (!exited(running.process)) running.process.kill('SIGTERM');
    const timer = setTimeout(() => running.process.kill('SIGKILL'), 15_000);
    await running.exited;
    clearTimeout(timer);
    this.running.delete(name);
  }

  /** The process id of a running service (fault tests count its sockets). */
  pid(name: RunningName): number | undefined {
    return this.running.get(name)?.process.pid;
  }

  isRunning(name: RunningName): boolean {
    const running = this.running.get(name);
    return running !== undefined && !exited(running.process);
  }

  async restart(name: RunningName, timeoutMs = 90_000): Promise<void> {
    await this.kill(name);
    this.spawn(name);
    await this.waitReady(name, timeoutMs);
  }

  /** The service's /metrics; with `only`, those metrics alone (GET /metrics?name=…). */
  async metrics(name: RunningName, only: readonly string[] = []): Promise<string> {
    const query = only.map((metric) => `name=${encodeURIComponent(metric)}`).join('&');
    const response = await fetch(`http://127.0.0.1:${this.port(name)}/metrics${query ? `?${query}` : ''}`, { signal: AbortSignal.timeout(5_000) });
    return response.text();
  }

  /** Sum of a counter's samples whose labels contain every given label. */
  async counter(name: RunningName, metric: string, labels: Record<string, string> = {}): Promise<number> {
    return (await this.samples(name, metric, labels)).reduce((sum, sample) => sum + sample.value, 0);
  }

  /** A metric's samples (one per label set) whose labels contain every given label; `series` is the label text. */
  async samples(name: RunningName, metric: string, labels: Record<string, string> = {}): Promise<{ series: string; value: number }[]> {
    // A histogram's series (_bucket, _sum, _count) are rendered under the histogram's name.
    const text = await this.metrics(name, [metric, metric.replace(/_(bucket|sum|count)$/, '')]);
    const found: { series: string; value: number }[] = [];
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
      if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
      found.push({ series: line.slice(metric.length, line.lastIndexOf(' ')), value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
    }
    return found;
  }

  /** Every record on the run's dead-letter topic (whichever stage wrote it), read from the beginning. */
  async deadLetters(timeoutMs = 15_000): Promise<DeadLetter[]> {
    const topic = this.topics['deadLetter'];
    if (topic === undefined) throw new Error('the configuration names no dead-letter topic');
    const kafka = stackKafka(`${this.clientId}-e2e-reader`);
    const admin = kafka.admin();
    await admin.connect();
    let total = 0;
    try {
      for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
    } finally {
      await admin.disconnect();
    }
    if (total === 0) return [];
    const letters: DeadLetter[] = [];
    const consumer = kafka.consumer({ groupId: `${this.clientId}-e2e-reader-${Date.now()}`, maxWaitTimeInMs: READER_MAX_WAIT_MS });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void letters.push(decodeDeadLetter(message.value)) });
      const deadline = Date.now() + timeoutMs;
      while (letters.length < total && Date.now() < deadline) await sleep(200);
    } finally {
      await consumer.disconnect();
    }
    return letters;
  }

  /** The links on the run's links topic now (tombstones applied), by key. */
  async links(timeoutMs = 15_000): Promise<Map<string, EntryLink>> {
    const topic = this.topics['links'];
    if (topic === undefined) throw new Error('the configuration names no links topic');
    const kafka = this.kafka('links-reader');
    const admin = kafka.admin();
    await admin.connect();
    const remaining = new Map<number, bigint>();
    try {
      for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) remaining.set(p.partition, BigInt(p.high));
    } finally {
      await admin.disconnect();
    }
    const links = new Map<string, EntryLink>();
    if (remaining.size === 0) return links;
    const consumer = kafka.consumer({ groupId: `${this.clientId}-e2e-links-${Date.now()}`, maxWaitTimeInMs: READER_MAX_WAIT_MS });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const key = message.key?.toString('utf8') ?? '';
          if (message.value === null) links.delete(key);
          else links.set(key, decodeLink(message.value));
          if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n)) remaining.delete(partition);
        },
      });
      const deadline = Date.now() + timeoutMs;
      while (remaining.size > 0 && Date.now() < deadline) await sleep(200);
      if (remaining.size > 0) throw new Error(`could not read the links topic ${topic} to its end`);
    } finally {
      await consumer.disconnect();
    }
    return links;
  }

  /** Writes records to one of the run's topics (by configuration key), as anything that can reach Kafka could. */
  async produce(topicKey: string, messages: { key: string; value: Buffer | null; headers?: Record<string, string> }[]): Promise<void> {
    const topic = this.topics[topicKey];
    if (topic === undefined) throw new Error(`the configuration names no ${topicKey} topic`);
    const producer = this.kafka('forger').producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages });
    } finally {
      await producer.disconnect();
    }
  }

  /**
   * Every record of one of the run's topics (by configuration key) up to its end now, per partition in offset order.
   * Read committed, as the services read it: a transaction still open holds the read back until it ends.
   */
  async records(topicKey: string, options: { timeoutMs?: number } = {}): Promise<TopicRecord[]> {
    const topic = this.topics[topicKey];
    if (topic === undefined) throw new Error(`the configuration names no ${topicKey} topic`);
    const kafka = KafkaClient.wrap(this.kafka('reader'), { clientId: `${this.clientId}-e2e-reader` });
    const admin = kafka.admin();
    await admin.connect();
    const records: TopicRecord[] = [];
    try {
      const ranges = (await admin.topicOffsets(topic)).map((p) => ({ topic, partition: p.partition, from: p.low, to: p.high }));
      const results = await readRanges(kafka, admin, `${this.clientId}-e2e`, ranges, {
        timeoutMs: options.timeoutMs ?? 90_000,
        onRecord: (r) => void records.push({ partition: r.partition, offset: String(r.offset), key: r.key, value: r.value, headers: r.headers }),
      });
      const unfinished = [...results.entries()].filter(([, result]) => !result.complete).map(([range]) => `${range.topic}[${range.partition}]`);
      if (unfinished.length > 0) throw new Error(`could not read ${unfinished.join(', ')} to the end`);
    } finally {
      await admin.disconnect();
    }
    return records.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  }

  /**
   * Calls `onRecord` for every record that arrives on one of the run's topics from now on, read uncommitted (a record
   * is seen as soon as it is written, before its transaction ends). Resolves once the watcher is in place.
   */
  async watch(topicKey: string, onRecord: (record: TopicRecord) => void): Promise<{ stop: () => Promise<void> }> {
    const topic = this.topics[topicKey];
    if (topic === undefined) throw new Error(`the configuration names no ${topicKey} topic`);
    const consumer = this.kafka('watcher').consumer({ groupId: `${this.clientId}-e2e-watch-${Date.now()}`, readUncommitted: true, maxWaitTimeInMs: 100 });
    await consumer.connect();
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({ eachMessage: async ({ partition, message }) => onRecord({ partition, offset: message.offset, key: message.key, value: message.value }) });
    await joined;
    return { stop: () => consumer.disconnect() };
  }

  private kafka(role: string): Kafka {
    return stackKafka(`${this.clientId}-e2e-${role}`);
  }

  /**
   * Every record of every topic of the run (keys, values and header values as raw bytes), read from the beginning and
   * uncommitted: an aborted transaction's records stay on the broker's disk and are readable too.
   */
  async allRecords(timeoutMs = 30_000): Promise<{ topic: string; bytes: Buffer[] }[]> {
    const kafka = stackKafka(`${this.clientId}-e2e-scan`);
    const admin = kafka.admin();
    await admin.connect();
    const remaining = new Map<string, number>();
    try {
      const existing = new Set(await admin.listTopics());
      for (const topic of Object.values(this.topics)) {
        if (!existing.has(topic)) continue;
        for (const p of await admin.fetchTopicOffsets(topic)) {
          if (Number(p.high) > Number(p.low)) remaining.set(`${topic}/${p.partition}`, Number(p.high));
        }
      }
    } finally {
      await admin.disconnect();
    }
    const out = new Map<string, Buffer[]>(Object.values(this.topics).map((topic) => [topic, []]));
    if (remaining.size === 0) return [...out].map(([topic, bytes]) => ({ topic, bytes }));
    const consumer = kafka.consumer({ groupId: `${this.clientId}-e2e-scan-${Date.now()}`, readUncommitted: true, maxWaitTimeInMs: READER_MAX_WAIT_MS });
    // A partition is read once a fetched batch reaches its end. The batch's last offset counts transaction markers,
    // which are never delivered as messages, however many end the partition.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = `${payload.topic}/${payload.partition}`;
      const end = remaining.get(key);
      if (end !== undefined && Number(payload.lastOffset) + 1 >= end) remaining.delete(key);
    });
    await consumer.connect();
    try {
      const topics = [...new Set([...remaining.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))))];
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          const bytes = out.get(topic) as Buffer[];
          if (message.key) bytes.push(message.key);
          if (message.value) bytes.push(message.value);
          for (const header of Object.values(message.headers ?? {})) {
            for (const value of [header].flat()) if (value !== undefined) bytes.push(Buffer.from(value));
          }
        },
      });
      const deadline = Date.now() + timeoutMs;
      while (remaining.size > 0 && Date.now() < deadline) await sleep(200);
      if (remaining.size > 0) throw new Error(`could not read every record of the run's topics: ${[...remaining.keys()].join(', ')} unfinished`);
      await sleep(1_000); // a plain (non-transactional) last record right after the one that ended its partition
    } finally {
      await consumer.disconnect();
    }
    return [...out].map(([topic, bytes]) => ({ topic, bytes }));
  }

  /** Everything each process wrote to its stdout/stderr so far. */
  logs(): { name: RunningName; text: string }[] {
    return this.names.map((name) => {
      const file = join(this.dir, `${name}.log`);
      return { name, text: existsSync(file) ? readFileSync(file, 'utf8') : '' };
    });
  }

  /** Graceful stop (SIGTERM, then SIGKILL after 15 s). */
  async stop(): Promise<void> {
    await Promise.all([...this.running.keys()].map((name) => this.stopService(name)));
    if (this.aclsGranted) {
      this.aclsGranted = false;
      await grantRunAcls(this.config, true);
    }
  }

  /** The run's configuration as the services load it (every credential, as the CLI's tests need). */
  get config(): SyncConfig {
    return loadConfig(this.env, this.configFile).config;
  }

  /** Exit codes of services that died on their own (a crash is a failure of the run). */
  crashed(): string[] {
    return [...this.running.entries()].filter(([, r]) => exited(r.process)).map(([name, r]) => `${name} (${exitText(r.process)})`);
  }

  /** The last lines of every service's output, for a failed test. */
  tails(lines = 40): string {
    return this.names
      .map((name) => {
        const file = join(this.dir, `${name}.log`);
        const text = existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no output)';
        return `----- ${name} (${file}) -----\n${text}`;
      })
      .join('\n');
  }
}

/** One record of a run's topic, as a test reads it. */
export interface TopicRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Header values as text (records(); the watcher leaves them out). */
  readonly headers?: Readonly<Record<string, string>>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value `ok` accepts; fails with the last value seen. */
export async function eventually<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000, intervalMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: { error: unknown } | undefined;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      lastError = undefined;
      if (ok(last)) return last;
    } catch (error) {
      lastError = { error };
    }
    await sleep(intervalMs);
  }
  const seen = lastError !== undefined ? `error ${lastError.error instanceof Error ? lastError.error.message : String(lastError.error)}` : JSON.stringify(last);
  throw new Error(`${what}: not reached within ${timeoutMs} ms; last seen: ${seen}`);
}
