/**
 * The password agent as a service beside the Samba DC (root): health on `services.password-agent.httpPort`, metrics,
 * graceful SIGTERM, started by runService like every service (exit statuses: EXIT_STATUS in libs/platform). Its own
 * checks run before anything connects: `--full-pass` only (else usage, exit 2), the agent's block, password keys and
 * source directory present (else exit 1).
 */
import { type SyncConfig } from '@idsync/config';
import { CONFIG, JsonLogger, KAFKA, kafkaProbe, type KafkaClient, Metrics, namedDirectory, runService, SERVICE, type ServiceIdentity, ServiceModule } from '@idsync/platform';
import { keyringFromConfig } from '@idsync/secrets';
import { PasswordAgent } from './agent';
import { AgentLoop, agentProbe, AgentRunner, parseAgentArguments, sambaPrerequisites, sambaProbe, USAGE } from './runner';

type AgentSettings = NonNullable<SyncConfig['services']['password-agent']>;
type AgentArgs = { fullPass: boolean };

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

/** The agent's block: present, checkAgentConfig ran before anything was built. */
const agentSettings = (config: SyncConfig): AgentSettings => config.services['password-agent'] as AgentSettings;

void runService<AgentArgs>(
  'password-agent',
  ServiceModule.forService({
    providers: [
      {
        provide: AgentLoop,
        inject: [CONFIG, KAFKA, JsonLogger, Metrics, SERVICE],
        useFactory: (config: SyncConfig, kafka: KafkaClient, logger: JsonLogger, metrics: Metrics, service: ServiceIdentity<AgentArgs>) => {
          const settings = agentSettings(config);
          const keys = config.secrets?.passwordKeys;
          if (keys === undefined) throw new Error('no secrets.passwordKeys'); // checked before start
          const prerequisites = sambaPrerequisites(settings);
          if (prerequisites.length > 0) logger.event('warn', 'password-agent.prerequisites', { problems: prerequisites });
          const producer = kafka.producer();
          const agent = new PasswordAgent({
            directoryName: settings.source,
            server: namedDirectory(config, settings.source).urls[0] ?? settings.source,
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
          return new AgentLoop(agent, producer, logger, { pollIntervalMs: settings.pollIntervalMs, fullPass: service.args.fullPass });
        },
      },
      AgentRunner,
    ],
    inject: [AgentLoop, KAFKA, CONFIG, SERVICE],
    parts: (loop: AgentLoop, kafka: KafkaClient, config: SyncConfig, service: ServiceIdentity<AgentArgs>) => {
      const settings = agentSettings(config);
      return {
        probes: [kafkaProbe(kafka, { intervalMs: config.http.probeIntervalMs }), sambaProbe(settings), agentProbe(loop)],
        event: 'password-agent.source',
        report: async () => ({
          directory: settings.source,
          smbConf: settings.smbConf,
          ldapi: settings.ldapiUrl,
          stateDir: settings.stateDir,
          topic: config.kafka.topics.adChanges.name,
          initialSync: settings.initialSync,
          fullPass: service.args.fullPass,
        }),
      };
    },
  }),
  { args: { parse: parseAgentArguments, usage: USAGE }, checkConfig: checkAgentConfig },
);
