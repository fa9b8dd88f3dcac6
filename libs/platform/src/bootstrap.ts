import 'reflect-metadata';
import { type DynamicModule, type INestApplication, Inject, type InjectionToken, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type CustomTransportStrategy } from '@nestjs/microservices';
import { ConfigError, loadConfig, withheldVariable, type ServiceName, type SyncConfig } from '@idsync/config';
import { JsonLogger } from './logger';
import { Metrics, MetricsModule } from './metrics';
import { watchMemory } from './memory';
import { Tracing } from './tracing';
import { SecretRedactor } from './redact';
import { useSchemaRegistry } from './schema-registry';
import { createKafka } from './kafka/client';

/**
 * Exit status of every service process (the five pipeline services and the password agent), for supervisors:
 * - 0: stopped by SIGTERM or SIGINT, after the graceful shutdown;
 * - 1: invalid configuration (before anything connects), a start that failed, a shutdown that failed, or a fatal stop
 *   (`<service>.fatal`: the consumer loop gave up, Kafka refused the account), its offsets uncommitted;
 * - 2: usage (command-line arguments the service does not take);
 * - 3: a detector or the password agent stopped for good (EXIT_DETECTOR_STOPPED, EXIT_AGENT_STOPPED).
 */
export const EXIT_STATUS = { stopped: 0, failed: 1, usage: 2, stoppedForGood: 3 } as const;

/** The programs runService starts: the pipeline services and the password agent. */
export type ServiceProgram = ServiceName | 'password-agent';

/**
 * Injection tokens of what the bootstrap provides to every service module (global): the configuration, the service
 * (name, configuration file, command line) and its Kafka client; JsonLogger, Metrics and Tracing are their own tokens.
 */
export const CONFIG = Symbol('idsync.config');
export const KAFKA = Symbol('idsync.kafka');
export const SERVICE = Symbol('idsync.service');

/** What `SERVICE` holds. */
export interface ServiceIdentity<Args = undefined> {
  readonly name: ServiceProgram;
  readonly configFile: string;
  /** The command line as `ServiceStartOptions.args` parsed it (undefined for services that take none). */
  readonly args: Args;
}

export interface ServiceStartOptions<Args> {
  /** The command line the service takes; anything `parse` refuses (null) prints `usage` and exits 2. Default: ignored. */
  readonly args?: { readonly parse: (argv: readonly string[]) => Args | null; readonly usage: string };
  /** The service's own configuration checks, before anything connects: a message is printed and the process exits 1. */
  readonly checkConfig?: (config: SyncConfig, file: string) => string | undefined;
  /**
   * A Nest transport provider (KafkaRecordLoopTransport) to connect as a microservice: its @EventPattern handlers are
   * registered before the application starts, so before its loop can hand over a record.
   */
  readonly transport?: InjectionToken<CustomTransportStrategy>;
}

/** What the start-up checks decided, before any connection: go on with the configuration, or exit with a message. */
export type StartupDecision<Args> =
  | { readonly kind: 'start'; readonly config: SyncConfig; readonly file: string; readonly withheld: readonly string[]; readonly args: Args }
  | { readonly kind: 'exit'; readonly status: (typeof EXIT_STATUS)['failed' | 'usage']; readonly message: string };

/** The start-up checks in order: command line (2), configuration (1), the service's own block (1). Never connects. */
export function startupDecision<Args>(name: ServiceProgram, env: NodeJS.ProcessEnv, argv: readonly string[], options: ServiceStartOptions<Args> = {}): StartupDecision<Args> {
  const args = options.args ? options.args.parse(argv) : undefined;
  if (args === null) return { kind: 'exit', status: EXIT_STATUS.usage, message: options.args?.usage ?? 'usage' };
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(env, undefined, { reader: name });
  } catch (error) {
    if (error instanceof ConfigError) return { kind: 'exit', status: EXIT_STATUS.failed, message: `${name}: ${error.message}` };
    throw error;
  }
  const problem = options.checkConfig?.(loaded.config, loaded.file) ?? (loaded.config.services[name] === undefined ? `${loaded.file} has no services.${name} block` : undefined);
  if (problem !== undefined) return { kind: 'exit', status: EXIT_STATUS.failed, message: `${name}: ${problem}` };
  return { kind: 'start', config: loaded.config, file: loaded.file, withheld: loaded.withheld, args: args as Args };
}

/** Every secret the configuration holds, so no log line can carry one (credentials withheld from it are none). */
export function configSecrets(config: SyncConfig): string[] {
  const secrets = Object.values(config.directories).map((d) => d.bindPassword);
  for (const service of ['ad-writer', 'ds-writer'] as const) {
    const password = config.services[service].bindPassword;
    if (password) secrets.push(password);
  }
  const sasl = config.kafka.sasl;
  if (sasl?.password !== undefined) secrets.push(sasl.password);
  for (const principal of Object.values(sasl?.principals ?? {})) secrets.push(principal.password);
  if (config.kafka.schemaRegistry?.password !== undefined) secrets.push(config.kafka.schemaRegistry.password);
  for (const key of [...(config.secrets?.passwordKeys?.keys ?? []), ...(config.secrets?.operationKeys?.keys ?? [])]) secrets.push(key.key);
  return secrets.filter((secret) => withheldVariable(secret) === undefined);
}

