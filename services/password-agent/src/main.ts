/**
 * The password agent as a service beside the Samba DC (root): health on `services.password-agent.httpPort`, metrics,
 * graceful SIGTERM, started by runService like every service (exit statuses: EXIT_STATUS in libs/platform). Its own
 * checks run before anything connects: `--full-pass` only (else usage, exit 2), the agent's block, password keys and
 * source directory present (else exit 1).
 */
import { Module } from '@nestjs/common';
import { type SyncConfig } from '@idsync/config';
import { createKafka, kafkaProbe, namedDirectory, runService, ServiceModule } from '@idsync/platform';
import { keyringFromConfig } from '@idsync/secrets';
import { PasswordAgent } from './agent';
import { AgentLoop, agentLoopModule, agentProbe, parseAgentArguments, sambaPrerequisites, sambaProbe, USAGE } from './runner';

const NAME = 'password-agent';

@Module({})
class PasswordAgentModule {}

/** What the agent needs beyond a valid configuration; a message says what is missing. */
function checkAgentConfig(config: SyncConfig, file: string): string | undefined {
  const settings = config.services['password-agent'];
  if (settings === undefined) return `${file} has no services.password-agent block; the agent has nothing to do (see services/password-agent/README.md)`;
  if (config.secrets?.passwordKeys === undefined) return `${file} has no secrets.passwordKeys: the agent publishes passwords only sealed, and needs the key to seal them`;
  try {
    namedDirectory(config, settings.source);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return undefined;
}

void runService(
  NAME,
  ({ config, logger, metrics, args }) => {
    // Present: checkAgentConfig ran before.
    const settings = config.services['password-agent'] as NonNullable<SyncConfig['services']['password-agent']>;
    const keys = config.secrets?.passwordKeys as NonNullable<NonNullable<SyncConfig['secrets']>['passwordKeys']>;
    const directory = namedDirectory(config, settings.source);
    const prerequisites = sambaPrerequisites(settings);
    if (prerequisites.length > 0) logger.event('warn', 'password-agent.prerequisites', { problems: prerequisites });

    const kafka = createKafka(config.kafka, NAME, logger);
    const producer = kafka.producer();
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
    return {
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
        agentLoopModule(loop, logger),
      ],
    };
  },
  { args: { parse: parseAgentArguments, usage: USAGE }, checkConfig: checkAgentConfig },
);
