// Services of the pipeline as child processes on an isolated copy of config/demo.yaml: topics, consumer groups,
// checkpoints (directory names) and ports of their own, so a benchmark never disturbs the demo or the tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import configPkg from '@idsync/config';
import platformPkg from '@idsync/platform';
import { asKafkaAdmin, freePort, stackEnv, stackKafkaOptions } from '../../tests/integration/support/local-stack.ts';
import { type ConfigDocument } from './config-document.ts';

export const SERVICES = ['ad-detector', 'ds-detector', 'mapper', 'ad-writer', 'ds-writer'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const root = join(import.meta.dirname, '..', '..');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export { stackEnv, stackKafkaOptions };

type SyncConfig = ReturnType<typeof configPkg.parseConfig>;

/**
 * config/demo.yaml with the local stack's settings: the configuration the benchmarks run against. Code run inside a
 * benchmark connects to Kafka as the stack's administrator (its topics have no ACLs); the services it starts as
 * processes (IsolatedServices) connect with their own accounts and the run's ACLs.
 */
export function demoConfig(): SyncConfig {
  const env = stackEnv();
  return asKafkaAdmin(configPkg.parseConfig(readFileSync(join(root, 'config', 'demo.yaml'), 'utf8'), 'config/demo.yaml', env), env);
}

/** Gives (or takes back) the ACLs `idsync kafka-acls --apply` computes for `config`, as the stack's administrator. */
async function runAcls(config: SyncConfig, remove: boolean): Promise<void> {
  const admin = platformPkg.createKafka(asKafkaAdmin(config).kafka, 'cli', undefined, 'tool').admin();
  await admin.connect();
  try {
    const acls = configPkg.kafkaAcls(config);
    if (remove) await admin.deleteAcls(acls);
    else await admin.createAcls(acls);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The runtime environment the services run with: the image's (the Dockerfile's ENV NODE_OPTIONS, V8's heap sized for
 * the containers, and its allocator: jemalloc preloaded with MALLOC_CONF), so a benchmark measures the services as
 * they are deployed; then IDSYNC_BENCH_SERVICE_NODE_OPTIONS, for the services only (e.g. --heapsnapshot-signal=SIGUSR2).
 * IDSYNC_BENCH_GLIBC_MALLOC=1 leaves jemalloc out (glibc's malloc, as before 2026-12-02), to compare.
 */
export function serviceEnvironment(): Record<string, string> {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const image = (name: string): string => new RegExp(`^ENV ${name}="([^"]*)"`, 'm').exec(dockerfile)?.[1] ?? '';
  const env: Record<string, string> = { NODE_OPTIONS: [image('NODE_OPTIONS'), process.env['IDSYNC_BENCH_SERVICE_NODE_OPTIONS'] ?? ''].filter(Boolean).join(' ') };
  if (process.env['IDSYNC_BENCH_GLIBC_MALLOC'] === '1' || image('LD_PRELOAD') === '') return env;
  // The image's path is its own (a link to Debian's library); here the host's copy of the same package (389-ds needs it).
  const library = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].find((path) => existsSync(path));
  if (library === undefined) throw new Error('the image preloads jemalloc (Dockerfile, LD_PRELOAD): install libjemalloc2, or set IDSYNC_BENCH_GLIBC_MALLOC=1');
  return { ...env, LD_PRELOAD: library, MALLOC_CONF: image('MALLOC_CONF') };
}

/** Whether a service's process has ended: by its own exit (exitCode) or by a signal (signalCode; exitCode stays null). */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export class IsolatedServices {
  private readonly children = new Map<ServiceName, ChildProcess>();
  readonly dir: string;
  readonly configFile: string;
  readonly env: Record<string, string | undefined>;
  readonly ports: Record<ServiceName, number>;
  /** The isolated configuration, as the services load it (each with its own Kafka account). */
  config: SyncConfig | undefined;

  private constructor(dir: string, configFile: string, env: Record<string, string | undefined>, ports: Record<ServiceName, number>) {
    this.dir = dir;
    this.configFile = configFile;
    this.env = env;
    this.ports = ports;
  }

  /** Writes the isolated configuration (suffix `s` on topics, client id and directory names). */
  static async create(s: string, rewrite: (yaml: string) => string = (yaml) => yaml, adjust: (doc: ConfigDocument) => void = () => undefined): Promise<IsolatedServices> {
    const dir = mkdtempSync(join(tmpdir(), `idsync-bench-${s}-`));
    const ports = {} as Record<ServiceName, number>;
    for (const name of SERVICES) ports[name] = await freePort();
    const doc = YAML.parse(rewrite(readFileSync(join(root, 'config', 'demo.yaml'), 'utf8'))) as ConfigDocument;
    doc.logLevel = 'warn';
    doc.kafka.clientId = `idsync-bench-${s}`;
    delete doc.services['password-agent'];
    for (const topic of Object.values(doc.kafka.topics)) topic.name = topic.name.replace(/^idsync\./, `idsync.bench.${s}.`);
    const renamed: Record<string, string> = {};
    doc.directories = Object.fromEntries(Object.entries(doc.directories).map(([name, block]) => ((renamed[name] = `${name}${s}`), [`${name}${s}`, block])));
    for (const [name, block] of Object.entries(doc.services) as [ServiceName, { httpPort: number; source?: string; destination?: string }][]) {
      block.httpPort = ports[name];
      if (block.source) block.source = renamed[block.source] ?? block.source;
      if (block.destination) block.destination = renamed[block.destination] ?? block.destination;
    }
    for (const pipe of doc.pipes ?? []) {
      pipe.source = renamed[pipe.source] ?? pipe.source;
      pipe.destination = renamed[pipe.destination] ?? pipe.destination;
    }
    adjust(doc);
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, YAML.stringify(doc));
    const env = stackEnv();
    const services = new IsolatedServices(dir, configFile, { ...process.env, ...env, IDSYNC_CONFIG: configFile, ...serviceEnvironment() }, ports);
    services.config = configPkg.parseConfig(readFileSync(configFile, 'utf8'), configFile, env);
    await runAcls(services.config, false);
    return services;
  }

  async start(names: readonly ServiceName[]): Promise<void> {
    for (const name of names) {
      const log = openSync(join(this.dir, `${name}.log`), 'a');
      this.children.set(name, spawn(process.execPath, [join(root, 'services', name, 'dist', 'main.js')], { env: this.env, stdio: ['ignore', log, log] }));
      closeSync(log);
    }
    await Promise.all(names.map((name) => this.waitReady(name)));
  }

  /**
   * Throws when a started service has exited: a benchmark fails at once, with the reason from the service's log,
   * instead of waiting out its timeouts on a dead service (an ad-detector out of heap left one waiting 15 minutes).
   */
  assertRunning(): void {
    for (const [name, child] of this.children) {
      if (!hasExited(child)) continue;
      const file = join(this.dir, `${name}.log`);
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '');
      const reason = lines.findLast((line) => /fatal|error/i.test(line)) ?? lines.at(-1) ?? '(its log is empty)';
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while the benchmark needs it: ${reason.trim()} (log: ${file})`);
    }
  }

  private async waitReady(name: ServiceName, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.assertRunning();
      try {
        const response = await fetch(`http://127.0.0.1:${this.ports[name]}/health`, { signal: AbortSignal.timeout(5_000) });
        const body = (await response.json()) as { status?: string; info?: Record<string, { state?: string }> };
        // Older trees (compared in the same run) name the probe dirsync and the ds-detector's state running.
        const state = body.info?.['detector']?.state ?? body.info?.['dirsync']?.state;
        const streaming = name === 'ad-detector' || name === 'ds-detector' ? state === 'streaming' || state === 'running' : true;
        if (response.ok && body.status === 'ok' && streaming) return;
      } catch {
        // not up yet
      }
      await sleep(200);
    }
    throw new Error(`${name} not ready after ${timeoutMs} ms (logs in ${this.dir})`);
  }

  /** Sum of a counter's samples whose labels contain every given label. */
  async counter(name: ServiceName, metric: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.ports[name]}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** The process id of a running service. */
  pid(name: ServiceName): number {
    const pid = this.children.get(name)?.pid;
    if (pid === undefined) throw new Error(`${name} is not running`);
    return pid;
  }

  rssMb(name: ServiceName): number {
    const pid = this.children.get(name)?.pid;
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return Math.round(kb / 1024);
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (hasExited(child)) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.children.clear();
  }

  /** Stops the services for good and takes the run's ACLs back. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.config) await runAcls(this.config, true).catch(() => undefined);
    this.config = undefined;
  }
}
