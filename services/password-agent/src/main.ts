/**
 * The password agent as a process beside the Samba DC (root). Minimal runner until libs/config knows
 * `services.password-agent` and `secrets` (then: runService with health and metrics like the other services).
 */
import { loadConfig } from '@idsync/config';
import { configSecrets, createKafka, createProducer, JsonLogger, Metrics, namedDirectory, SecretRedactor } from '@idsync/platform';
import { keyringFromConfig, type SecretsConfig } from '@idsync/secrets';
import { PasswordAgent, passwordAgentConfigSchema, SyncPasswordsRunError } from './agent';

async function main(): Promise<void> {
  const { config } = loadConfig(process.env);
  const logger = new JsonLogger('password-agent', config.logLevel, new SecretRedactor(configSecrets(config)));
  const settings = passwordAgentConfigSchema.parse((config.services as Record<string, unknown>)['password-agent']);
  const keys = (config as { secrets?: SecretsConfig }).secrets?.passwordKeys;
  if (keys === undefined) throw new Error('password-agent needs secrets.passwordKeys in the configuration');
  const directory = namedDirectory(config, settings.source);
  const kafka = createKafka(config.kafka, `${config.kafka.clientId}-password-agent`, logger);
  const producer = createProducer(kafka);
  await producer.connect();
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
    metrics: new Metrics(),
    initialSync: settings.initialSync,
    sambaTool: settings.sambaTool,
    ...(settings.filter ? { filter: settings.filter } : {}),
  });
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await agent.initialize();
  logger.event('info', 'service.started', { stateDir: settings.stateDir });
  let delay = settings.pollIntervalMs;
  while (!stopping) {
    try {
      await agent.runOnce();
      delay = settings.pollIntervalMs;
    } catch (error) {
      if (!(error instanceof SyncPasswordsRunError)) throw error;
      logger.event('error', 'password-agent.run-failed', { error: error.message });
      delay = Math.min(delay * 2, 60_000);
    }
    await new Promise((done) => setTimeout(done, delay));
  }
  await agent.close();
  await producer.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`password-agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