/**
 * Starts one service, the same way for all (see EXIT_STATUS): command line and configuration first (a refusal exits
 * 2 or 1 before anything connects; credentials of the other services need not be in this one's environment), then
 * the schema ids, metrics, tracing and the Nest application with its health endpoint on the service's port. SIGTERM
 * and SIGINT stop it through the Nest shutdown hooks; a fatal stop goes the same way (exitOnFatal).
 */
export async function runService<Args = undefined>(name: ServiceProgram, root: DynamicModule, options: ServiceStartOptions<Args> = {}): Promise<void> {
  const decision = startupDecision(name, process.env, process.argv.slice(2), options);
  if (decision.kind === 'exit') {
    process.stderr.write(`${decision.message}\n`);
    process.exit(decision.status);
  }
  const { config, file: configFile, withheld, args } = decision;
  const logger = new JsonLogger(name, config.logLevel, new SecretRedactor(configSecrets(config)));
  routeProcessWarnings(logger);
  try {
    // The schema ids records carry come first: nothing is encoded or decoded before them.
    await useSchemaRegistry(config.kafka, logger);
  } catch (error) {
    logger.event('error', 'schema-registry.refused', { error: error instanceof Error ? error.message : String(error) });
    process.exit(EXIT_STATUS.failed);
  }
  try {
    const metrics = new Metrics({ service: name, defaultMetrics: true });
    const releases = metrics.counter('idsync_process_memory_releases_total', 'Times the process gave back memory kept after a spike (resident memory beyond its used heap and external memory)');
    watchMemory({
      onRelease: (gap) => {
        releases.inc();
        logger.event('info', 'process.memory.released', { keptBytes: gap });
      },
    });
    const tracing = await Tracing.start(config.tracing, name, logger);
    const context = ServiceContextModule.forService({ name, configFile, args }, config, logger, metrics, tracing);
    const app = await NestFactory.create(
      { ...root, imports: [...(root.imports ?? []), context, MetricsModule.forMetrics(metrics), TracingModule.forTracing(tracing)] },
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest declares its options as a class (NestApplicationContextOptions) and takes a plain object
      { logger, abortOnError: false },
    );
    if (options.transport !== undefined) {
      app.connectMicroservice({ strategy: app.get(options.transport) });
      await app.startAllMicroservices();
    }
    stopOnSignals(app, logger);
    const httpPort = config.services[name]?.httpPort;
    await app.listen(httpPort ?? 0, config.http.host);
    logger.event('info', 'service.started', { config: configFile, health: `http://${config.http.host}:${httpPort}/health`, ...(withheld.length > 0 ? { notGiven: withheld } : {}) });
  } catch (error) {
    // A start that failed (a port in use, a module that would not build): nothing to shut down gracefully yet.
    process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_STATUS.failed);
  }
}

/** The service's context as global providers: its modules inject them (useFactory + inject, @Inject). */
@Module({})
class ServiceContextModule {
  static forService<Args>(service: ServiceIdentity<Args>, config: SyncConfig, logger: JsonLogger, metrics: Metrics, tracing: Tracing): DynamicModule {
    return {
      module: ServiceContextModule,
      global: true,
      providers: [
        { provide: SERVICE, useValue: service },
        { provide: CONFIG, useValue: config },
        { provide: JsonLogger, useValue: logger },
        { provide: Metrics, useValue: metrics },
        { provide: Tracing, useValue: tracing },
        // Made once, connected by whoever uses it first (createKafka does not connect).
        { provide: KAFKA, inject: [CONFIG, JsonLogger], useFactory: (c: SyncConfig, l: JsonLogger) => createKafka(c.kafka, service.name, l) },
      ],
      exports: [SERVICE, CONFIG, JsonLogger, Metrics, Tracing, KAFKA],
    };
  }
}

const TRACING = Symbol('TRACING');

/** Exports the spans still buffered when the service stops. */
@Injectable()
class TracingShutdown implements OnApplicationShutdown {
  constructor(@Inject(TRACING) private readonly tracing: Tracing) {}
  async onApplicationShutdown(): Promise<void> {
    await this.tracing.shutdown();
  }
}

@Module({})
class TracingModule {
  static forTracing(tracing: Tracing): DynamicModule {
    return { module: TracingModule, providers: [{ provide: TRACING, useValue: tracing }, { provide: Tracing, useValue: tracing }, TracingShutdown], exports: [Tracing] };
  }
}

/**
 * SIGTERM and SIGINT close the application (the Nest shutdown hooks: loops stopped, offsets committed, producers
 * flushed), then exit with process.exitCode: 0, or 1 when a fatal stop (exitOnFatal) raised the signal. Nest's own
 * enableShutdownHooks re-raises the signal instead, which loses that status.
 */
function stopOnSignals(app: INestApplication, logger: JsonLogger): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return; // a second signal while stopping changes nothing
    stopping = true;
    app.close().then(
      () => process.exit(),
      (error: unknown) => {
        logger.event('error', 'service.shutdown.failed', { error: error instanceof Error ? error.message : String(error) });
        process.exit(EXIT_STATUS.failed);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Process warnings go through the logger. kafkajs 2.2.4 schedules a timer with a negative delay on Node 24
 * (tulios/kafkajs#1751); Node already clamps it to 1 ms, which is what kafkajs meant, so that one is dropped.
 */
function routeProcessWarnings(logger: JsonLogger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    logger.event('warn', 'process.warning', { name: warning.name, warning: warning.message });
  });
}
