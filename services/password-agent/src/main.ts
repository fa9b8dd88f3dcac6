/**
 * The password agent as a service beside the Samba DC (root): health on `services.password-agent.httpPort`, metrics,
 * graceful SIGTERM. Same start-up contract as runService (libs/platform), which only knows the five pipeline services:
 * configuration first (an invalid one, or one without the agent's block or password keys, exits 1 before anything
 * connects), then the Nest application.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type SyncConfig } from '@idsync/config';
import { configSecrets, createKafka, JsonLogger, kafkaProbe, Metrics, MetricsModule, namedDirectory, SecretRedactor, ServiceModule } from '@idsync/platform';
import { keyringFromConfig } from '@idsync/secrets';
import { PasswordAgent } from './agent';
import { AgentLoop, agentLoopModule, agentProbe, parseAgentArguments, sambaPrerequisites, sambaProbe, USAGE } from './runner';

const NAME = 'password-agent';

@Module({})
class PasswordAgentModule {}

function fail(message: string): never {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const args = parseAgentArguments(process.argv.slice(2));
  if (args === null) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  let config: SyncConfig;
  let configFile: string;
  try {
    ({ config, file: configFile } = loadConfig(process.env, undefined, { reader: NAME }));
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const settings = config.services['password-agent'];
  if (settings === undefined) fail(`${configFile} has no services.password-agent block; the agent has nothing to do (see services/password-agent/README.md)`);
  const keys = config.secrets?.passwordKeys;
  if (keys === undefined) fail(`${configFile} has no secrets.passwordKeys: the agent publishes passwords only sealed, and needs the key to seal them`);
  let directory;
  try {
    directory = namedDirectory(config, settings.source);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }

  const logger = new JsonLogger(NAME, config.logLevel, new SecretRedactor(configSecrets(config)));
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return; // kafkajs 2.2.4 on Node 24, see libs/platform bootstrap
    logger.event('warn', 'process.warning', { name: warning.name, warning: warning.message });
  });
  const prerequisites = sambaPrerequisites(settings);
  if (prerequisites.length > 0) logger.event('warn', 'password-agent.prerequisites', { problems: prerequisites });

  const kafka = createKafka(config.kafka, NAME, logger);
  const producer = kafka.producer();
  const metrics = new Metrics({ service: NAME, defaultMetrics: true });
  const agent = new PasswordAgent({
    directoryName: settings.source,
    server: directory.urls[0] ?? settings.source,
    smbConf: settings.smbConf,
    ldapiUrl: settings.ldapiUrl,
    stateDir: settings.stateDir,
    producer,
    topic: config.kafka.topics.adChanges.name,
    keyring: keyringFromConfig(keys),
    logger,
    metrics,
    initialSync: settings.initialSync,
    sambaTool: settings.sambaTool,
    // A password set with the account's create waits two ad-detector polls (+2 s) so the create reaches the writer first.
    settleMs: 2 * config.services['ad-detector'].pollIntervalMs + 2_000,
    ...(settings.filter ? { filter: settings.filter } : {}),
  });
  const loop = new AgentLoop(agent, producer, logger, { pollIntervalMs: settings.pollIntervalMs, fullPass: args.fullPass });

  const app = await NestFactory.create(
    {
      module: PasswordAgentModule,
      imports: [
        ServiceModule.create({
          logger,
          probes: [kafkaProbe(kafka, { intervalMs: config.http.probeIntervalMs }), sambaProbe(settings), agentProbe(loop)],
          event: 'password-agent.source',
          report: async () => ({
            directory: settings.source,
            smbConf: settings.smbConf,
            ldapi: settings.ldapiUrl,
            stateDir: settings.stateDir,
            topic: config.kafka.topics.adChanges.name,
            initialSync: settings.initialSync,
            fullPass: args.fullPass,
          }),
        }),
        MetricsModule.forMetrics(metrics),
        agentLoopModule(loop, logger),
      ],
    },
    { logger, abortOnError: false },
  );
  app.enableShutdownHooks();
  await app.listen(settings.httpPort, config.http.host);
  logger.event('info', 'service.started', { config: configFile, health: `http://${config.http.host}:${settings.httpPort}/health` });
}

main().catch((error: unknown) => {
  process.stderr.write(`${NAME}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
