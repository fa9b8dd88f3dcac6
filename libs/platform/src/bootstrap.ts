import 'reflect-metadata';
import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, withheldVariable, type ServiceName, type SyncConfig } from '@idsync/config';
import { JsonLogger } from './logger';
import { Metrics, MetricsModule } from './metrics';
import { watchMemory } from './memory';
import { Tracing } from './tracing';
import { SecretRedactor } from './redact';
import { useSchemaRegistry } from './schema-registry';

export interface ServiceContext {
  readonly name: ServiceName;
  readonly config: SyncConfig;
  readonly configFile: string;
  readonly logger: JsonLogger;
  /** The service's metrics, served at GET /metrics (with the `service` label and Node.js process metrics). */
  readonly metrics: Metrics;
  /** Spans per stage and change (config.tracing; off: the trace context only travels on the records). */
  readonly tracing: Tracing;
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
 * Starts one service: configuration first (an invalid one, or one whose credentials this service uses are not all
 * set, exits with status 1 before anything connects), then the Nest application with its health endpoint on the
 * service's port. Credentials of the other services need not be in this one's environment (a Secret per service).
 */
export async function runService(name: ServiceName, root: (context: ServiceContext) => DynamicModule): Promise<void> {
  let config: SyncConfig;
  let configFile: string;
  let withheld: readonly string[];
  try {
    ({ config, file: configFile, withheld } = loadConfig(process.env, undefined, { reader: name }));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = new JsonLogger(name, config.logLevel, new SecretRedactor(configSecrets(config)));
  routeProcessWarnings(logger);
  try {
    // The schema ids records carry come first: nothing is encoded or decoded before them.
    await useSchemaRegistry(config.kafka, logger);
  } catch (error) {
    logger.event('error', 'schema-registry.refused', { error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  const metrics = new Metrics({ service: name, defaultMetrics: true });
  const releases = metrics.counter('idsync_process_memory_releases_total', 'Times the process gave back memory V8 kept after a spike (resident memory beyond its heap and external memory)');
  watchMemory({
    onRelease: (gap) => {
      releases.inc();
      logger.event('info', 'process.memory.released', { keptBytes: gap });
    },
  });
  const tracing = await Tracing.start(config.tracing, name, logger);
  const module = root({ name, config, configFile, logger, metrics, tracing });
  const app = await NestFactory.create({ ...module, imports: [...(module.imports ?? []), MetricsModule.forMetrics(metrics), TracingModule.forTracing(tracing)] }, { logger, abortOnError: false });
  app.enableShutdownHooks();
  const { httpPort } = config.services[name];
  await app.listen(httpPort, config.http.host);
  logger.event('info', 'service.started', { config: configFile, health: `http://${config.http.host}:${httpPort}/health`, ...(withheld.length > 0 ? { notGiven: withheld } : {}) });
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
